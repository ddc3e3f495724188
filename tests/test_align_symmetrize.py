"""Symmetrisation heuristics on hand-made alignment matrices (Koehn et al., 2003)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.alignment.symmetrize import HEURISTICS, symmetrize


def links(matrix: str) -> set[tuple[int, int]]:
    """(source, target) links from rows of target words over source columns: 'x' a link."""
    rows = matrix.split()
    return {(s, t) for t, row in enumerate(rows) for s, c in enumerate(row) if c == "x"}


# Two directions that agree on the diagonal, each with one more link of its own.
FORWARD = links("x... .x.. .xx. ...x")  # target 2 also takes source 1
REVERSE = links("x... .x.. ..x. ..xx")  # target 3 also takes source 2


def test_intersection_and_union_are_the_set_operations():
    assert symmetrize(FORWARD, REVERSE, "intersect") == links("x... .x.. ..x. ...x")
    assert symmetrize(FORWARD, REVERSE, "union") == links("x... .x.. .xx. ..xx")


def test_grow_diag_adds_no_neighbour_whose_words_are_both_aligned():
    # Every word is aligned by the intersection already: nothing grows.
    assert symmetrize(FORWARD, REVERSE, "grow-diag") == links("x... .x.. ..x. ...x")


def test_grow_diag_adds_a_diagonal_neighbour_that_covers_an_unaligned_word():
    forward = links("x.. ... ..x")  # target 1 unaligned in the intersection
    reverse = links("x.. .x. ..x")
    assert symmetrize(forward, reverse, "intersect") == links("x.. ... ..x")
    assert symmetrize(forward, reverse, "grow-diag") == links("x.. .x. ..x")


def test_final_and_adds_a_far_link_only_when_both_its_words_are_unaligned():
    forward = links("x.... ..... ....x")
    reverse = links("x.... ..x.. ....x")  # 2-1: next to no intersection link, both words free
    assert symmetrize(forward, reverse, "grow-diag") == forward
    assert symmetrize(forward, reverse, "grow-diag-final-and") == reverse
    forward = links("x.... ..... ..... ....x")
    reverse = links("x.... ....x ..... ....x")  # 4-1: source 4 is aligned already, target 1 not
    assert symmetrize(forward, reverse, "grow-diag") == forward
    assert symmetrize(forward, reverse, "grow-diag-final-and") == forward
    assert symmetrize(forward, reverse, "grow-diag-final") == reverse


@pytest.mark.parametrize("heuristic", HEURISTICS)
def test_every_heuristic_lies_between_intersection_and_union(heuristic):
    out = symmetrize(FORWARD, REVERSE, heuristic)
    assert FORWARD & REVERSE <= out <= FORWARD | REVERSE
    assert symmetrize(FORWARD, FORWARD, heuristic) == FORWARD


def transpose(matrix: list[list[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*matrix, strict=True)]


def test_mean_keeps_what_one_direction_is_sure_of_and_the_other_allows():
    from nmt_cli.alignment.symmetrize import mean_links

    forward = [[0.9, 0.1, 0.0], [0.6, 0.4, 0.0]]  # target 1 leans on source 0
    reverse = transpose([[0.8, 0.2, 0.0], [0.1, 0.7, 0.2]])  # the reverse reads target 1 as source 1
    weights, found = mean_links(forward, reverse, 0.4)
    assert [w for row in weights for w in row] == pytest.approx([0.85, 0.15, 0.0, 0.35, 0.55, 0.1])
    assert found == {(0, 0), (1, 1)}  # (0, 1): one direction's 0.6, the other's 0.1 -> 0.35
    assert mean_links(forward, reverse, 0.3)[1] == {(0, 0), (0, 1), (1, 1)}


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_mean_of_agreeing_directions_is_each_direction(rows, cols, data):
    from nmt_cli.alignment.symmetrize import mean_links

    cell = st.floats(0, 1, allow_nan=False)
    forward = [[data.draw(cell) for _ in range(cols)] for _ in range(rows)]
    weights, found = mean_links(forward, transpose(forward), 0.4)
    assert [w for row in weights for w in row] == pytest.approx([w for row in forward for w in row])
    assert found == {(s, t) for t in range(rows) for s in range(cols) if forward[t][s] >= 0.4}


def test_a_pair_the_two_models_tokenise_differently_keeps_the_forward_links(caplog):
    """An over-long line is truncated by each model in its own way: that pair keeps the forward
    model's links with a warning, and the rest of the file is still symmetrised."""
    from nmt_cli.alignment.corpus import combine
    from nmt_cli.alignment.extract import Alignment

    def alignment(src, tgt, found):
        weights = [[1.0 / len(src)] * len(src) for _ in tgt]
        return Alignment(" ".join(src), " ".join(tgt), src, tgt, weights, [0.0] * len(tgt), found, None)

    forward = [
        alignment(["a", "b"], ["x", "y"], [(0, 0), (1, 1)]),
        alignment(["a", "b", "c"], ["x"], [(2, 0)]),
    ]
    reverse = [alignment(["x", "y"], ["a", "b"], [(0, 0)]), alignment(["x"], ["a"], [(0, 0)])]
    out = combine(forward, reverse, "intersect")
    assert [a.links for a in out] == [[(0, 0)], [(2, 0)]]
    assert "1 pair(s) came out of the two models as different tokens" in caplog.text
