"""Parallel corpora named by prefix and language, as in fairseq and Moses: `data/train` + `de`
reads `data/train.de` or `data/train.de.gz`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.io.lines import read_lines as read_lines

if TYPE_CHECKING:
    pass


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
