#!/usr/bin/env python3
"""Hand-made German-English word-alignment development gold standard.

This script is the reproducible record of how the sentences in
``data/align-gold/`` were chosen and tokenised; the links in ``NAME.gold``
were made by hand (see ``data/align-gold/GUIDELINE.md``).

    python scripts/make_align_gold.py --extract   # write NAME.de / NAME.en
    python scripts/make_align_gold.py --check     # verify all parts
    python scripts/make_align_gold.py --lines     # print the source line numbers

``--extract`` never writes ``.gold`` files.  ``--check`` checks every
``NAME.gold`` in the folder (also parts made by other annotators): equal line
counts across ``.de``/``.en``/``.gold``, link syntax (``i-j`` sure, ``i?j``
possible), indices in range, no duplicate links.  Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLD_DIR = ROOT / "data" / "align-gold"

# name -> (German file, English file, step, first line (1-based), number kept)
PARTS = {
    "tatoeba": ("data/tatoeba/dev.de.gz", "data/tatoeba/dev.en.gz", 20, 1, 60),
    "multi30k": ("data/multi30k/val.de.gz", "data/multi30k/val.en.gz", 20, 1, 50),
    "newstest2013": ("data/newstest/newstest2013.de.gz", "data/newstest/newstest2013.en.gz", 45, 1, 45),
}
MIN_WORDS, MAX_WORDS = 5, 25

# Punctuation split off at the start / end of a word (each mark one token).
PUNCT = set(".,!?;:\"()[]„“”‚‘’«»'")
ELLIPSES = ("...", "…")
# Abbreviations that keep their final period.
ABBREV = {"Mr.", "Mrs.", "Ms.", "Dr.", "St.", "z.B.", "usw.", "bzw.", "ca.", "Nr.", "etc.", "vs."}


def tokenize_word(word: str) -> list[str]:
    lead: list[str] = []
    trail: list[str] = []
    # leading punctuation
    while word:
        if word.startswith(ELLIPSES):
            e = "..." if word.startswith("...") else "…"
            lead.append(e)
            word = word[len(e) :]
        elif word[0] in PUNCT and len(word) > 0:
            lead.append(word[0])
            word = word[1:]
        else:
            break
    # trailing punctuation
    while word:
        if word in ABBREV:
            break
        if word.endswith(ELLIPSES):
            e = "..." if word.endswith("...") else "…"
            trail.append(e)
            word = word[: -len(e)]
        elif word[-1] in PUNCT:
            trail.append(word[-1])
            word = word[:-1]
        else:
            break
    return lead + ([word] if word else []) + trail[::-1]


def tokenize(sentence: str) -> list[str]:
    """Deterministic tokeniser: whitespace split, punctuation split off the
    edges of words; inner apostrophes, inner number punctuation and hyphens
    stay inside the token."""
    out: list[str] = []
    for w in sentence.split():
        out.extend(tokenize_word(w))
    return out


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def select(name: str) -> list[tuple[int, str, str]]:
    """(1-based line number, German, English) of the selected pairs."""
    de_path, en_path, step, first, keep = PARTS[name]
    de = read_lines(ROOT / de_path)
    en = read_lines(ROOT / en_path)
    assert len(de) == len(en), (de_path, en_path)
    chosen = []
    for n in range(first, len(de) + 1, step):
        d, e = de[n - 1], en[n - 1]
        if MIN_WORDS <= len(d.split()) <= MAX_WORDS and MIN_WORDS <= len(e.split()) <= MAX_WORDS:
            chosen.append((n, d, e))
            if len(chosen) == keep:
                break
    if len(chosen) < keep:
        raise SystemExit(f"{name}: only {len(chosen)} pairs selected, want {keep}")
    return chosen


def extract() -> None:
    GOLD_DIR.mkdir(parents=True, exist_ok=True)
    for name in PARTS:
        chosen = select(name)
        for lang, k in (("de", 1), ("en", 2)):
            text = "".join(" ".join(tokenize(str(row[k]))) + "\n" for row in chosen)
            (GOLD_DIR / f"{name}.{lang}").write_text(text, encoding="utf-8")
        print(f"{name}: {len(chosen)} pairs -> {GOLD_DIR}/{name}.de, {name}.en")


def print_lines() -> None:
    for name in PARTS:
        nums = [n for n, _, _ in select(name)]
        print(f"{name} ({len(nums)}): " + ", ".join(map(str, nums)))


LINK = re.compile(r"^(\d+)([-?])(\d+)$")


def check_part(name: str) -> tuple[list[str], dict]:
    errors: list[str] = []
    stats = {
        "pairs": 0,
        "sure": 0,
        "possible": 0,
        "de_tokens": 0,
        "en_tokens": 0,
        "de_unaligned": 0,
        "en_unaligned": 0,
    }
    files = {ext: GOLD_DIR / f"{name}.{ext}" for ext in ("de", "en", "gold")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        return [f"{name}: missing {', '.join(missing)}"], stats
    lines = {ext: p.read_text(encoding="utf-8").split("\n") for ext, p in files.items()}
    for ext, ls in lines.items():
        if ls and ls[-1] == "":
            ls.pop()
        else:
            errors.append(f"{name}.{ext}: no final newline")
    counts = {ext: len(ls) for ext, ls in lines.items()}
    if len(set(counts.values())) != 1:
        errors.append(f"{name}: line counts differ: {counts}")
    stats["pairs"] = min(counts.values())
    for k in range(stats["pairs"]):
        de = lines["de"][k].split()
        en = lines["en"][k].split()
        where = f"{name}.gold:{k + 1}"
        if not de or not en:
            errors.append(f"{where}: empty sentence")
        if lines["gold"][k] != lines["gold"][k].strip() or "  " in lines["gold"][k]:
            errors.append(f"{where}: extra whitespace")
        seen: dict[tuple[int, int], str] = {}
        for tok in lines["gold"][k].split():
            m = LINK.match(tok)
            if not m:
                errors.append(f"{where}: bad link {tok!r}")
                continue
            i, kind, j = int(m.group(1)), m.group(2), int(m.group(3))
            if i >= len(de):
                errors.append(f"{where}: {tok}: source index {i} >= {len(de)} tokens")
            if j >= len(en):
                errors.append(f"{where}: {tok}: target index {j} >= {len(en)} tokens")
            if (i, j) in seen:
                errors.append(f"{where}: duplicate link {i},{j} ({seen[(i, j)]} and {tok})")
                continue
            seen[(i, j)] = tok
            stats["sure" if kind == "-" else "possible"] += 1
        stats["de_tokens"] += len(de)
        stats["en_tokens"] += len(en)
        stats["de_unaligned"] += len(set(range(len(de))) - {i for i, _ in seen})
        stats["en_unaligned"] += len(set(range(len(en))) - {j for _, j in seen})
    return errors, stats


def check() -> int:
    names = sorted(p.stem for p in GOLD_DIR.glob("*.gold"))
    for name in PARTS:
        if name not in names:
            names.append(name)
    all_errors: list[str] = []
    total = {"pairs": 0, "sure": 0, "possible": 0}
    for name in names:
        errors, st = check_part(name)
        all_errors += errors
        for key in total:
            total[key] += st[key]
        print(
            f"{name}: {st['pairs']} pairs, {st['sure']} sure, {st['possible']} possible links; "
            f"tokens de {st['de_tokens']} en {st['en_tokens']}; unaligned de "
            f"{st['de_unaligned']} en {st['en_unaligned']}; {len(errors)} errors"
        )
    print(f"total: {total['pairs']} pairs, {total['sure']} sure, {total['possible']} possible links")
    for e in all_errors:
        print("ERROR", e, file=sys.stderr)
    return 1 if all_errors else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--extract", action="store_true", help="write tokenised NAME.de/NAME.en")
    g.add_argument("--check", action="store_true", help="check all parts in data/align-gold")
    g.add_argument("--lines", action="store_true", help="print selected source line numbers")
    args = ap.parse_args()
    if args.extract:
        extract()
    elif args.lines:
        print_lines()
    else:
        return check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
