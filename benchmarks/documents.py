"""Documents on development data: paragraph BLEU with and without sentence splitting, a small
inline-markup dev set (built here, from Multi30k val) scored for well-formedness, tag placement
and BLEU, and the cost per sentence of documents against one sentence per line.

    python -m benchmarks.documents paragraphs   # newstest2013, de-en, greedy
    python -m benchmarks.documents markup       # Multi30k val, 150 tagged sentences
    python -m benchmarks.documents speed        # interleaved timings

Run heavy jobs under the shared lock: flock /tmp/heavy.lock nice -n 5 .venv/bin/python -m ...
"""

from __future__ import annotations

import argparse
import json
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sacrebleu.metrics import BLEU

from nmt_cli.config import DecodeConfig, RuntimeConfig
from nmt_cli.decoding.session import load_for_decoding
from nmt_cli.documents.translate import (
    DocumentConfig,
    attention_translator,
    document_config,
    search_translator,
    subword_measure,
    translate_with,
)
from nmt_cli.io.lines import read_lines

SIZES = (3, 4, 5)
# Source words whose translation is unambiguous in Multi30k: the tagged dev set wraps these.
DICTIONARY = {
    "Hund": "dog", "Hunde": "dogs", "Mann": "man", "Männer": "men", "Frau": "woman", "Frauen": "women",
    "Junge": "boy", "Mädchen": "girl", "Kind": "child", "Kinder": "children", "Straße": "street",
    "Ball": "ball", "Wasser": "water", "Strand": "beach", "Fahrrad": "bicycle", "Hemd": "shirt",
    "rotes": "red", "roten": "red", "rote": "red", "roter": "red", "blauen": "blue", "blaues": "blue",
    "blaue": "blue", "blauer": "blue", "schwarzen": "black", "schwarze": "black", "weißen": "white",
    "weiße": "white", "grünen": "green", "gelben": "yellow", "Gitarre": "guitar", "Schnee": "snow",
    "Gras": "grass", "Auto": "car", "Pferd": "horse", "Baby": "baby", "Hut": "hat", "Gebäude": "building",
}  # fmt: skip
TAGS = ("b", "i", "em", "strong", "span")


def paragraphs(lines: Sequence[str]) -> list[list[str]]:
    """Consecutive lines grouped 3, 4, 5, 3, 4, 5, ..."""
    out, at, k = [], 0, 0
    while at < len(lines):
        n = SIZES[k % len(SIZES)]
        out.append(list(lines[at : at + n]))
        at, k = at + n, k + 1
    return out


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    return float(BLEU().corpus_score(list(hyps), [list(refs)]).score)


def load(threads: int, model: str | None = None) -> Any:
    """The model directory `model`, or the shipped model."""
    return load_for_decoding(Path(model) if model else None, RuntimeConfig(device="cpu", threads=threads))


def run_paragraphs(args: argparse.Namespace) -> dict[str, Any]:
    loaded = load(args.threads, args.model)
    decode = DecodeConfig(beam_size=args.beam)
    src = read_lines("data/newstest/newstest2013.de.gz")[: args.limit or None]
    ref = read_lines("data/newstest/newstest2013.en.gz")[: args.limit or None]
    groups, ref_groups = paragraphs(src), paragraphs(ref)
    translator, measure = (
        search_translator(loaded.model, loaded.tokenizer, decode),
        subword_measure(loaded.tokenizer),
    )
    split = document_config(loaded.config)
    none = DocumentConfig(split="none")
    times: dict[str, float] = {}

    def timed(name: str, lines: Sequence[str], cfg: DocumentConfig) -> list[str]:
        start = time.perf_counter()
        out = translate_with("\n".join(lines), cfg, translator, measure).split("\n")
        times[name] = time.perf_counter() - start
        return out

    per_sentence = timed("sentences one per line", src, none)
    joined_sentences, at = [], 0
    for g in groups:
        joined_sentences.append(" ".join(per_sentence[at : at + len(g)]))
        at += len(g)
    para_lines = [" ".join(g) for g in groups]
    split_out = timed("paragraphs, split", para_lines, split)
    unsplit_out = timed("paragraphs, no split", para_lines, none)
    refs = [" ".join(g) for g in ref_groups]
    return {
        "paragraphs": len(groups),
        "sentences": len(src),
        "beam": args.beam,
        "bleu": {
            "sentences one per line, joined": bleu(joined_sentences, refs),
            "paragraphs, --split sentences": bleu(split_out, refs),
            "paragraphs, --split none (old)": bleu(unsplit_out, refs),
        },
        "seconds": times,
    }


def _tag(word: str, i: int) -> str:
    if i % 5 == 1:
        return f'<a href="https://example.org/{i}">{word}</a>'
    return f"<{TAGS[i % len(TAGS)]}>{word}</{TAGS[i % len(TAGS)]}>"


def tagged_sentence(line: str, i: int) -> str | None:
    """`line` with inline tags around dictionary words (one, two, or a nested pair), and every
    third one a <br/>; None when it holds no dictionary word."""
    words = line.split()
    hits = [j for j, w in enumerate(words) if w.strip(".,;:!?") in DICTIONARY and w[-1].isalpha()]
    if not hits:
        return None
    first = hits[0]
    if i % 4 == 3 and len(hits) > 1:  # nested: <strong>w ... <i>w2</i></strong>
        last = hits[1]
        words[last] = f"<i>{words[last]}</i>"
        words[first] = f"<strong>{words[first]}"
        words[last] += "</strong>"
    else:
        for n, j in enumerate(hits[: 1 + (i % 4 == 2)]):
            words[j] = _tag(words[j], i + n)
    if i % 3 == 0 and len(words) > 2:
        words[1] += "<br/>"
    return " ".join(words)


def markup_set(n: int) -> tuple[list[str], list[str], list[str]]:
    """(tagged sources, plain sources, references): the first `n` Multi30k val sentences with a
    dictionary word."""
    src, ref = read_lines("data/multi30k/val.de.gz"), read_lines("data/multi30k/val.en.gz")
    tagged, plain, refs = [], [], []
    for i, (s, r) in enumerate(zip(src, ref, strict=True)):
        t = tagged_sentence(s, i)
        if t is not None:
            tagged.append(t)
            plain.append(s)
            refs.append(r)
        if len(tagged) == n:
            break
    return tagged, plain, refs


def _shape(root: ET.Element) -> list[tuple[str, str]]:
    return sorted((child.tag, parent.tag) for parent in root.iter() for child in parent)


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?\"'").lower() for w in text.split() if w.strip(".,;:!?\"'")]


def score_markup(tagged: Sequence[str], out: Sequence[str]) -> dict[str, Any]:
    """Well-formedness, the same tags with the same nesting, and placement of one-word tags:
    exact when the tagged target words are just the dictionary translation, contained when
    they include it; counted only where the translation holds that word at all."""
    ok = same = exact = contained = measurable = 0
    stripped = []
    for src, hyp in zip(tagged, out, strict=True):
        s_root = ET.fromstring(f"<r>{src}</r>")
        try:
            h_root = ET.fromstring(f"<r>{hyp}</r>")
        except ET.ParseError:
            stripped.append(re.sub(r"<[^>]*>", "", hyp))  # only for BLEU of a broken line
            continue
        ok += 1
        same += _shape(s_root) == _shape(h_root)
        stripped.append(" ".join("".join(h_root.itertext()).split()))
        h_elements = Counter[str]()
        for el in s_root.iter():
            text = "".join(el.itertext()).strip()
            k = h_elements[el.tag]
            h_elements[el.tag] += 1
            if el.tag == "r" or text not in DICTIONARY or len(list(el)):
                continue
            expected = DICTIONARY[text]
            if expected not in _words("".join(h_root.itertext())):
                continue
            measurable += 1
            found = [e for e in h_root.iter(el.tag)][k : k + 1]
            got = _words("".join(found[0].itertext())) if found else []
            exact += got == [expected]
            contained += expected in got
    n = len(tagged)
    return {
        "sentences": n,
        "well_formed_pct": 100 * ok / n,
        "same_tags_and_nesting_pct": 100 * same / n,
        "placement_measurable": measurable,
        "placement_exact_pct": 100 * exact / max(measurable, 1),
        "placement_contains_pct": 100 * contained / max(measurable, 1),
        "stripped": stripped,
    }


def run_markup(args: argparse.Namespace) -> dict[str, Any]:
    loaded = load(args.threads, args.model)
    decode = DecodeConfig(beam_size=args.beam)
    tagged, plain, refs = markup_set(args.sentences)
    translator, measure = (
        search_translator(loaded.model, loaded.tokenizer, decode),
        subword_measure(loaded.tokenizer),
    )
    aligned = attention_translator(loaded.model, loaded.tokenizer, decode)
    html = document_config(loaded.config, format="html")
    doc = "\n".join(f"<p>{t}</p>" for t in tagged)
    out = translate_with(doc, html, translator, measure, aligned=aligned).split("\n")
    inner = [line.removeprefix("<p>").removesuffix("</p>") for line in out]
    plain_out = translate_with("\n".join(plain), document_config(loaded.config), translator, measure).split(
        "\n"
    )
    scores = score_markup(tagged, inner)
    stripped = scores.pop("stripped")
    scores["bleu_tag_stripped"] = bleu(stripped, refs)
    scores["bleu_without_tags"] = bleu(plain_out, refs)
    if args.show:
        for t, o in list(zip(tagged, inner))[: args.show]:
            print(f"{t}\n  -> {o}")
    return scores


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    """CPU seconds per sentence, best of `rounds`, interleaved: one sentence per line (--split none),
    the same sentences as paragraphs of 3-5 (split), and as tagged HTML paragraphs."""
    loaded = load(args.threads, args.model)
    decode = DecodeConfig(beam_size=args.beam)
    tagged, plain, _ = markup_set(args.sentences)
    # Multi30k captions often end without a period; joined, they would not split apart again.
    ends = ["" if p.rstrip()[-1:] in '.!?"' else "." for p in plain]
    tagged, plain = [t + e for t, e in zip(tagged, ends)], [p + e for p, e in zip(plain, ends)]
    translator, measure = (
        search_translator(loaded.model, loaded.tokenizer, decode),
        subword_measure(loaded.tokenizer),
    )
    aligned = attention_translator(loaded.model, loaded.tokenizer, decode)
    split, html = document_config(loaded.config), document_config(loaded.config, format="html")
    cases = {
        "one sentence per line (--split none)": ("\n".join(plain), DocumentConfig(split="none")),
        "paragraphs, split": ("\n".join(" ".join(g) for g in paragraphs(plain)), split),
        "html paragraphs with inline tags": (
            "\n".join(f"<p>{' '.join(g)}</p>" for g in paragraphs(tagged)),
            html,
        ),
    }
    best = dict.fromkeys(cases, float("inf"))
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # each case leads a round
            text, cfg = cases[name]
            start = time.process_time()  # CPU time: one thread, robust on a shared, loaded machine
            translate_with(text, cfg, translator, measure, aligned=aligned)
            best[name] = min(best[name], time.process_time() - start)
    base = best["one sentence per line (--split none)"]
    return {
        "sentences": len(plain),
        "ms_per_sentence": {k: 1000 * v / len(plain) for k, v in best.items()},
        "ratio_to_one_per_line": {k: v / base for k, v in best.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("paragraphs", "markup", "speed"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None, help="model directory (default: the shipped de-en)")
    parser.add_argument("--beam", type=int, default=None, help="default: 1 for paragraphs, 5 otherwise")
    parser.add_argument("--limit", type=int, default=0, help="paragraphs: first N newstest lines (0: all)")
    parser.add_argument("--sentences", type=int, default=150, help="markup/speed: tagged sentences")
    parser.add_argument("--rounds", type=int, default=3, help="speed: rounds, best kept")
    parser.add_argument("--show", type=int, default=0, help="markup: print the first N outputs")
    args = parser.parse_args()
    args.beam = args.beam or (1 if args.what == "paragraphs" else 5)
    run = {"paragraphs": run_paragraphs, "markup": run_markup, "speed": run_speed}[args.what]
    print(json.dumps(run(args), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
