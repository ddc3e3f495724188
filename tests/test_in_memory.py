"""The in-memory corpus path (benchmarks/in_memory.py), the baseline and reference of preparation:
from raw parallel text to encoded training and validation sets."""

import pytest
from conftest import write_toy_corpus

from benchmarks.in_memory import load_corpora, split_holdout
from nmt_cli.config import DataConfig
from nmt_cli.data.parallel import read_parallel
from nmt_cli.data.tokenizer import spm_files
from nmt_cli.errors import NMTError


def test_holdout_is_seeded_disjoint_and_at_most_a_tenth():
    src = [f"s{i}" for i in range(100)]
    tgt = [f"t{i}" for i in range(100)]
    a = split_holdout(src, tgt, 500, seed=1)
    assert a == split_holdout(src, tgt, 500, seed=1)
    train_src, train_tgt, hold_src, hold_tgt = a
    assert len(hold_src) == 10 and len(train_src) == 90
    assert not set(train_src) & set(hold_src)
    assert [s[1:] for s in hold_src] == [t[1:] for t in hold_tgt]  # pairs stay pairs


def test_empty_and_long_pairs_are_counted_and_left_out(tmp_path):
    write_toy_corpus(tmp_path / "c", n=200)
    write_toy_corpus(tmp_path / "v", n=5, seed=1)
    with (
        open(tmp_path / "c.de", "a", encoding="utf-8") as de,
        open(tmp_path / "c.en", "a", encoding="utf-8") as en,
    ):
        de.write("\nhund\n" + "hund " * 100 + "\n")
        en.write("a dog\n\n" + "dog " * 100 + "\n")
    cfg = DataConfig(
        train=str(tmp_path / "c"),
        src_lang="de",
        tgt_lang="en",
        valid=str(tmp_path / "v"),
        vocab_size=40,
        max_len=60,
    )
    train, valid, tok, stats = load_corpora(cfg, tmp_path, seed=1)
    assert stats.skipped_empty == 2
    src, tgt = read_parallel(cfg.train, "de", "en")
    kept = [(s, t) for s, t in zip(src, tgt) if s and t]
    too_long = [s for s, t in kept if max(len(tok.encode_src([s])[0]), len(tok.encode_tgt([t])[0])) > 60]
    assert [s.count("hund") for s in too_long if "hund hund" in s] == [100]
    assert stats.dropped_long == len(too_long)
    assert stats.train_pairs == len(train) == len(kept) - len(too_long)
    assert stats.valid_pairs == len(valid) == 5 and stats.valid_source == str(tmp_path / "v")
    assert all(len(ids) <= cfg.max_len for ids in train.src_ids + train.tgt_ids)
    assert (tmp_path / spm_files(True)["src"]).is_file()
    assert tok.decode_tgt(train.tgt_ids[:1]) == train.tgt_lines[:1]


def test_a_corpus_of_empty_lines_is_an_error(tmp_path):
    (tmp_path / "c.de").write_text("\n\n", encoding="utf-8")
    (tmp_path / "c.en").write_text("x\n\n", encoding="utf-8")
    cfg = DataConfig(train=str(tmp_path / "c"), src_lang="de", tgt_lang="en")
    with pytest.raises(NMTError, match="no usable training pairs"):
        load_corpora(cfg, tmp_path, seed=1)
