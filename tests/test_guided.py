"""Guided alignment training: the loss drives the supervised head to the given links, links map
from words to subwords, batches carry their guides, and training goes on without eflomal."""

import logging

import numpy as np
import pytest
import torch
from conftest import TINY_TRAIN_ARGS, train_args, transformer_config
from toy import make_pairs
from typer.testing import CliRunner

from nmt_cli.alignment import word_align
from nmt_cli.alignment.word_align import subword_links, units
from nmt_cli.cli.app import app
from nmt_cli.config import AttentionChoice, RuntimeConfig
from nmt_cli.data.batch import collate
from nmt_cli.data.shards import Shard, ShardSet, ShardWriter
from nmt_cli.decoding.session import load_for_decoding
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import guided
from nmt_cli.training.guided import GuidedShardSet, alignment_loss
from nmt_cli.training.step import train_step


def anti_diagonal_guide(pairs: list[tuple[list[int], list[int]]], shift: bool = False) -> torch.Tensor:
    """The reversal task's true alignment: target i to source n-1-i, EOS to EOS, as (B, T, S);
    with `shift`, on row i + 1 (the step reading target i) and EOS unguided, as GuidedShardSet."""
    n_max = max(len(s) for s, _ in pairs) + 1
    guide = torch.zeros(len(pairs), n_max, n_max)
    for b, (src, _) in enumerate(pairs):
        n = len(src)
        for i in range(n):
            guide[b, i + shift, n - 1 - i] = 1.0
        if not shift:
            guide[b, n, n] = 1.0
    return guide


def head_accuracy(model, pairs, choice: AttentionChoice, shift: bool = False) -> float:
    """Share of target tokens whose attention argmax is the anti-diagonal source token, read at
    the step emitting each token or, with `shift`, at the step reading it."""
    batch = collate([s for s, _ in pairs], [t for _, t in pairs])
    with torch.no_grad():
        _, attn = model(batch.src, batch.src_mask, batch.tgt_in, True, choice)
    hits = total = 0
    for b, (src, _) in enumerate(pairs):
        n = len(src)
        hits += sum(int(attn[b, i + shift, :n].argmax()) == n - 1 - i for i in range(n))
        total += n
    return hits / total


def reversal_head_accuracy(alignment_weight: float, steps: int = 300, shift: bool = False) -> float:
    """Train a tiny Transformer on reversal with anti-diagonal guides (on the reading step with
    `shift`); how often its align head's argmax, read the same way, is the true source token."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: a second thread only waits on a busy machine
    try:
        return _train_reversal(alignment_weight, steps, shift)
    finally:
        torch.set_num_threads(threads)


def _train_reversal(alignment_weight: float, steps: int, shift: bool = False) -> float:
    torch.manual_seed(0)
    cfg = transformer_config(d_model=32, heads=2, ff_dim=64, align_layer=0, align_head=1)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    train = make_pairs(steps * 32, cfg.vocab_size, 3, 8, "reverse", seed=0)
    model.train()
    for s in range(steps):
        chunk = train[s * 32 : (s + 1) * 32]
        batch = collate([p[0] for p in chunk], [p[1] for p in chunk])
        batch.guide = anti_diagonal_guide(chunk, shift)
        train_step(model, opt, [batch], label_smoothing=0.0, alignment_weight=alignment_weight)
    model.eval()
    test = make_pairs(100, cfg.vocab_size, 3, 8, "reverse", seed=1)
    return head_accuracy(model, test, AttentionChoice(), shift)


@pytest.mark.slow
def test_alignment_loss_drives_the_supervised_head_to_the_given_links():
    guided_accuracy = reversal_head_accuracy(1.0)
    assert guided_accuracy > 0.95  # 0.996 when written; unguided, the same head: 0.82
    assert guided_accuracy > reversal_head_accuracy(0.0) + 0.05


@pytest.mark.slow
def test_shifted_guidance_trains_the_step_that_reads_each_word():
    guided_accuracy = reversal_head_accuracy(1.0, steps=200, shift=True)
    assert guided_accuracy > 0.95
    assert guided_accuracy > reversal_head_accuracy(0.0, steps=200, shift=True) + 0.05


def test_alignment_loss_is_the_cross_entropy_of_the_linked_rows():
    attention = torch.tensor([[[0.5, 0.5], [0.9, 0.1]]])
    guide = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # the second row has no link: no loss
    assert alignment_loss(attention, guide).item() == pytest.approx(-np.log(0.5))


def test_alignment_words_split_punctuation_and_keep_every_piece():
    pieces = ["▁Haus", "tür", ",", "▁", "x", "▁auf", "."]
    assert units(pieces) == [[0, 1], [2], [3, 4], [5], [6]]
    assert word_align.unit_words(pieces, units(pieces)) == ["Haustür", ",", "x", "auf", "."]
    assert units(["▁"]) == [[0]]
    assert units([]) == []


def test_word_links_map_to_every_pair_of_their_subwords():
    src_groups = [[0, 1], [2]]  # "Haus tür" "auf"
    tgt_groups = [[0], [1, 2]]  # "house" "d oor"
    links = subword_links({(0, 1), (1, 0), (5, 0)}, src_groups, tgt_groups)  # (5, 0): out of range
    assert links == {(0, 1), (0, 2), (1, 1), (1, 2), (2, 0)}


def test_batches_carry_row_normalised_guides_with_eos_linked_to_eos(tmp_path):
    writer = ShardWriter(tmp_path, "train", np.dtype(np.uint16))
    writer.append([[5, 6, 7], [8]], [[9, 10], [11, 12]])
    writer.close()
    links = [{(0, 0), (1, 0), (2, 1)}, {(0, 1)}]
    guided.write_links(tmp_path, 0, links)
    flat, offsets = np.load(tmp_path / "guide.0.links.npy"), np.load(tmp_path / "guide.0.offsets.npy")
    data = GuidedShardSet([Shard(tmp_path, "train")], [(flat, offsets)])
    b = data.batch(np.array([0, 1]))
    assert b.guide is not None and b.guide.shape == (2, 3, 4)
    assert b.guide[0, 0].tolist() == [0.5, 0.5, 0.0, 0.0]  # target 0 from sources 0 and 1
    assert b.guide[0, 1].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert b.guide[0, 2].tolist() == [0.0, 0.0, 0.0, 1.0]  # EOS to EOS
    assert b.guide[1, 0].sum() == 0  # target 0 of pair 1 has no link
    assert b.guide[1, 1].tolist()[:2] == [1.0, 0.0]
    assert b.guide[1, 2].tolist()[:2] == [0.0, 1.0]


def test_without_eflomal_training_says_so_and_goes_on_unguided(tiny_corpus, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(guided, "eflomal_available", lambda: False)
    shards = ShardSet([])
    with caplog.at_level(logging.WARNING, logger="nmt_cli"):
        assert guided.guided_shards(shards, None, tmp_path, "eflomal") is shards  # type: ignore[arg-type]
    assert "eflomal is not installed" in caplog.text
    out = tmp_path / "run"
    args = train_args(
        tiny_corpus, out, "--max-steps", "10", "--guided-alignment", "eflomal", *TINY_TRAIN_ARGS
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "model.pt").is_file()


def test_an_unknown_guide_source_is_refused_in_one_line(tmp_path):
    with pytest.raises(Exception, match="--guided-alignment takes eflomal or none"):
        guided.guided_shards(ShardSet([]), None, tmp_path, "giza")  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_guided_training_aligns_the_corpus_once_and_records_the_head(tiny_corpus, tmp_path, arch):
    pytest.importorskip("eflomal")
    out = tmp_path / "run"
    extra = ["--arch", arch]
    if arch == "transformer":
        extra += ["--d-model", "16", "--heads", "2", "--ff-dim", "32", "--layers", "2"]
    args = train_args(tiny_corpus, out, "--max-steps", "10", "--guided-alignment", "eflomal", *extra)
    result = CliRunner().invoke(app, args + TINY_TRAIN_ARGS)
    assert result.exit_code == 0, result.output
    assert len(list((out / "data").glob("guide-*/guide.0.links.npy"))) == 1
    head = load_for_decoding(out, RuntimeConfig()).model.cfg.align_head
    assert head == (0 if arch == "transformer" else None)


def test_shifted_guides_sit_on_the_step_reading_each_target_and_leave_eos_unguided(tmp_path):
    writer = ShardWriter(tmp_path, "train", np.dtype(np.uint16))
    writer.append([[5, 6, 7], [8]], [[9, 10], [11, 12]])
    writer.close()
    guided.write_links(tmp_path, 0, [{(0, 0), (1, 0), (2, 1)}, {(0, 1)}])
    flat, offsets = np.load(tmp_path / "guide.0.links.npy"), np.load(tmp_path / "guide.0.offsets.npy")
    plain = GuidedShardSet([Shard(tmp_path, "train")], [(flat, offsets)]).batch(np.array([0, 1]))
    b = GuidedShardSet([Shard(tmp_path, "train")], [(flat, offsets)], shift=True).batch(np.array([0, 1]))
    assert b.guide is not None and plain.guide is not None
    assert b.guide[:, 0].sum() == 0  # the BOS step reads no target word
    assert torch.equal(b.guide[0, 1:], plain.guide[0, :2])  # target t's links on row t + 1
    assert b.guide[1, 2].tolist()[:2] == [1.0, 0.0]
    assert b.guide.sum() == 3  # three linked target words; EOS, read by no step, unguided
