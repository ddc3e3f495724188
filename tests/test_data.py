"""Corpus reading, SentencePiece, and token-count batching."""

import gzip

import pytest

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


def test_small_corpus_trains_sentencepiece_with_fixed_special_ids(tmp_path):
    lines = ["ein hund", "eine katze", "der hund läuft"] * 20
    size = train_sentencepiece(lines, tmp_path / "spm", vocab_size=8000)
    tok = Tokenizer(tmp_path / "spm.model")
    assert size == tok.src_vocab_size < 8000
    assert [tok.src.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert tok.decode_tgt(tok.encode_tgt(["der hund läuft"])) == ["der hund läuft"]
    tiny = train_sentencepiece(lines, tmp_path / "tiny", vocab_size=3)  # below the character count
    assert tiny >= len(set("".join(lines).replace(" ", "")))
