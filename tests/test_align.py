"""Alignments: (anti-)diagonals on toy tasks, subword merging, EOS handling, Pharaoh and JSON
output, the input and gold range checks of `nmt align`, and a heatmap that fits a fixed-width
console."""

import json

import pytest
import torch
from conftest import rnn_config
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from toy import train_toy

from nmt_cli.alignment.aer import parse_gold, within_gold_ranges
from nmt_cli.alignment.corpus import intersect
from nmt_cli.alignment.extract import (
    CONFIDENT,
    Alignment,
    align_pairs,
    drop_eos,
    hard_links,
    merge_pieces,
    to_json,
    to_pharaoh,
    word_groups,
    word_labels,
)
from nmt_cli.alignment.windows import split_pairs
from nmt_cli.cli.render import alignment_view
from nmt_cli.config import AttentionChoice, DecodeConfig
from nmt_cli.errors import NMTError


class ToyTokenizer:
    """Toy id k is the one-piece word `tk`, so toy id sequences read as sentences."""

    def encode_src(self, lines):
        return [[int(w[1:]) for w in line.split()] for line in lines]

    encode_tgt = encode_src

    def src_pieces(self, ids):
        return [f"▁t{i}" for i in ids]

    tgt_pieces = src_pieces

    def decode_tgt(self, ids):
        return [" ".join(f"t{i}" for i in s) for s in ids]


def as_text(ids):
    return " ".join(f"t{i}" for i in ids)


def diagonal_share(alignments, anti: bool) -> float:
    """Share of links on the (anti-)diagonal, over pairs of equal length."""
    hits = total = 0
    for a in alignments:
        n = len(a.src_tokens)
        if len(a.tgt_tokens) != n:
            continue
        want = {(n - 1 - j, j) if anti else (j, j) for j in range(n)}
        hits += len(want & set(a.links))
        total += n
    assert total > 0
    return hits / total


@pytest.fixture(scope="module")
def rnn_copy():
    # Luong scoring: with additive scoring, copying often learns to attend one token off.
    return train_toy(rnn_config(attention="general"), "copy", steps=300)


@pytest.mark.slow
def test_translated_reversal_aligns_on_the_anti_diagonal(rnn_reverse):
    model, pairs = rnn_reverse
    sources = [as_text(s) for s, _ in pairs[:100]]
    alignments = align_pairs(model, ToyTokenizer(), sources, decode_cfg=DecodeConfig(beam_size=3))
    assert diagonal_share(alignments, anti=True) >= 0.9
    assert all(a.score is not None and a.score < 0 for a in alignments)


@pytest.mark.slow
def test_forced_copy_aligns_on_the_diagonal(rnn_copy):
    model, pairs = rnn_copy
    sources, targets = [as_text(s) for s, _ in pairs[:100]], [as_text(t) for _, t in pairs[:100]]
    alignments = align_pairs(model, ToyTokenizer(), sources, targets)
    assert diagonal_share(alignments, anti=False) >= 0.9
    assert [a.target for a in alignments] == targets


@pytest.mark.slow
def test_transformer_reversal_aligns_on_the_anti_diagonal(transformer_reverse):
    model, pairs = transformer_reverse
    sources, targets = [as_text(s) for s, _ in pairs[:100]], [as_text(t) for _, t in pairs[:100]]
    alignments = align_pairs(model, ToyTokenizer(), sources, targets)
    assert diagonal_share(alignments, anti=True) >= 0.9


@pytest.mark.slow
def test_attention_is_read_where_the_model_was_trained_to_align(transformer_reverse):
    """align_shift models (guidance on the step reading each word) are read shifted unless
    --shift/--no-shift says otherwise; other models as before."""
    from dataclasses import replace

    model, pairs = transformer_reverse
    sources, targets = [as_text(s) for s, _ in pairs[:20]], [as_text(t) for _, t in pairs[:20]]

    def links(shift=None):
        return [a.links for a in align_pairs(model, ToyTokenizer(), sources, targets, shift=shift)]

    plain, shifted = links(False), links(True)
    assert plain != shifted and links() == plain
    saved = model.cfg
    model.cfg = replace(saved, align_shift=True)
    try:
        assert links() == shifted and links(False) == plain
    finally:
        model.cfg = saved


@pytest.mark.slow
def test_forced_score_prefers_the_right_target(rnn_reverse):
    model, pairs = rnn_reverse
    src, tgt = pairs[0]
    targets = [as_text(tgt), as_text(src[1:])]
    right, wrong = align_pairs(model, ToyTokenizer(), [as_text(src)] * 2, targets)
    assert right.score is not None and wrong.score is not None
    assert right.score > wrong.score


@pytest.mark.slow
def test_rows_are_distributions_and_eos_mass_is_reported(rnn_reverse):
    model, pairs = rnn_reverse
    (a,) = align_pairs(model, ToyTokenizer(), [as_text(pairs[0][0])], [as_text(pairs[0][1])])
    assert len(a.weights) == len(a.tgt_tokens) == len(a.eos_mass)
    for row in a.weights:
        assert len(row) == len(a.src_tokens)
        assert sum(row) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= m <= 1.0 for m in a.eos_mass)


@pytest.mark.slow
def test_empty_source_gives_an_empty_alignment(rnn_reverse):
    model, _ = rnn_reverse
    (a,) = align_pairs(model, ToyTokenizer(), [""])
    assert a.src_tokens == a.tgt_tokens == a.links == [] and a.score is None


@pytest.mark.slow
def test_layer_and_head_choose_the_transformer_attention(transformer_reverse):
    model, pairs = transformer_reverse
    src, tgt_in = torch.tensor([[5, 6, 7, 3]]), torch.tensor([[2, 7, 6, 5]])
    with torch.no_grad():
        _, mean = model(src, src != 0, tgt_in, True)
        _, last = model(src, src != 0, tgt_in, True, AttentionChoice(layer=-1, head=2))
        _, head2 = model(src, src != 0, tgt_in, True, AttentionChoice(layer=0, head=2))
    assert torch.equal(last, head2)  # -1 counts from the end of a one-layer decoder
    assert not torch.allclose(mean, head2)  # one head is not the mean over heads
    model.check_attention(AttentionChoice(-1, 2))
    with pytest.raises(NMTError):
        model.check_attention(AttentionChoice(1, None))
    with pytest.raises(NMTError):
        model.check_attention(AttentionChoice(None, 4))


@pytest.mark.slow
def test_layer_is_refused_for_an_rnn(rnn_reverse):
    with pytest.raises(NMTError, match="Transformer models only"):
        rnn_reverse[0].check_attention(AttentionChoice(0, None))


def test_drop_eos_renormalises_rows_over_real_source_tokens():
    attention = torch.tensor([[0.3, 0.3, 0.4], [0.5, 0.0, 0.5], [0.0, 0.1, 0.9]])  # last row: EOS
    weights, eos = drop_eos(attention)
    assert torch.allclose(weights, torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    assert torch.allclose(eos, torch.tensor([0.4, 0.5]))


def test_word_groups_start_at_the_word_marker():
    assert word_groups(["▁Haus", "tür", "▁auf", "▁", "x"]) == [[0, 1], [2], [3, 4]]
    assert word_groups(["ab", "▁c"]) == [[0], [1]]
    assert word_groups([]) == []


def test_word_labels_use_the_text_and_fall_back_to_pieces():
    pieces = ["▁Haus", "tür", "▁", "<unk>"]
    groups = word_groups(pieces)
    assert word_labels(pieces, groups, "Haustür ☃") == ["Haustür", "☃"]
    assert word_labels(pieces, groups, "") == ["Haustür", "<unk>"]


def test_merging_means_target_pieces_and_sums_source_pieces():
    # target pieces: [t0 t1] [t2]; source pieces: [s0] [s1 s2]
    weights = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.0, 0.1, 0.9]])
    eos = torch.tensor([0.1, 0.3, 0.2])
    words, word_eos = merge_pieces(weights, eos, [[0, 1], [2]], [[0], [1, 2]])
    assert torch.allclose(words, torch.tensor([[0.4, 0.6], [0.0, 1.0]]))
    assert torch.allclose(word_eos, torch.tensor([0.2, 0.2]))
    assert torch.allclose(words.sum(1), torch.ones(2))


def test_hard_links_are_the_argmax_or_everything_above_a_threshold():
    weights = torch.tensor([[0.7, 0.3], [0.45, 0.55]])
    assert hard_links(weights) == {(0, 0), (1, 1)}
    assert hard_links(weights, threshold=0.4) == {(0, 0), (0, 1), (1, 1)}
    assert hard_links(torch.zeros(3, 0)) == set()


def test_mutual_links_drop_weak_guesses_and_keep_sure_words():
    # Target 0 and 1 both lean on source 0; target 1's guess (0.5) is weaker than target 0's
    # claim (0.9) on that column and below CONFIDENT: dropped. Target 2 is sure of source 2.
    weights = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.3, 0.2], [0.05, 0.3, 0.65]])
    assert hard_links(weights, rule="argmax") == {(0, 0), (0, 1), (2, 2)}
    assert hard_links(weights, rule="mutual") == {(0, 0), (2, 2)}
    # A sure word keeps its link though another target claims the column more strongly.
    shared = torch.tensor([[0.95, 0.05], [0.8, 0.2]])
    assert hard_links(shared, rule="mutual") == {(0, 0), (0, 1)}
    assert hard_links(torch.zeros(3, 0), rule="mutual") == set()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1))
def test_mutual_links_lie_within_the_argmax_links(rows, cols, seed):
    weights = torch.rand(rows, cols, generator=torch.Generator().manual_seed(seed)).softmax(1)
    mutual, argmax = hard_links(weights, rule="mutual"), hard_links(weights)
    assert mutual <= argmax
    assert {(s, t) for s, t in argmax if weights[t, s] >= CONFIDENT} <= mutual
    best = int(weights.argmax())
    assert (best % cols, best // cols) in mutual  # the strongest cell of the matrix is mutual


def make_alignment(n_src: int, n_tgt: int, links=None) -> Alignment:
    weights = [[1.0 if s == n_src - 1 - t else 0.0 for s in range(n_src)] for t in range(n_tgt)]
    src = [f"s{i}" for i in range(n_src)]
    tgt = [f"t{i}" for i in range(n_tgt)]
    links = links if links is not None else sorted(hard_links(torch.tensor(weights)))
    return Alignment(" ".join(src), " ".join(tgt), src, tgt, weights, [0.1] * n_tgt, links, -1.5)


def test_intersect_keeps_links_both_directions_agree_on():
    forward = make_alignment(2, 2, [(0, 0), (0, 1), (1, 1)])
    reverse = make_alignment(2, 2, [(0, 0), (1, 0)])  # target-source: (0,0) and (0,1) forward
    (both,) = intersect([forward], [reverse])
    assert both.links == [(0, 0), (0, 1)]
    with pytest.raises(NMTError):  # the pairs of a file, not the tokens of a pair, must match
        intersect([forward], [])
    assert intersect([forward], [make_alignment(3, 2)])[0].links == forward.links  # see combine


def test_split_pairs_reads_source_and_target():
    assert split_pairs(["a b ||| c", "d|||e f"]) == (["a b", "d"], ["c", "e f"])
    assert split_pairs(["a b", "c"]) == (["a b", "c"], None)
    with pytest.raises(NMTError, match="line 2"):
        split_pairs(["a ||| b", "c"])


def test_gold_links_outside_their_pair_are_refused_with_file_and_line():
    alignments = [make_alignment(2, 2), make_alignment(3, 1)]
    gold = [parse_gold("0-0 1-1"), parse_gold("2-0 0?1")]  # 0?1: target word 1 of a 1-word target
    checked = within_gold_ranges(iter(alignments), gold, "gold.txt")
    assert next(checked) is alignments[0]
    with pytest.raises(NMTError, match=r"gold.txt: line 2: link 0-1 .* 3 source and 1 target words"):
        next(checked)
    assert list(within_gold_ranges(alignments[:1], [], "gold.txt")) == alignments[:1]  # no gold: no check


def small_alignment() -> Alignment:
    weights = [[0.0, 0.33333, 0.66667], [1.0, 0.0, 0.0]]
    return Alignment(
        "a b c", "x y", ["a", "b", "c"], ["x", "y"], weights, [0.1, 0.123456], [(2, 0), (0, 1)], -1.5
    )


def test_pharaoh_links_are_sorted_source_first():
    assert to_pharaoh({(2, 0), (0, 1), (10, 3), (1, 1)}) == "0-1 1-1 2-0 10-3"
    assert to_pharaoh([]) == ""


def test_json_holds_tokens_rounded_weights_links_and_eos_mass():
    data = json.loads(to_json(small_alignment(), digits=2))
    assert data["src_tokens"] == ["a", "b", "c"] and data["tgt_tokens"] == ["x", "y"]
    assert data["weights"] == [[0.0, 0.33, 0.67], [1.0, 0.0, 0.0]]
    assert data["links"] == [[2, 0], [0, 1]]
    assert data["eos_mass"] == [0.1, 0.12] and data["score"] == -1.5


def render(alignment: Alignment, width: int = 80) -> list[str]:
    console = Console(record=True, width=width, color_system=None)
    console.print(alignment_view(alignment, width, index=0))
    return console.export_text().splitlines()


def test_table_shows_tokens_and_weights_in_80_columns():
    lines = render(make_alignment(4, 3))
    text = "\n".join(lines)
    assert "source: s0 s1 s2 s3" in text and "score -1.500" in text and "EOS mass 10.0%" in text
    row = next(line for line in lines if line.strip().startswith("0 t0"))
    assert row.split()[2:] == ["·", "·", "·", "100"]
    assert all(len(line) <= 80 for line in lines)


@pytest.mark.parametrize("n_src, n_tgt", [(0, 0), (1, 1), (1, 0), (200, 4), (4, 200)])
def test_table_fits_the_console_for_any_length(n_src, n_tgt):
    lines = render(make_alignment(n_src, n_tgt))
    assert all(len(line) <= 80 for line in lines)
    header_cells = " ".join(lines)
    for token in ("s0", f"s{n_src - 1}") if n_src and n_tgt else ():
        assert f" {token} " in header_cells


def test_table_splits_wide_sentences_into_column_blocks():
    lines = render(make_alignment(40, 2), width=60)
    header_rows = [line for line in lines if "s0 " in line or "s39" in line]
    assert len(header_rows) >= 2  # the first and the last source token sit in different blocks
    assert all(len(line) <= 60 for line in lines)


def test_table_clips_long_tokens_without_wrapping():
    a = make_alignment(2, 1)
    a.src_tokens = ["Donaudampfschifffahrtsgesellschaft", "x"]
    a.tgt_tokens = ["Danube-steamboat-shipping-company-captain"]
    lines = render(a, width=40)
    assert any("Donaudampfs…" in line for line in lines)
    assert all(len(line) <= 40 for line in lines)
