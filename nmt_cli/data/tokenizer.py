"""Text normalisation and SentencePiece subwords (Kudo & Richardson, 2018): training a model, and
the Tokenizer that encodes and decodes with it."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sentencepiece as spm

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from nmt_cli.errors import NMTError
from nmt_cli.io.files import os_errors_as_words
from nmt_cli.io.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.io.lines import read_lines as read_lines

if TYPE_CHECKING:
    pass


# Control characters (NUL, a lone \r, U+0085...) are spaces to the model: they stay inside
# their line (see lines.py) but never reach SentencePiece as pieces of their own.
_CONTROLS = {c: " " for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}

# Part of every cache key of prepared data: a change to normalize() must change it, or shards
# prepared with the old normalisation would be taken for current ones.
NORMALIZATION = "nfc+controls-as-spaces+collapse-whitespace/2"


def normalize(line: str) -> str:
    """NFC-normalise and collapse whitespace and control characters, so blank lines become empty."""
    return " ".join(unicodedata.normalize("NFC", line.translate(_CONTROLS)).split())


def spm_files(joint: bool) -> dict[str, str]:
    """The fixed names of a model directory's SentencePiece model(s)."""
    return (
        {"src": "spm.model", "tgt": "spm.model"}
        if joint
        else {"src": "spm.src.model", "tgt": "spm.tgt.model"}
    )


def train_sentencepiece(texts: Iterable[str], model_prefix: Path, vocab_size: int, seed: int = 1) -> int:
    """Train a unigram SentencePiece model with the fixed special ids; return its size.

    `hard_vocab_limit=False` lets a small corpus with few distinct words train with a
    large `vocab_size`; a size below the number of distinct characters is raised to it.
    The sentences reach SentencePiece from memory, not from a file: a model trained from a file
    records that file's path, so the same run in two directories gave two spm.model files that
    differ byte for byte. The model is written here, not by SentencePiece, so that a full disk
    is reported as such, naming the file, instead of as an unreadable model file.
    """
    texts = [t for t in texts if t]
    chars = {c for t in texts for c in t if not c.isspace()}
    minimum = len(chars) + 5  # the characters, the four specials and the word marker
    if vocab_size < minimum:
        vocab_size = minimum
    model_file = model_prefix.with_name(f"{model_prefix.name}.model")
    proto = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=proto,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        minloglevel=2,
        num_threads=2,
    )
    with os_errors_as_words("writing", model_file):
        model_file.write_bytes(proto.getvalue())
    return spm.SentencePieceProcessor(model_proto=proto.getvalue()).get_piece_size()


class Tokenizer:
    """Source and target SentencePiece models (the same one for a joint vocabulary)."""

    def __init__(self, src_model: Path, tgt_model: Path | None = None) -> None:
        self.src = self._load(src_model)
        self.tgt = self._load(tgt_model) if tgt_model and tgt_model != src_model else self.src
        self._src_lacks: dict[str, bool] = {}

    def src_unknown(self, text: str) -> set[str]:
        """The characters of `text` the source vocabulary cannot spell: SentencePiece reads each
        as ⁇ and the model drops it (🍕, привет, and ASCII ones too: | ^ { }), so decoding copies
        the words that hold one. Superscripts, subscripts and fractions (², ₂, ½) count as well:
        SentencePiece's NFKC would spell them as other characters (m2, H2O, 1⁄2)."""
        for c in set(text) - self._src_lacks.keys():
            folded = unicodedata.category(c) == "No" and unicodedata.normalize("NFKC", c) != c
            self._src_lacks[c] = folded or (
                UNK_ID in self.src.encode(normalize(c)) if normalize(c) else False
            )
        return {c for c in text if self._src_lacks[c]}

    @staticmethod
    def _load(path: Path) -> spm.SentencePieceProcessor:
        if not Path(path).is_file():
            raise NMTError(f"SentencePiece model not found: {path}")
        try:
            return spm.SentencePieceProcessor(model_file=str(path))
        except (RuntimeError, OSError) as e:
            raise NMTError(f"not a SentencePiece model: {path}") from e

    @property
    def src_vocab_size(self) -> int:
        return int(self.src.get_piece_size())

    @property
    def tgt_vocab_size(self) -> int:
        return int(self.tgt.get_piece_size())

    def encode_src(self, lines: Sequence[str]) -> list[list[int]]:
        return list(self.src.encode([normalize(s) for s in lines]))

    def encode_tgt(self, lines: Sequence[str]) -> list[list[int]]:
        return list(self.tgt.encode([normalize(s) for s in lines]))

    def decode_tgt(self, ids: Sequence[Sequence[int]]) -> list[str]:
        return [str(s) for s in self.tgt.decode([list(x) for x in ids])]

    def src_pieces(self, ids: Sequence[int]) -> list[str]:
        return [str(self.src.id_to_piece(int(i))) for i in ids]

    def tgt_pieces(self, ids: Sequence[int]) -> list[str]:
        return [str(self.tgt.id_to_piece(int(i))) for i in ids]
