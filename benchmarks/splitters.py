#!/usr/bin/env python3
"""Benchmark sentence splitters for nmt-cli (German and English input).

Standalone: ``python benchmarks/splitters.py`` prints markdown tables.  It
imports whichever candidate libraries are installed and skips the others
(sentencex, pysbd, nupunkt, syntok, minisbd), plus a naive regex baseline.

Development data only:

* newstest2013 (news, ``data/newstest/newstest2013.{de,en}.gz``) and
  Tatoeba dev (short conversational sentences, ``data/tatoeba/dev.{de,en}.gz``):
  consecutive lines, in file order, are joined with a single space into
  paragraphs of 3, 4, 5, 3, 4, 5, ... lines; the gold sentence boundaries are
  the line boundaries.
* ~25 hand-written hard cases per language (``HARD_CASES`` below).

Metrics:

* boundary precision / recall / F1.  A boundary is the character offset of the
  first non-whitespace character of every sentence but the first; predicted
  and gold boundaries are compared as sets, so whitespace attached to either
  side of a sentence does not matter.
* hard-case accuracy: share of hard cases whose sentence list (each sentence
  stripped of surrounding whitespace) equals the gold list exactly.
* speed: sentences/s over all newstest paragraphs (gold sentence count divided
  by the best of ``--repeat`` wall times of the offset-producing call, one
  call per paragraph, single thread).
* import time: fresh interpreter, ``import`` plus construction plus first split
  of one short sentence (median of ``--import-runs`` runs).
* text preservation: whether each returned span ``text[start:end]`` equals the
  returned sentence string and whether the spans tile the paragraph
  (only whitespace in the gaps), over every paragraph and hard case.

Keep runs light: the script is single-threaded; run it as
``nice -n 10 python benchmarks/splitters.py``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Single-threaded everywhere (sentencex is Rust, minisbd uses onnxruntime).
for _var in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LANGS = ("de", "en")
SIZES = (3, 4, 5)

# A split function returns (start, end, returned sentence string or None when
# the library returns no string of its own, e.g. syntok's token lists).
Piece = tuple[int, int, "str | None"]
SplitFn = Callable[[str], list[Piece]]


# --------------------------------------------------------------------------
# Hard cases: gold sentence lists; the text is the sentences joined by " ".
# --------------------------------------------------------------------------

HARD_CASES: dict[str, list[list[str]]] = {
    "de": [
        ["Wir brauchen z. B. Milch, Eier usw. für den Kuchen.", "Kannst du einkaufen?"],
        ["Er kommt am 3. Oktober zurück.", "Dann feiern wir."],
        ["Im 19. Jahrhundert wuchs die Stadt stark.", "Heute hat sie 2 Mio. Einwohner."],
        ["Dr. Müller und Prof. Schmidt haben den Vertrag unterschrieben.", "Er gilt ab sofort."],
        ["Das Haus Nr. 5 steht leer.", "Niemand weiß warum."],
        ["Die Kosten betragen ca. 3,5 Mio. Euro.", "Das ist zu viel."],
        ["Wir treffen uns am 24.12.2023 um 18.30 Uhr.", "Kommst du auch?"],
        ["Er sagte: „Ich komme morgen.“", "Dann legte er auf."],
        ["„Wo bist du?“, fragte sie.", "Er antwortete nicht."],
        ["Das war's dann wohl...", "Oder doch nicht?"],
        ["Er zögerte ... und ging dann doch."],
        ["Es gibt drei Gründe.", "1. Erstens ist es zu teuer.", "2. Zweitens ist es zu spät."],
        [
            "Mehr Infos unter www.beispiel.de/info.html oder per Mail an info@beispiel.de.",
            "Wir antworten schnell.",
        ],
        ["Der Herr der Ringe wurde von J. R. R. Tolkien geschrieben.", "Das Buch ist sehr lang."],
        ["Der Umsatz stieg um 4,5 Prozent auf 1.200 Euro.", "Der Gewinn sank."],
        ["Sie wohnt in der Goethestr. 12 in Berlin.", "Dort ist es ruhig."],
        ["Das Gesetz (vgl. Art. 3 GG) gilt für alle.", "Ausnahmen gibt es nicht."],
        ["Wie spät ist es?", "Keine Ahnung!", "Frag Tom."],
        ["Die Firma bzw. ihre Tochter hat u. a. Autos gebaut.", "Jetzt baut sie Räder."],
        ["Der Zug fährt um 10 Uhr ab, d. h. wir müssen uns beeilen.", "Bist du fertig?"],
        ["Am Montag, dem 1. Januar 2024, war Feiertag.", "Alle hatten frei."],
        ["Papst Benedikt XVI. besuchte Berlin.", "Viele Menschen kamen."],
        ["Das ist Herr Dr. med. Klaus Meier.", "Er ist Arzt."],
        ["Lesen Sie S. 12 ff. für Details.", "Danke!"],
        ["Der 1. FC Köln hat gewonnen.", "Die Fans feiern."],
        ["Das Spiel endete 2:1.", "Die Fans jubelten."],
        # Added after reviewing splitter disagreements on newstest2013 (dev):
        ['Er sagte: "Ich will sterben."', "Aber das stimmt nicht."],
        ["Die Arbeitslosigkeit sank.", "53 Prozent der Befragten waren zufrieden."],
        ["Das Haus wurde im 19. Jahrhundert gebaut.", "Es steht unter Denkmalschutz."],
    ],
    "en": [
        ["Mr. Smith went to Washington.", "He arrived on Monday."],
        ["The U.S. economy grew by 2.5 percent.", "Analysts were surprised."],
        ["He lives in the U.S.", "His sister lives in Canada."],
        ["Bring fruit, e.g. apples or pears.", "Don't bring candy."],
        ["Use the main entrance, i.e. the one on Elm St. next to the bank.", "It opens at 9 a.m. every day."],
        ["Dr. Jones and Prof. Brown met at 3 p.m. on Friday.", "They discussed the results."],
        ['She said, "I will be there at noon."', "Then she hung up."],
        ['"Where are you?" she asked.', "Nobody answered."],
        ["I don't know...", "Maybe tomorrow."],
        ["He hesitated ... and then left."],
        ["There are three steps.", "1. First, open the box.", "2. Second, remove the device."],
        ["Visit www.example.com/info.html or email info@example.com for details.", "We reply quickly."],
        ["The Lord of the Rings was written by J. R. R. Tolkien.", "It is a long book."],
        ["The meeting is on Oct. 3, 2023 at 10:30 a.m.", "Please be on time."],
        ["Apple Inc. reported record profits.", "Shares rose 3%."],
        ["The price is $3.50 per item.", "That is cheap."],
        ["World War II ended in 1945.", "Europe was in ruins."],
        ["He lives at No. 10 Downing Street.", "It is famous."],
        ["What time is it?", "No idea!", "Ask Tom."],
        ["Gen. Patton and Sen. Kennedy spoke at the event.", "The crowd cheered."],
        ["The file report.final.pdf is 2.3 MB large.", "Open it."],
        ["He was born in St. Louis on July 4, 1990.", "He moved to L.A. in 2010."],
        ["See p. 12 for details.", "Thank you!"],
        ["The company, i.e. its board, approved the plan.", "Work starts soon."],
        ["Ms. Lee (approx. 40 years old) was elected.", "She will serve four years."],
        ["The vote was 52 vs. 48.", "It passed."],
        # Added after reviewing splitter disagreements on newstest2013 (dev):
        ['"It is over."', "But nobody believed him."],
        ["Unemployment fell.", "53 percent of those asked were satisfied."],
    ],
}

# Newline behaviour probe (shown in the report, not scored).
NEWLINE_PROBE = {
    "de": "Das ist ein\nSatz. Und das\n\nist noch einer. Ende",
    "en": "This is a\nsentence. And this\n\nis another one. End",
}


# --------------------------------------------------------------------------
# Splitter adapters: each returns spans (start, end) into the input text.
# --------------------------------------------------------------------------


@dataclass
class Splitter:
    name: str
    version: str
    offsets: str  # how offsets are obtained
    make: Callable[[str], SplitFn]  # lang -> split function
    note: str = ""
    fns: dict[str, SplitFn] = field(default_factory=dict)

    def fn(self, lang: str) -> SplitFn:
        if lang not in self.fns:
            self.fns[lang] = self.make(lang)
        return self.fns[lang]


def spans_by_search(text: str, sentences: list[str]) -> list[Piece]:
    """Recover spans for libraries that return strings only."""
    spans: list[Piece] = []
    cursor = 0
    for s in sentences:
        core = s.strip()
        if not core:
            continue
        i = text.find(core, cursor)
        if i < 0:  # text was altered; give up on this sentence
            continue
        spans.append((i, i + len(core), s))
        cursor = i + len(core)
    return spans


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def load_splitters() -> tuple[list[Splitter], list[tuple[str, str]]]:
    found: list[Splitter] = []
    skipped: list[tuple[str, str]] = []

    # sentencex (Wikimedia; Rust core; rule based, per-language abbreviation lists)
    try:
        import sentencex

        def make_sentencex(lang: str) -> SplitFn:
            def split(text: str) -> list[Piece]:
                return [
                    (b["start_index"], b["end_index"], b["text"])
                    for b in sentencex.get_sentence_boundaries(lang, text)
                ]

            return split

        found.append(
            Splitter(
                "sentencex",
                _version("sentencex"),
                "direct: `get_sentence_boundaries(lang, text)`",
                make_sentencex,
            )
        )
    except ImportError as e:
        skipped.append(("sentencex", str(e)))

    # pysbd (rule based port of pragmatic_segmenter)
    try:
        import pysbd

        def make_pysbd(lang: str) -> SplitFn:
            seg = pysbd.Segmenter(language=lang, clean=False, char_span=True)

            def split(text: str) -> list[Piece]:
                return [(s.start, s.end, s.sent) for s in seg.segment(text)]

            return split

        found.append(
            Splitter(
                "pysbd",
                _version("pysbd"),
                "direct: `Segmenter(char_span=True)` (found by regex search inside pysbd)",
                make_pysbd,
            )
        )
    except ImportError as e:
        skipped.append(("pysbd", str(e)))

    # nupunkt (Punkt; one bundled model trained on English legal/financial text)
    try:
        import nupunkt

        def make_nupunkt(lang: str) -> SplitFn:
            nupunkt.sent_spans_with_text("Warm up.")  # loads the bundled model once

            def split(text: str) -> list[Piece]:
                return [(s, e, sent) for sent, (s, e) in nupunkt.sent_spans_with_text(text)]

            return split

        found.append(
            Splitter(
                "nupunkt",
                _version("nupunkt"),
                "direct: `sent_spans(text)`",
                make_nupunkt,
                note="no language parameter: bundled English model for both",
            )
        )
    except ImportError as e:
        skipped.append(("nupunkt", str(e)))

    # syntok (rule based tokenizer + segmenter; English/German/Spanish rules)
    try:
        import syntok.segmenter as syntok_segmenter

        def make_syntok(lang: str) -> SplitFn:
            def split(text: str) -> list[Piece]:
                spans: list[Piece] = []
                for para in syntok_segmenter.analyze(text):
                    for sent in para:
                        last = sent[-1]
                        spans.append((sent[0].offset, last.offset + len(last.value), None))
                return spans

            return split

        found.append(
            Splitter(
                "syntok",
                _version("syntok"),
                "token offsets: `analyze(text)` -> sentence[0].offset",
                make_syntok,
                note="no language parameter",
            )
        )
    except ImportError as e:
        skipped.append(("syntok", str(e)))

    # minisbd (LibreTranslate; ONNX model per language, fetched at run time)
    try:
        import minisbd
        import minisbd.models

        # SBDetect() downloads <lang>.onnx from GitHub on first use; never trigger
        # that here (nmt-cli must run offline): use it only if already cached.
        cached = [os.path.join(minisbd.models.cache_dir, f"{lg}.onnx") for lg in LANGS]
        try:
            missing = [c for c in cached if not os.path.isfile(c)]
            if missing:
                raise FileNotFoundError(
                    f"models not cached ({', '.join(missing)}); they are downloaded from "
                    f"{minisbd.models.REPO_URL} at first use"
                )

            def make_minisbd(lang: str) -> SplitFn:
                det = minisbd.SBDetect(lang, use_gpu=False, max_threads=1)

                def split(text: str) -> list[Piece]:
                    return spans_by_search(text, det.sentences(text))

                return split

            found.append(
                Splitter(
                    "minisbd",
                    _version("minisbd"),
                    "none: strings only, spans recovered by search",
                    make_minisbd,
                )
            )
        except Exception as e:  # model download fails without internet
            skipped.append(("minisbd", f"{_version('minisbd')} installed, not run: {e}"))
    except ImportError as e:
        skipped.append(("minisbd", str(e)))

    # nmt-cli-side post-rule on top of sentencex for German: re-join a split made
    # right after a bare 1-3 digit number with a period ("im 19. | Jahrhundert",
    # "Der 1. | FC Köln"), which German uses for ordinals.
    if any(sp.name == "sentencex" for sp in found):
        import sentencex

        ordinal_end = re.compile(r"(?:^|\s)\d{1,3}\.\s*$")

        def make_sentencex_ord(lang: str) -> SplitFn:
            def split(text: str) -> list[Piece]:
                out: list[tuple[int, int, str]] = []
                for b in sentencex.get_sentence_boundaries(lang, text):
                    s, e, t = b["start_index"], b["end_index"], b["text"]
                    if lang == "de" and out and ordinal_end.search(out[-1][2]):
                        ps, _, pt = out.pop()
                        out.append((ps, e, pt + t))
                    else:
                        out.append((s, e, t))
                return list(out)

            return split

        found.append(
            Splitter(
                "sentencex+ordfix",
                _version("sentencex"),
                "direct (as sentencex)",
                make_sentencex_ord,
                note="sentencex + German ordinal re-join (nmt-cli side, 10 lines)",
            )
        )

        # What nmt-cli ships: sentencex + its post-rules (nmt_cli/documents/split.py).
        sys.path.insert(0, str(ROOT))
        from nmt_cli.documents.split import sentence_spans

        def make_nmt_cli(lang: str) -> SplitFn:
            def split(text: str) -> list[Piece]:
                return [(s, e, text[s:e]) for s, e in sentence_spans(text, lang)]

            return split

        found.append(
            Splitter(
                "sentencex+rules",
                _version("sentencex"),
                "direct (as sentencex)",
                make_nmt_cli,
                note="nmt-cli: sentencex + ordinal, digit-start and numbered-list post-rules",
            )
        )

    # Naive baseline: split after . ! ? (and closing quotes) before an upper-case start.
    boundary = re.compile(r"(?<=[.!?…])([\"'“”»«]?)\s+(?=[\"„“«»(]?[A-ZÄÖÜ0-9])")

    def make_regex(lang: str) -> SplitFn:
        def split(text: str) -> list[Piece]:
            spans: list[Piece] = []
            start = 0
            for m in boundary.finditer(text):
                spans.append((start, m.end(1), None))
                start = m.end()
            spans.append((start, len(text), None))
            return spans

        return split

    found.append(
        Splitter(
            "regex baseline", "-", "direct (re.finditer)", make_regex, note="`[.!?…]` + space + capital/digit"
        )
    )
    return found, skipped


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


@dataclass
class Paragraph:
    text: str
    gold: set[int]  # boundary offsets
    n_sent: int
    gold_after_unpunct: set[int]  # gold boundaries following a line without final punctuation


FINAL_PUNCT = re.compile(r"[.!?…\"'“”»«):;]\s*$")


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def make_paragraphs(lines: list[str]) -> list[Paragraph]:
    paras, i, k = [], 0, 0
    while i < len(lines):
        chunk = [line.strip() for line in lines[i : i + SIZES[k % len(SIZES)]]]
        i += len(chunk)
        k += 1
        text, gold, unp, pos = "", set(), set(), 0
        for j, line in enumerate(chunk):
            if j:
                text += " "
                pos += 1
                gold.add(pos)
                if not FINAL_PUNCT.search(chunk[j - 1]):
                    unp.add(pos)
            text += line
            pos += len(line)
        paras.append(Paragraph(text, gold, len(chunk), unp))
    return paras


def hard_paragraphs(lang: str) -> list[tuple[str, list[str]]]:
    return [(" ".join(sents), sents) for sents in HARD_CASES[lang]]


def datasets() -> dict[tuple[str, str], list[Paragraph]]:
    out = {}
    for lang in LANGS:
        out[("newstest2013", lang)] = make_paragraphs(
            read_lines(DATA / "newstest" / f"newstest2013.{lang}.gz")
        )
        out[("tatoeba-dev", lang)] = make_paragraphs(read_lines(DATA / "tatoeba" / f"dev.{lang}.gz"))
    return out


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def boundaries(text: str, spans: list[Piece]) -> set[int]:
    starts = set()
    for s, e, _ in spans:
        seg = text[s:e]
        core = seg.lstrip()
        if not core.strip():
            continue
        starts.add(s + len(seg) - len(core))
    first = len(text) - len(text.lstrip())
    starts.discard(first)
    return starts


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@dataclass
class Score:
    p: float
    r: float
    f: float
    r_punct: float  # recall on gold boundaries after a punctuated line
    fp: int
    fn: int


def score_set(split: SplitFn, paras: list[Paragraph]) -> Score:
    tp = n_pred = n_gold = tp_p = n_gold_p = 0
    for para in paras:
        pred = boundaries(para.text, split(para.text))
        tp += len(pred & para.gold)
        n_pred += len(pred)
        n_gold += len(para.gold)
        punct_gold = para.gold - para.gold_after_unpunct
        tp_p += len(pred & punct_gold)
        n_gold_p += len(punct_gold)
    p, r, f = prf(tp, n_pred, n_gold)
    return Score(p, r, f, tp_p / n_gold_p if n_gold_p else 1.0, n_pred - tp, n_gold - tp)


def sentences_of(text: str, spans: list[Piece]) -> list[str]:
    return [text[s:e].strip() for s, e, _ in spans if text[s:e].strip()]


def hard_score(split: SplitFn, lang: str) -> tuple[int, int, list[tuple[list[str], list[str]]]]:
    ok, fails = 0, []
    cases = hard_paragraphs(lang)
    for text, gold in cases:
        pred = sentences_of(text, split(text))
        if pred == gold:
            ok += 1
        else:
            fails.append((gold, pred))
    return ok, len(cases), fails


DETACHED_QUOTE = re.compile(r'^["“”„»«]\s|\s["“”„»«]$|^["“”„»«]$')


def preservation(sp: Splitter, texts_by_lang: dict[str, list[str]]) -> tuple[int, int, int, int]:
    """(texts, spans whose text differs from the returned string, texts whose
    spans do not tile the input, sentences with a detached quote mark).

    Tiling: spans in order, not overlapping, only whitespace outside them, so
    the input can be re-assembled from the spans and the gaps between them.
    Detached quote: a sentence that starts with a quote mark followed by a space
    (the closing quote of the previous sentence) or ends with a space and a quote
    mark (the opening quote of the next one).
    """
    n = mismatch = not_tiled = detached = 0
    for lang, texts in texts_by_lang.items():
        split = sp.fn(lang)
        for text in texts:
            n += 1
            cursor, ok = 0, True
            for s, e, returned in split(text):
                if s < cursor or text[cursor:s].strip():
                    ok = False
                cursor = max(cursor, e)
                if returned is not None and text[s:e] != returned:
                    mismatch += 1
                detached += bool(DETACHED_QUOTE.search(text[s:e].strip()))
            if text[cursor:].strip():
                ok = False
            not_tiled += not ok
    return n, mismatch, not_tiled, detached


def time_split(split: SplitFn, paras: list[Paragraph], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for para in paras:
            split(para.text)
        best = min(best, time.perf_counter() - t0)
    return best


IMPORT_SNIPPETS = {
    "sentencex": "import sentencex; sentencex.get_sentence_boundaries('de', 'Ein Satz. Noch einer.')",
    "pysbd": (
        "import pysbd; "
        "pysbd.Segmenter(language='de', clean=False, char_span=True).segment('Ein Satz. Noch einer.')"
    ),
    "nupunkt": "import nupunkt; nupunkt.sent_spans('Ein Satz. Noch einer.')",
    "syntok": "import syntok.segmenter as s; list(s.analyze('Ein Satz. Noch einer.'))",
    "sentencex+ordfix": "import sentencex; sentencex.get_sentence_boundaries('de', 'Ein Satz. Noch einer.')",
    "regex baseline": "import re; re.compile(r'(?<=[.!?])\\s+').split('Ein Satz. Noch einer.')",
}


def import_time(name: str, runs: int) -> tuple[float, float] | None:
    snippet = IMPORT_SNIPPETS.get(name)
    if snippet is None:
        return None
    code = (
        "import time; t0=time.perf_counter(); "
        + snippet.split(";")[0]
        + "; t1=time.perf_counter(); "
        + ";".join(snippet.split(";")[1:])
        + "; t2=time.perf_counter(); print(t1-t0, t2-t0)"
    )
    imp, tot = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        imp.append(float(out[0]))
        tot.append(float(out[1]))
    return statistics.median(imp), statistics.median(tot)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timing repetitions (best is kept)")
    ap.add_argument("--import-runs", type=int, default=5, help="fresh interpreters for import time")
    ap.add_argument("--only", nargs="*", help="restrict to these splitter names")
    ap.add_argument("--show-failures", action="store_true", help="list failed hard cases")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    splitters, skipped = load_splitters()
    if args.only:
        splitters = [s for s in splitters if s.name in args.only]
    data = datasets()
    sets = list(data)

    # ---- measure
    acc: dict[tuple[str, str, str], Score] = {}
    hard: dict[tuple[str, str], tuple[int, int, list]] = {}
    speed: dict[str, tuple[float, float, float]] = {}
    imports: dict[str, tuple[float, float] | None] = {}
    preserve: dict[str, tuple[int, int, int, int]] = {}
    long_para: dict[str, float] = {}
    long_lines = read_lines(DATA / "newstest" / "newstest2013.de.gz")[:200]
    long_text = " ".join(line.strip() for line in long_lines)
    texts = {
        lang: [p.text for (_, lg), ps in data.items() if lg == lang for p in ps]
        + [t for t, _ in hard_paragraphs(lang)]
        for lang in LANGS
    }
    for sp in splitters:
        for name, lang in sets:
            acc[(sp.name, name, lang)] = score_set(sp.fn(lang), data[(name, lang)])
        for lang in LANGS:
            hard[(sp.name, lang)] = hard_score(sp.fn(lang), lang)
        rates, total_t, total_n = [], 0.0, 0
        for lang in LANGS:
            paras = data[("newstest2013", lang)]
            n = sum(p.n_sent for p in paras)
            t = time_split(sp.fn(lang), paras, args.repeat)
            rates.append(n / t)
            total_t += t
            total_n += n
        speed[sp.name] = (rates[0], rates[1], 1e6 * total_t / total_n)
        t0 = time.perf_counter()
        sp.fn("de")(long_text)
        long_para[sp.name] = 1e6 * (time.perf_counter() - t0) / len(long_lines)
        imports[sp.name] = import_time(sp.name, args.import_runs)
        preserve[sp.name] = preservation(sp, texts)

    # ---- report
    print("# Sentence splitter benchmark\n")
    print(
        f"- python {platform.python_version()}, CPU: {cpu_model()}, load average at start: {load0:.2f}, "
        f"at end: {os.getloadavg()[0]:.2f}"
    )
    print(f"- paragraphs: consecutive lines joined by one space, sizes cycling {SIZES}")
    for (name, lang), paras in data.items():
        n_gold = sum(len(p.gold) for p in paras)
        n_unp = sum(len(p.gold_after_unpunct) for p in paras)
        print(
            f"  - {name}.{lang}: {len(paras)} paragraphs, {sum(p.n_sent for p in paras)} sentences, "
            f"{n_gold} gold boundaries ({n_unp} after a line without final punctuation)"
        )
    print(f"- hard cases: {', '.join(f'{lg}: {len(HARD_CASES[lg])}' for lg in LANGS)}")
    for name, why in skipped:
        print(f"- skipped {name}: {why}")
    print()

    print("## Summary\n")
    print("F1 % of sentence boundaries; hard = exact sentence lists; speed on newstest2013 paragraphs.\n")
    print(
        "| splitter | version | news de | news en | tatoeba de | tatoeba en | hard de | hard en "
        "| µs/sentence | import + first split ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for sp in splitters:
        f = [
            100 * acc[(sp.name, n, lg)].f
            for n, lg in (
                ("newstest2013", "de"),
                ("newstest2013", "en"),
                ("tatoeba-dev", "de"),
                ("tatoeba-dev", "en"),
            )
        ]
        h = [f"{hard[(sp.name, lg)][0]}/{hard[(sp.name, lg)][1]}" for lg in LANGS]
        it = imports[sp.name]
        it_ms = f"{1000 * it[1]:.0f}" if it else "-"
        print(
            f"| {sp.name} | {sp.version} | "
            + " | ".join(f"{x:.1f}" for x in f)
            + f" | {h[0]} | {h[1]} | {speed[sp.name][2]:.1f} | {it_ms} |"
        )
    print()

    print("## Libraries\n")
    print("| splitter | version | offsets | note |\n|---|---|---|---|")
    for sp in splitters:
        print(f"| {sp.name} | {sp.version} | {sp.offsets} | {sp.note} |")
    print()

    print("## Boundary accuracy (P / R / F1, %)\n")
    header = " | ".join(f"{n} {lg}" for n, lg in sets)
    print(f"| splitter | {header} | hard de | hard en |")
    print("|---|" + "---|" * (len(sets) + 2))
    for sp in splitters:
        cells = []
        for name, lang in sets:
            sc = acc[(sp.name, name, lang)]
            cells.append(f"{100 * sc.p:.1f} / {100 * sc.r:.1f} / **{100 * sc.f:.1f}**")
        for lang in LANGS:
            ok, n, _ = hard[(sp.name, lang)]
            cells.append(f"{ok}/{n}")
        print(f"| {sp.name} | " + " | ".join(cells) + " |")
    print()

    print("## Error counts and recall on punctuated gold boundaries\n")
    print(
        "FP = predicted boundary inside a gold line (some are real: a line may hold two sentences), "
        "FN = missed line boundary; R punct = recall over gold boundaries whose preceding line "
        "ends in punctuation.\n"
    )
    print("| splitter | set | FP | FN | R punct % |\n|---|---|---|---|---|")
    for sp in splitters:
        for name, lang in sets:
            sc = acc[(sp.name, name, lang)]
            print(f"| {sp.name} | {name} {lang} | {sc.fp} | {sc.fn} | {100 * sc.r_punct:.1f} |")
    print()

    print(f"## Speed (newstest2013 paragraphs, one call per paragraph, best of {args.repeat})\n")
    print(f"Import: fresh interpreter, median of {args.import_runs}.\n")
    print("One long paragraph: the first 200 lines of newstest2013.de as a single text, one call.\n")
    print(
        "| splitter | de sent/s | en sent/s | µs/sentence (de+en) | µs/sentence, one 200-line paragraph "
        "| import ms | import + first split ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for sp in splitters:
        de, en, us = speed[sp.name]
        it = imports[sp.name]
        it_s = (f"{1000 * it[0]:.0f}", f"{1000 * it[1]:.0f}") if it else ("-", "-")
        print(
            f"| {sp.name} | {de:,.0f} | {en:,.0f} | {us:.1f} | {long_para[sp.name]:.1f} "
            f"| {it_s[0]} | {it_s[1]} |"
        )
    print()

    print("## Text preservation (all paragraphs + hard cases)\n")
    print(
        "| splitter | texts | span text != returned string | texts whose spans do not tile the input "
        "| sentences with a detached quote mark |"
    )
    print("|---|---|---|---|---|")
    for sp in splitters:
        n, mism, nt, dq = preserve[sp.name]
        print(f"| {sp.name} | {n} | {mism} | {nt} | {dq} |")
    print()

    print("## Newline handling (probe, not scored)\n")
    print("| splitter | lang | pieces returned for the probe |\n|---|---|---|")
    for sp in splitters:
        for lang in LANGS:
            text = NEWLINE_PROBE[lang]
            out = [text[s:e] for s, e, _ in sp.fn(lang)(text)]
            print(f"| {sp.name} | {lang} | " + " · ".join(f"`{s!r}`" for s in out) + " |")
    print(f"\nprobe texts: `{NEWLINE_PROBE!r}`\n")

    if args.show_failures:
        print("## Hard-case failures\n")
        for sp in splitters:
            for lang in LANGS:
                for _gold, pred in hard[(sp.name, lang)][2]:
                    print(f"- {sp.name} {lang}: got {pred!r}")
        print()


if __name__ == "__main__":
    main()
