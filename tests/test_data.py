"""Corpus reading, SentencePiece, and token-count batching."""

import gzip
import random

import pytest

from nmt_cli.data.batch import token_batches
from nmt_cli.data.parallel import read_parallel
from nmt_cli.data.tokenizer import Tokenizer, normalize, train_sentencepiece
from nmt_cli.errors import NMTError
from nmt_cli.io.lines import read_lines


def test_reads_plain_and_gzipped_sides(tmp_path):
    (tmp_path / "c.de").write_text("eins\nzwei\n", encoding="utf-8")
    with gzip.open(tmp_path / "c.en.gz", "wt", encoding="utf-8") as f:
        f.write("one\ntwo\n")
    assert read_parallel(str(tmp_path / "c"), "de", "en") == (["eins", "zwei"], ["one", "two"])


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.de"
    path.write_bytes(b"gut\nschl\xe4cht\n")
    with pytest.raises(NMTError, match=r"bad.de: line 2 is not valid UTF-8"):
        read_lines(path)


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "x.de.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(NMTError, match="cannot read"):
        read_lines(path)


def test_blank_lines_normalise_to_empty():
    assert normalize("  \t ") == ""
    assert normalize(" Ein   Hund\u00a0läuft ") == "Ein Hund läuft"


def test_token_batches_cover_everything_once_within_budget():
    rng = random.Random(0)
    lengths = [rng.randint(1, 60) for _ in range(2000)]
    batches = token_batches(lengths, 1000, random.Random(1))
    seen = sorted(i for b in batches for i in b)
    assert seen == list(range(2000))
    padded = real = 0
    for b in batches:
        longest = max(lengths[i] for i in b) + 1
        assert longest * len(b) <= 1000 or len(b) == 1
        padded += longest * len(b)
        real += sum(lengths[i] + 1 for i in b)
    assert real / padded > 0.95  # length-sorted buckets keep padding small


def test_batches_are_shuffled_between_epochs():
    lengths = [i % 50 + 1 for i in range(1000)]
    a = token_batches(lengths, 500, random.Random(1))
    b = token_batches(lengths, 500, random.Random(2))
    assert a != b


def test_small_corpus_trains_sentencepiece_with_fixed_special_ids(tmp_path):
    lines = ["ein hund", "eine katze", "der hund läuft"] * 20
    size = train_sentencepiece(lines, tmp_path / "spm", vocab_size=8000)
    tok = Tokenizer(tmp_path / "spm.model")
    assert size == tok.src_vocab_size < 8000
    assert [tok.src.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert tok.decode_tgt(tok.encode_tgt(["der hund läuft"])) == ["der hund läuft"]
    tiny = train_sentencepiece(lines, tmp_path / "tiny", vocab_size=3)  # below the character count
    assert tiny >= len(set("".join(lines).replace(" ", "")))


def test_empty_pairs_are_skipped_and_long_pairs_dropped_and_counted(tmp_path):
    from nmt_cli.config import DataConfig
    from nmt_cli.data.corpus import load_corpora

    src = ["ein hund läuft"] * 50 + ["", "eine katze"] + [" ".join(["hund"] * 40)]
    tgt = ["a dog runs"] * 50 + ["nothing", "  "] + [" ".join(["dog"] * 40)]
    (tmp_path / "c.de").write_text("\n".join(src) + "\n", encoding="utf-8")
    (tmp_path / "c.en").write_text("\n".join(tgt) + "\n", encoding="utf-8")
    (tmp_path / "v.de").write_text("ein hund\n", encoding="utf-8")
    (tmp_path / "v.en").write_text("a dog\n", encoding="utf-8")
    cfg = DataConfig(
        train=str(tmp_path / "c"),
        valid=str(tmp_path / "v"),
        src_lang="de",
        tgt_lang="en",
        vocab_size=30,
        max_len=20,
    )
    train, valid, _, stats = load_corpora(cfg, tmp_path, seed=1)
    assert (stats.skipped_empty, stats.dropped_long) == (2, 1)
    assert stats.train_pairs == len(train) == 50 and len(valid) == 1
    assert all(max(len(s), len(t)) <= 20 for s, t in zip(train.src_ids, train.tgt_ids))


def test_without_valid_a_seeded_tenth_is_held_out(tmp_path):
    from nmt_cli.data.corpus import split_holdout

    src = [f"s{i}" for i in range(100)]
    tgt = [f"t{i}" for i in range(100)]
    a = split_holdout(src, tgt, 500, seed=3)
    assert len(a[2]) == 10 and len(a[0]) == 90
    assert not set(a[0]) & set(a[2])
    assert [s.replace("s", "t") for s in a[2]] == a[3]
    assert split_holdout(src, tgt, 500, seed=3) == a
