"""Binarising a corpus: chunks of bounded size, pairs over --max-len dropped and counted, the
held-out split, a validation shard whose BLEU subset is bounded and fixed, and cache entries
named and keyed by what they depend on."""

import json
from pathlib import Path

import pytest
from conftest import write_toy_corpus

from nmt_cli.config import DataConfig
from nmt_cli.data import binarize
from nmt_cli.data.binarize import (
    cached_corpus,
    chunks,
    entry_name,
    prepare_corpus,
    prepare_valid,
    read_bleu_subset,
    write_valid,
)
from nmt_cli.data.shards import Shard
from nmt_cli.data.tokenizer import Tokenizer, train_sentencepiece


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("corpus") / "train"
    write_toy_corpus(prefix, 300, seed=5)
    return str(prefix)


@pytest.fixture(scope="module")
def tok(corpus, tmp_path_factory):
    text = [line for lang in ("de", "en") for line in Path(f"{corpus}.{lang}").read_text().splitlines()]
    spm = tmp_path_factory.mktemp("spm") / "spm"
    train_sentencepiece(text, spm, 40)
    return Tokenizer(spm.with_suffix(".model"))


def config(prefix, **kw):
    return DataConfig(train=str(prefix), src_lang="de", tgt_lang="en", **kw)


def no_progress(stage, done, total):
    pass


def test_chunks_are_of_the_given_size_but_the_last():
    pairs = [(str(i), str(i)) for i in range(7)]
    assert [len(c) for c in chunks(iter(pairs), 3)] == [3, 3, 1]
    assert [p for c in chunks(iter(pairs), 3) for p in c] == pairs
    assert list(chunks(iter([]), 3)) == []


def test_entry_names_read_as_the_corpus():
    assert entry_name("data/tatoeba/train") == "tatoeba.train"
    assert entry_name("train") == "train"


def prepare(corpus, cfg, tok, data_dir, holdout, seconds):
    return prepare_corpus(
        corpus, cfg, tok, spm_key=["k"], data_dir=data_dir, threads=1, holdout=holdout,
        known_pairs=None, seconds=seconds, on_progress=no_progress,
    )  # fmt: skip


def test_long_pairs_are_dropped_held_out_pairs_kept_apart_and_both_counted(
    corpus, tok, tmp_path, monkeypatch
):
    monkeypatch.setattr(binarize, "CHUNK_PAIRS", 64)  # several chunks: the held-out positions span them
    seconds: dict[str, float] = {}
    cfg = config(corpus, max_len=6, valid_max_sentences=10)
    entry = prepare(corpus, cfg, tok, tmp_path, (20, 1), seconds)
    meta = entry.meta
    assert meta["held_out"] == 20 and meta["valid"]["pairs"] == 20 and meta["valid"]["bleu_pairs"] == 10
    assert meta["train"]["pairs"] + meta["dropped_long"] + meta["held_out"] == 300
    assert meta["dropped_long"] > 0
    shard = Shard(entry.path, "train")
    assert max(max(len(shard.ids("src", i)), len(shard.ids("tgt", i))) for i in range(len(shard))) <= 6
    assert set(seconds) == {"encode", "write"}
    again = prepare(corpus, cfg, tok, tmp_path, (20, 1), {})
    assert again.reused and again.path == entry.path
    other = prepare(corpus, config(corpus, max_len=7), tok, tmp_path, None, {})
    assert not other.reused and other.path != entry.path  # another --max-len is another entry


def test_the_bleu_subset_is_bounded_fixed_and_in_corpus_order(tok, tmp_path):
    triples = [(f"hund {i}", f"dog {i}", f"Dog {i}!") for i in range(50)]
    meta = write_valid(tmp_path, tok, iter(triples), 12, 1)
    src, ref = read_bleu_subset(tmp_path)
    assert meta["pairs"] == 50 and meta["bleu_pairs"] == 12 and len(src) == 12
    numbers = [int(s.split()[1]) for s in src]
    assert numbers == sorted(numbers)
    assert ref == [f"Dog {n}!" for n in numbers]  # references as written, not normalised
    (tmp_path / "again").mkdir()
    write_valid(tmp_path / "again", tok, iter(triples), 12, 1)
    assert read_bleu_subset(tmp_path / "again") == (src, ref)  # whatever the training seed


def test_a_valid_corpus_skips_pairs_with_an_empty_side_and_keeps_the_raw_reference(tok, tmp_path):
    prefix = tmp_path / "dev"
    (tmp_path / "dev.de").write_text("ein  hund\n\nkatze\n\x00\n", encoding="utf-8")
    (tmp_path / "dev.en").write_text("a dog\nx\n \nthe cat\n", encoding="utf-8")
    entry = prepare_valid(
        str(prefix), config(prefix, valid_max_sentences=10), tok, ["k"], tmp_path / "data", 1
    )
    assert entry.meta["skipped_empty"] == 3 and entry.meta["valid"]["pairs"] == 1
    assert read_bleu_subset(entry.path) == (["ein hund"], ["a dog"])


def test_cache_entries_are_keyed_by_inputs_vocabulary_and_settings(corpus, tmp_path):
    built = []

    def make(tmp):
        built.append(tmp)
        (tmp / "x.json").write_text(json.dumps(len(built)))
        return {"n": len(built)}

    cfg = config(corpus)

    def entry(kind, spm_model, max_len):
        settings = {"max_len": max_len}
        return cached_corpus(
            kind, corpus, cfg, spm_key=[spm_model], data_dir=tmp_path, settings=settings, make=make
        )

    first = entry("train", "spm-a", 5)
    assert first.path.name.startswith(f"train.{entry_name(corpus)}-") and not first.reused
    assert entry("train", "spm-a", 5).reused
    assert not entry("train", "spm-b", 5).reused
    assert not entry("train", "spm-a", 6).reused
    assert not entry("valid", "spm-a", 5).reused
    assert len(built) == 4
