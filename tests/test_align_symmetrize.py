"""Symmetrisation heuristics on hand-made alignment matrices (Koehn et al., 2003)."""

import pytest

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
