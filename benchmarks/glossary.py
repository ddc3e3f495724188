"""Glossaries, protected spans and confidence measured on development data (docs/glossaries.md).

    python -m benchmarks.glossary build       # data/glossary-dev/ from the Ding dictionary (once)
    python -m benchmarks.glossary terms       # term use rate, BLEU and speed, without/with --glossary
    python -m benchmarks.glossary protect     # exact-copy rate of numbers/URLs, without/with protection
    python -m benchmarks.glossary build-tech  # data/glossary-dev/tech.{de,en} from free-software manuals
    python -m benchmarks.glossary spans       # BLEU/chrF of sentences with protected spans, without/with
    python -m benchmarks.glossary confidence  # Pearson/Spearman of sentence score vs sentence chrF
    python -m benchmarks.glossary reverse     # the same with the reverse model's score (models/en-de)

Heavy: run as `flock /tmp/heavy.lock nice -n 5 .venv/bin/python -m benchmarks.glossary ...`.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEV = {
    "multi30k": ("data/multi30k/val.de.gz", "data/multi30k/val.en.gz"),
    "tatoeba": ("data/tatoeba/dev.de.gz", "data/tatoeba/dev.en.gz"),
    "newstest2013": ("data/newstest/newstest2013.de.gz", "data/newstest/newstest2013.en.gz"),
}
OUT = Path("data/glossary-dev")
DING = Path("/work/shared/data/extra/ding")
STOP = {"der", "die", "das", "ein", "eine", "und", "oder", "in", "im", "am", "an", "auf", "mit", "von"}
STOP |= {"zu", "zum", "zur", "ist", "sind", "war", "the", "a", "of", "to"}


def read(path: str | Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def words_in(term: str, text: str) -> bool:
    """`term` in `text` as whole words, as written or with a capital first letter."""
    forms = {term, term[:1].upper() + term[1:]}
    return any(re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text) for f in forms)


def build(per_set: int = 150, seed: int = 1) -> None:
    """Sentences of Multi30k val and Tatoeba dev with one or two source terms (a Ding entry
    whose German side starts with a capital: nouns and names, as glossaries hold) whose
    translation occurs in the reference as written; the glossary is the union of their terms
    (a source term with two different translations is left out)."""
    import random

    from nmt_cli.decoding.glossary import Glossary

    entries: dict[str, str] = {}
    for de, en in zip(read(DING / "ding-phrases.de.gz"), read(DING / "ding-phrases.en.gz")):
        de, en = de.strip(), en.strip()
        if "(" in de + en or "{" in de + en or not (1 <= len(de.split()) <= 3 and 1 <= len(en.split()) <= 3):
            continue
        if len(de) < 4 or de.casefold() in STOP or en.casefold() in STOP or de.casefold() == en.casefold():
            continue
        if not de[0].isupper():  # content terms, as glossaries hold: Ding writes nouns capitalised
            continue
        entries.setdefault(de.casefold(), en)
    rng = random.Random(seed)
    rows = []
    for name in ("multi30k", "tatoeba"):
        src, ref = read(DEV[name][0]), read(DEV[name][1])
        found = []
        for i, (s, r) in enumerate(zip(src, ref)):
            tokens = re.findall(r"\w+", s)
            grams = {" ".join(tokens[j : j + n]) for n in (3, 2, 1) for j in range(len(tokens) - n + 1)}
            hits = [(g, entries[g.casefold()]) for g in grams if g.casefold() in entries]
            hits = [(g, t) for g, t in hits if words_in(t, r) and words_in(g, s)]
            if hits:
                hits.sort(key=lambda h: -len(h[0]))
                found.append((name, i, s, r, hits[: rng.choice((1, 2))]))
        rows += rng.sample(found, min(per_set, len(found)))
    glossary: dict[str, set[str]] = {}
    for *_, hits in rows:
        for g, t in hits:
            glossary.setdefault(g.casefold(), set()).add(t)
    # A glossary holds terms that are always right: keep those whose translation is in the
    # reference of every chosen sentence they match (as `--glossary` matches them).
    for g, ts in list(glossary.items()):
        matcher = Glossary.from_pairs([(_written(g, rows), "x")])
        if len(ts) != 1 or any(
            matcher.matches(s) and not words_in(next(iter(ts)), r) for _, _, s, r, _ in rows
        ):
            glossary[g] = set()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dev.de").write_text("".join(r[2] + "\n" for r in rows), encoding="utf-8")
    (OUT / "dev.en").write_text("".join(r[3] + "\n" for r in rows), encoding="utf-8")
    with open(OUT / "terms.tsv", "w", encoding="utf-8") as f:
        for k, (name, i, _, _, hits) in enumerate(rows):
            for g, t in hits:
                if len(glossary[g.casefold()]) == 1:
                    f.write(f"{k + 1}\t{name}:{i + 1}\t{g}\t{t}\n")
    with open(OUT / "glossary.tsv", "w", encoding="utf-8") as f:
        for g, ts in sorted(glossary.items()):
            if len(ts) == 1:
                f.write(f"{_written(g, rows)}\t{next(iter(ts))}\n")
    print(f"{len(rows)} sentences, {sum(len(t) == 1 for t in glossary.values())} terms in {OUT}")


def _written(key: str, rows: list[Any]) -> str:
    """A term as the dictionary capitalises it (nouns), from the sentences that use it."""
    forms = [g for *_, hits in rows for g, _ in hits if g.casefold() == key]
    return key[:1].upper() + key[1:] if any(f[:1].isupper() for f in forms) else key


def load(beam: int) -> Any:
    import torch

    from nmt_cli.config import RuntimeConfig
    from nmt_cli.decoding.session import load_for_decoding

    torch.set_num_threads(1)
    return load_for_decoding(None, RuntimeConfig(threads=1))


def timed_pair(loaded: Any, lines: Sequence[str], base: Any, other: Any, chunk: int = 25) -> Any:
    """Both configurations' translations, run interleaved chunk by chunk, and their seconds."""
    from nmt_cli.decoding.translate import translate

    outs: list[list] = [[], []]
    seconds = [0.0, 0.0]
    for start in range(0, len(lines), chunk):
        part = lines[start : start + chunk]
        for j, cfg in enumerate((base, other)):
            t = time.perf_counter()
            outs[j] += translate(loaded.model, loaded.tokenizer, part, cfg)
            seconds[j] += time.perf_counter() - t
    return outs, seconds


def terms(beam: int = 5) -> None:
    from dataclasses import replace

    from sacrebleu.metrics import BLEU

    from nmt_cli.config import DecodeConfig

    src, ref = read(OUT / "dev.de"), read(OUT / "dev.en")
    wanted = [line.split("\t") for line in read(OUT / "terms.tsv")]
    loaded = load(beam)
    for k in (1, beam):
        base = DecodeConfig(beam_size=k)
        (plain, glossed), secs = timed_pair(
            loaded, src, base, replace(base, glossary=str(OUT / "glossary.tsv"))
        )
        for label, outs, s in (("without", plain, secs[0]), ("with --glossary", glossed, secs[1])):
            hyps = [t.text for t in outs]
            used = sum(words_in(t, hyps[int(n) - 1]) for n, _, _, t in wanted)
            bleu = BLEU().corpus_score(hyps, [ref]).score
            print(
                f"beam {k} {label}: term use {100 * used / len(wanted):.1f}% ({used}/{len(wanted)}), "
                f"BLEU {bleu:.2f}, {1000 * s / len(src):.0f} ms/sentence"
            )


SPAN = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|(?<!\w)\d+(?:[.,:/-]\d+)*(?!\w)")


def protect(max_per_set: int = 100, beam: int = 5) -> None:
    from nmt_cli.config import DecodeConfig

    loaded = load(beam)
    for name, (s_path, _) in DEV.items():
        src = [s for s in read(s_path) if SPAN.search(s)][:max_per_set]
        spans = [[m.group().rstrip(".,;:!?)") for m in SPAN.finditer(s)] for s in src]
        base = DecodeConfig(beam_size=beam)
        from dataclasses import replace

        (plain, kept), secs = timed_pair(loaded, src, base, replace(base, protect=True))
        total = sum(len(s) for s in spans)
        for label, outs in (("before", plain), ("after", kept)):
            ok = sum(copied(span, t.text) for sp, t in zip(spans, outs) for span in sp)
            print(
                f"{name}: {len(src)} sentences, {total} numbers/URLs; {label}: {100 * ok / total:.1f}% copied"
            )
        print(
            f"{name}: {1000 * secs[0] / len(src):.0f} ms/sentence without, "
            f"{1000 * secs[1] / len(src):.0f} with protection (x{secs[1] / secs[0]:.2f})"
        )


EXTRA = Path("/work/shared/data/extra")
TECH: tuple[str, ...] = (
    "debian-docs/debian-reference",
    "debian-docs/debian-handbook",
    "gnome-user-docs/gnome-user-docs",
)
TECH += ("libreoffice-help/lohelp", "manpages-l10n-de/manpages")


def build_tech(per_set: int = 60, seed: int = 7) -> None:
    """data/glossary-dev/tech.{de,en}: sentences of free-software manuals (never trained on)
    whose protected spans include one that is not a bare number (a path, URL, e-mail, `code`)
    and appear as written in the reference; 5-30 words, no markup, `per_set` of each manual."""
    import random

    from nmt_cli.decoding.terms import Protector

    protector, rng = Protector.build(), random.Random(seed)
    out_de, out_en = [], []
    for name in TECH:
        rows = []
        for de, en in zip(read(EXTRA / f"{name}.de.gz"), read(EXTRA / f"{name}.en.gz")):
            spans = [de[a:b] for a, b in protector.spans(de)]
            wordy = any(len(s) >= 4 and not s.replace(".", "").replace(",", "").isdigit() for s in spans)
            if 5 <= len(de.split()) <= 30 and wordy and "<" not in de and all(s in en for s in spans):
                rows.append((de, en))
        rng.shuffle(rows)
        out_de += [de for de, _ in rows[:per_set]]
        out_en += [en for _, en in rows[:per_set]]
    (OUT / "tech.de").write_text("\n".join(out_de) + "\n", encoding="utf-8")
    (OUT / "tech.en").write_text("\n".join(out_en) + "\n", encoding="utf-8")


def spans(beam: int = 5) -> None:
    """BLEU, chrF and exact-copy rate of protected spans, without and with protection: the
    dev sentences with numbers or URLs (100 per dev set) and the technical ones (tech.de)."""
    from dataclasses import replace

    from sacrebleu.metrics import BLEU, CHRF

    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.terms import Protector

    general: list[tuple[str, str]] = []
    for s_path, r_path in DEV.values():
        general += [(s, r) for s, r in zip(read(s_path), read(r_path)) if SPAN.search(s)][:100]
    tech = list(zip(read(OUT / "tech.de"), read(OUT / "tech.en")))
    loaded, protector = load(beam), Protector.build()
    for name, pairs in (("everyday (numbers, URLs)", general), ("technical (paths, URLs)", tech)):
        src, ref = [s for s, _ in pairs], [r for _, r in pairs]
        wanted = [[s[a:b] for a, b in protector.spans(s)] for s in src]
        base = DecodeConfig(beam_size=beam)
        (plain, kept), secs = timed_pair(loaded, src, base, replace(base, protect=True))
        for label, outs, sec in (("without", plain, secs[0]), ("with --protect", kept, secs[1])):
            hyps = [t.text for t in outs]
            ok = sum(copied(w, h) for ws, h in zip(wanted, hyps) for w in ws)
            bleu, chrf = BLEU().corpus_score(hyps, [ref]).score, CHRF().corpus_score(hyps, [ref]).score
            print(
                f"{name}, {len(src)} sentences, beam {beam}, {label}: BLEU {bleu:.2f}, chrF {chrf:.2f}, "
                f"spans copied {100 * ok / sum(map(len, wanted)):.1f}%, {1000 * sec / len(src):.0f} ms/sent"
            )


def copied(span: str, text: str) -> bool:
    """`span` in `text` whole: no letter or digit glued on either side (`3` is not in `31`)."""
    return re.search(rf"(?<![^\W_]){re.escape(span)}(?![^\W_])", text) is not None


def ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for m in range(i, j + 1):
            r[order[m]] = (i + j) / 2
        i = j + 1
    return r


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def confidence(max_per_set: int = 500, beam: int = 5) -> None:
    from sacrebleu.metrics import CHRF

    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.confidence import confidences
    from nmt_cli.decoding.translate import translate

    loaded = load(beam)
    chrf = CHRF()
    for name, (s_path, r_path) in DEV.items():
        src, ref = read(s_path)[:max_per_set], read(r_path)[:max_per_set]
        outs = translate(loaded.model, loaded.tokenizer, src, DecodeConfig(beam_size=beam))
        scored = confidences(loaded.model, loaded.tokenizer, src, [t.text for t in outs])
        scores = [c.score for c in scored]
        quality = [chrf.sentence_score(t.text, [r]).score for t, r in zip(outs, ref)]
        print(
            f"{name}: {len(src)} sentences; Pearson {pearson(scores, quality):.3f}, "
            f"Spearman {pearson(ranks(scores), ranks(quality)):.3f}"
        )
        Path("/tmp/x").mkdir(exist_ok=True)
        Path(f"/tmp/x/conf-{name}.json").write_text(json.dumps([scores, quality]))


def reverse(max_per_set: int = 500, beam: int = 5) -> None:
    """As `confidence`, with the reverse model's (models/en-de) forced-decoding score of the
    source given the translation, alone and combined with the forward score."""
    from sacrebleu.metrics import CHRF

    from nmt_cli.config import DecodeConfig, RuntimeConfig
    from nmt_cli.decoding.confidence import confidences
    from nmt_cli.decoding.session import load_for_decoding
    from nmt_cli.decoding.translate import translate

    fwd, rev = load(beam), load_for_decoding(Path("models/en-de"), RuntimeConfig(threads=1))
    chrf = CHRF()
    for name, (s_path, r_path) in DEV.items():
        src, ref = read(s_path)[:max_per_set], read(r_path)[:max_per_set]
        hyps = [t.text for t in translate(fwd.model, fwd.tokenizer, src, DecodeConfig(beam_size=beam))]
        f = [c.score for c in confidences(fwd.model, fwd.tokenizer, src, hyps)]
        r = [c.score for c in confidences(rev.model, rev.tokenizer, hyps, src)]
        quality = [chrf.sentence_score(h, [x]).score for h, x in zip(hyps, ref)]
        combined = {"forward": f, "reverse": r, "geometric mean": [math.sqrt(a * b) for a, b in zip(f, r)]}
        for label, scores in combined.items():
            print(
                f"{name}: {len(src)} sentences; {label}: Pearson {pearson(scores, quality):.3f}, "
                f"Spearman {pearson(ranks(scores), ranks(quality)):.3f}"
            )


if __name__ == "__main__":
    commands: dict[str, Callable[[], None]] = {
        "build": build,
        "terms": terms,
        "protect": protect,
        "confidence": confidence,
        "reverse": reverse,
        "build-tech": build_tech,
        "spans": spans,
    }
    commands[sys.argv[1]]()
