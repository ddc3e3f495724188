"""eflomal side by side with `nmt align` on the development gold (docs/alignment.md).

Aligns the training pairs of the shipped models (each pair once) plus the gold sentences with
eflomal, tokenised as the gold is (scripts/make_align_gold.py), and scores the gold lines'
links: each direction alone and every symmetrisation heuristic. Needs eflomal (the [align]
extra). Usage: python scripts/eflomal_gold.py [GOLD_PREFIX ...] (default: the three gold sets).
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_align_gold import tokenize  # noqa: E402

from nmt_cli.alignment.aer import alignment_error, read_gold  # noqa: E402
from nmt_cli.alignment.symmetrize import HEURISTICS, symmetrize  # noqa: E402
from nmt_cli.alignment.word_align import read_pharaoh  # noqa: E402

TRAIN = ("data/multi30k/train", "data/tatoeba/train", "data/newstest/newstest2008-2012")
GOLD = ("data/align-gold/tatoeba", "data/align-gold/multi30k", "data/align-gold/newstest2013")


def read_gz(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def main(gold_prefixes: list[str]) -> None:
    import eflomal

    src, tgt = [], []
    for prefix in TRAIN:
        de, en = read_gz(ROOT / f"{prefix}.de.gz"), read_gz(ROOT / f"{prefix}.en.gz")
        for d, e in zip(de, en, strict=True):
            d_tok, e_tok = tokenize(d), tokenize(e)
            if d_tok and e_tok:
                src.append(" ".join(d_tok))
                tgt.append(" ".join(e_tok))
    gold_src = [ln for p in gold_prefixes for ln in (ROOT / f"{p}.de").read_text("utf-8").splitlines()]
    gold_tgt = [ln for p in gold_prefixes for ln in (ROOT / f"{p}.en").read_text("utf-8").splitlines()]
    gold = [g for p in gold_prefixes for g in read_gold(ROOT / f"{p}.gold", "src-tgt")]
    n = len(gold_src)
    print(f"eflomal on {len(src)} training pairs + {n} gold pairs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        fwd, rev = Path(tmp) / "fwd", Path(tmp) / "rev"
        eflomal.Aligner().align(
            [s + "\n" for s in src + gold_src],
            [t + "\n" for t in tgt + gold_tgt],
            links_filename_fwd=str(fwd),
            links_filename_rev=str(rev),
        )
        forward, reverse = read_pharaoh(fwd)[-n:], read_pharaoh(rev)[-n:]
    for name, links in (("forward", forward), ("reverse", reverse)):
        report(name, links, gold)
    for heuristic in HEURISTICS:
        report(heuristic, [symmetrize(f, r, heuristic) for f, r in zip(forward, reverse, strict=True)], gold)


def report(name: str, links: list, gold: list) -> None:
    s = alignment_error(links, gold)
    rates = f"AER {100 * s.aer:.2f}  precision {100 * s.precision:.2f}  recall {100 * s.recall:.2f}"
    print(f"eflomal {name}: {rates}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(GOLD))
