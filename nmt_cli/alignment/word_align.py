"""Word alignment of a training corpus by eflomal (Östling & Tiedemann, 2016), the statistical
aligner whose links guided-alignment training (training/guided.py) teaches one attention head.

Words are read off the subword pieces of the prepared shards, so that every word is a run of
pieces and its links map onto subword positions exactly: a piece with the ▁ marker starts a
word, and a piece of punctuation alone is a word of its own (what a tokeniser would split off).
eflomal is an optional extra (`pip install nmt-cli[align]`): without it training says so in
one line and trains without guidance.
"""

from __future__ import annotations

import importlib.util
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from nmt_cli.alignment.aer import Link
from nmt_cli.alignment.symmetrize import Heuristic, symmetrize
from nmt_cli.errors import NMTError

WORD_MARK = "▁"
MISSING = "eflomal is not installed (pip install 'nmt-cli[align]'): training without guided alignment"


def eflomal_available() -> bool:
    """Whether the optional aligner can be imported."""
    return importlib.util.find_spec("eflomal") is not None


def _is_punctuation(text: str) -> bool:
    return bool(text) and all(unicodedata.category(c).startswith("P") for c in text)


def units(pieces: Sequence[str]) -> list[list[int]]:
    """Piece indices of each alignment word: ▁ starts one, punctuation pieces stand alone.

    A bare ▁ piece joins the word after it; every piece belongs to exactly one word.
    """
    groups: list[list[int]] = []
    open_word = False  # whether the last group may take the next piece without a ▁
    pending: list[int] = []  # bare ▁ pieces waiting for their word
    for i, piece in enumerate(pieces):
        text = piece.replace(WORD_MARK, "")
        if not text:
            pending.append(i)
            open_word = False
            continue
        punct = _is_punctuation(text)
        if piece.startswith(WORD_MARK) or pending or punct or not open_word or not groups:
            groups.append([*pending, i])
        else:
            groups[-1].append(i)
        pending, open_word = [], not punct
    if pending:
        if groups:
            groups[-1].extend(pending)
        else:
            groups.append(pending)
    return groups


def unit_words(pieces: Sequence[str], groups: Sequence[Sequence[int]]) -> list[str]:
    """Each word's text: its pieces joined, without the ▁ marker (never empty for eflomal)."""
    return ["".join(pieces[i] for i in g).replace(WORD_MARK, "") or WORD_MARK for g in groups]


def read_pharaoh(path: Path) -> list[set[Link]]:
    """One set of (source, target) links per line of an `i-j` file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        links = set()
        for item in line.split():
            s, t = item.split("-")[:2]
            links.add((int(s), int(t)))
        out.append(links)
    return out


def eflomal_links(
    src: Sequence[str], tgt: Sequence[str], heuristic: Heuristic = "grow-diag-final-and", seed: int = 1
) -> list[set[Link]]:
    """Word links of each (space-separated words) sentence pair: eflomal's two directions,
    symmetrised by `heuristic`. Raises NMTError without eflomal."""
    if not eflomal_available():
        raise NMTError("eflomal is not installed: pip install 'nmt-cli[align]' (or eflomal)")
    import random

    import eflomal

    random.seed(seed)
    with tempfile.TemporaryDirectory(prefix="nmt-eflomal-") as tmp:
        fwd, rev = Path(tmp) / "fwd", Path(tmp) / "rev"
        eflomal.Aligner().align(
            [s + "\n" for s in src],
            [t + "\n" for t in tgt],
            links_filename_fwd=str(fwd),
            links_filename_rev=str(rev),
        )
        forward, reverse = read_pharaoh(fwd), read_pharaoh(rev)
    return [symmetrize(f, r, heuristic) for f, r in zip(forward, reverse, strict=True)]


def subword_links(
    links: set[Link], src_groups: Sequence[Sequence[int]], tgt_groups: Sequence[Sequence[int]]
) -> set[Link]:
    """Word links as subword links: every piece of the target word to every piece of the
    source word (Garg et al., 2019), dropping links outside the groups."""
    out: set[Link] = set()
    for s, t in links:
        if s < len(src_groups) and t < len(tgt_groups):
            out.update((i, j) for i in src_groups[s] for j in tgt_groups[t])
    return out
