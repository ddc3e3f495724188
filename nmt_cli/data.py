"""Parallel corpora, SentencePiece subwords, and token-count batches.

A corpus is named by prefix and language, as in fairseq and Moses: `data/train` + `de`
reads `data/train.de` or `data/train.de.gz`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import random
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import sentencepiece as spm

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from nmt_cli.errors import NMTError
from nmt_cli.files import describe_os_error, os_errors_as_words, refuse_same_file, require_inputs
from nmt_cli.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.lines import read_lines as read_lines
from nmt_cli.lines import strip_line_end

if TYPE_CHECKING:
    import torch


@contextlib.contextmanager
def open_output(
    path: Path | None, inputs: Sequence[tuple[str, Path | None]] = (), option: str = "-o"
) -> Iterator[TextIO]:
    """A UTF-8 file to write, or stdout for None or "-", once the `inputs` (option, path; "-" is
    stdin) exist and none of them is that same file; failure is one clear NMTError.

    A file is written under a temporary name beside it and renamed over it when the block ends
    without error, so a command that fails or is interrupted half-way leaves the previous file
    as it was. A file with other hard links gets the finished output copied into it instead, so
    that every name sees it. An existing pipe or device (not a regular file) is written directly.
    """
    require_inputs(inputs)
    refuse_same_file(path, option, inputs)
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)  # write through a link
    if target.exists() and not target.is_file():
        with os_errors_as_words("writing", path), open(target, "w", encoding="utf-8", newline="\n") as direct:
            yield direct
        return
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    with os_errors_as_words("opening", path):
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os_errors_as_words("writing", path):
            with open(fd, "w", encoding="utf-8", newline="\n") as f:
                yield f
            os.chmod(tmp, mode)
            if target.exists() and target.stat().st_nlink > 1:
                _copy_into_linked(tmp, target)
            else:
                os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_into_linked(tmp: Path, target: Path) -> None:
    """Write `tmp`'s bytes into a hard-linked `target` itself (a rename would leave its other
    names on the old content); if that fails, the whole output is kept under a name beside it."""
    try:
        shutil.copyfile(tmp, target)
    except OSError as e:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.", suffix=".new")
        os.close(fd)
        kept = Path(name)
        os.replace(tmp, kept)
        raise NMTError(f"{describe_os_error(e, 'writing', target)}; the whole output is in {kept}") from e


class TextStream:
    """The lines of a plain or gzipped UTF-8 file, one at a time, under the line rule of lines.py.

    Memory stays at one line whatever the file size; `position` is the bytes read from disk
    (compressed bytes for .gz), for progress bars. Invalid UTF-8 or gzip is an NMTError.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NMTError(f"file not found: {self.path}")
        self._raw: BinaryIO | None = None

    @property
    def position(self) -> int:
        return self._raw.tell() if self._raw is not None and not self._raw.closed else 0

    def __iter__(self) -> Iterator[str]:
        n = 0
        try:
            with open(self.path, "rb") as raw:
                self._raw = raw
                with gzip.open(raw, "rb") if self.path.suffix == ".gz" else contextlib.nullcontext(raw) as f:
                    for line in f:
                        n += 1
                        yield strip_line_end(line).decode("utf-8")
        except UnicodeDecodeError as e:
            raise NMTError(f"{self.path}: line {n} is not valid UTF-8 ({e.reason})") from e
        except (OSError, EOFError) as e:
            raise NMTError(f"{self.path}: cannot read ({e})") from e


def corpus_file(prefix: str, lang: str) -> Path:
    """Resolve `prefix.lang`, falling back to `prefix.lang.gz`."""
    for candidate in (Path(f"{prefix}.{lang}"), Path(f"{prefix}.{lang}.gz")):
        if candidate.is_file():
            return candidate
    raise NMTError(f"corpus file not found: {prefix}.{lang} (or {prefix}.{lang}.gz)")


def read_parallel(prefix: str, src_lang: str, tgt_lang: str) -> tuple[list[str], list[str]]:
    """Read both sides of a line-aligned corpus; their line counts must match."""
    src_path, tgt_path = corpus_file(prefix, src_lang), corpus_file(prefix, tgt_lang)
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise NMTError(f"line counts differ: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}")
    return src, tgt


# Control characters (NUL, a lone \r, U+0085...) are spaces to the model: they stay inside
# their line (see lines.py) but never reach SentencePiece as pieces of their own.
_CONTROLS = {c: " " for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}

# Part of every cache key of prepared data: a change to normalize() must change it, or shards
# prepared with the old normalisation would be taken for current ones.
NORMALIZATION = "nfc+controls-as-spaces+collapse-whitespace/2"


def normalize(line: str) -> str:
    """NFC-normalise and collapse whitespace and control characters, so blank lines become empty."""
    return " ".join(unicodedata.normalize("NFC", line.translate(_CONTROLS)).split())


def train_sentencepiece(texts: Iterable[str], model_prefix: Path, vocab_size: int, seed: int = 1) -> int:
    """Train a unigram SentencePiece model with the fixed special ids; return its size.

    `hard_vocab_limit=False` lets a small corpus with few distinct words train with a
    large `vocab_size`; a size below the number of distinct characters is raised to it.
    The training text is written beside the model and the model is written here, not by
    SentencePiece, so that a full disk is reported as such, naming the file, instead of as
    an unreadable model file.
    """
    texts = [t for t in texts if t]
    chars = {c for t in texts for c in t if not c.isspace()}
    minimum = len(chars) + 5  # the characters, the four specials and the word marker
    if vocab_size < minimum:
        vocab_size = minimum
    corpus = model_prefix.with_name(f".{model_prefix.name}.input.txt")
    model_file = model_prefix.with_name(f"{model_prefix.name}.model")
    proto = io.BytesIO()
    try:
        with os_errors_as_words("writing", corpus):
            corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
        spm.set_random_generator_seed(seed)
        spm.SentencePieceTrainer.train(
            input=str(corpus),
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
    finally:
        corpus.unlink(missing_ok=True)
    with os_errors_as_words("writing", model_file):
        model_file.write_bytes(proto.getvalue())
    return spm.SentencePieceProcessor(model_proto=proto.getvalue()).get_piece_size()


class Tokenizer:
    """Source and target SentencePiece models (the same one for a joint vocabulary)."""

    def __init__(self, src_model: Path, tgt_model: Path | None = None) -> None:
        self.src = self._load(src_model)
        self.tgt = self._load(tgt_model) if tgt_model and tgt_model != src_model else self.src

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


@dataclass
class Batch:
    """Padded tensors for one batch; masks are True on real tokens."""

    src: torch.Tensor  # (B, S) source ids followed by EOS
    src_mask: torch.Tensor  # (B, S)
    tgt_in: torch.Tensor  # (B, T) BOS followed by target ids
    tgt_out: torch.Tensor  # (B, T) target ids followed by EOS
    n_src_tokens: int
    n_tgt_tokens: int

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors on `device`."""
        return Batch(
            self.src.to(device),
            self.src_mask.to(device),
            self.tgt_in.to(device),
            self.tgt_out.to(device),
            self.n_src_tokens,
            self.n_tgt_tokens,
        )


def pad(seqs: Sequence[Sequence[int]], prefix: int | None = None, suffix: int | None = None):
    """Pad id lists into a (B, L) LongTensor, optionally adding BOS/EOS around each."""
    import torch

    rows = [
        ([prefix] if prefix is not None else []) + list(s) + ([suffix] if suffix is not None else [])
        for s in seqs
    ]
    length = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(length, 1)), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def collate(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> Batch:
    """Build the training tensors: source+EOS, BOS+target as input, target+EOS as output."""
    src_t = pad(src, suffix=EOS_ID)
    tgt_in = pad(tgt, prefix=BOS_ID)
    tgt_out = pad(tgt, suffix=EOS_ID)
    return Batch(
        src=src_t,
        src_mask=src_t != PAD_ID,
        tgt_in=tgt_in,
        tgt_out=tgt_out,
        n_src_tokens=int((src_t != PAD_ID).sum()),
        n_tgt_tokens=int((tgt_out != PAD_ID).sum()),
    )


def token_batches(
    lengths: Sequence[int], batch_tokens: int, rng: random.Random | None = None
) -> list[list[int]]:
    """Group example indices into batches of at most `batch_tokens` padded tokens.

    Examples are length-sorted (ties in random order when `rng` is given), so padding stays
    small; the batches themselves are then shuffled. `lengths[i]` is the longer side of i.
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i] + 1)
        if current and longest_if_added * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest_if_added = [], lengths[i] + 1
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def windows(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Yield consecutive chunks of at most `size` lines, so long inputs stream in bounded memory."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
