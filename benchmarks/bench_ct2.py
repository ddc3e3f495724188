"""`make bench`, CTranslate2 part: our decoder against CTranslate2 on the same exported weights.

The reference Transformer (bench.py's, or --ct2-model) translates test_2016 with greedy search and
beam 5, by `nmt` (fp32, bf16 where the CPU has it, int8) and by CTranslate2 (float32, bfloat16
where the CPU has it, int8), with the same threads and batch budget, runs alternating between
engines so that a machine's drift hits both alike. Each figure is the median of `--runs`.
`python -m benchmarks --part ct2` runs it; render.ct2_table shows it.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench import CACHE, TEST_REF, TEST_SRC, ensure_model

PAIRS = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}  # ours -> CTranslate2 compute type


@dataclass
class EngineFigures:
    engine: str  # "nmt" or "ctranslate2"
    precision: str
    search: str
    seconds: float
    tokens_per_s: float  # target subwords, </s> included
    bleu: float


def _ours(model_dir: Path, precision: str, lines: Sequence[str]) -> Callable[[int], list[tuple[str, int]]]:
    """A function beam -> [(translation, target tokens)] for our decoder at `precision`."""
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.precision import cast_for_decoding, quantize_int8
    from nmt_cli.decoding.translate import translate
    from nmt_cli.models.checkpoint import load_model

    loaded = load_model(model_dir)
    model: Any = (
        quantize_int8(loaded.model) if precision == "int8" else cast_for_decoding(loaded.model, precision)
    )

    def run(beam: int) -> list[tuple[str, int]]:
        out = translate(model, loaded.tokenizer, lines, DecodeConfig(beam_size=beam))
        return [(t.text, len(t.hypotheses[0].tokens) + 1 if t.hypotheses else 0) for t in out]

    return run


def _ct2(
    export_dir: Path, compute_type: str, threads: int, lines: Sequence[str]
) -> Callable[[int], list[tuple[str, int]]]:
    """The same for CTranslate2, tokenising with the exported SentencePiece model (timed too, as ours is)."""
    import ctranslate2
    import sentencepiece as spm

    from nmt_cli.config import ARCH_DEFAULTS, DecodeConfig
    from nmt_cli.data.tokenizer import normalize
    from nmt_cli.decoding.search import batch_budget  # ours counts source subwords x beam

    sp = spm.SentencePieceProcessor(model_file=str(export_dir / "spm.model"))
    translator = ctranslate2.Translator(
        str(export_dir), device="cpu", compute_type=compute_type, intra_threads=threads, inter_threads=1
    )

    def run(beam: int) -> list[tuple[str, int]]:
        pieces = sp.encode([normalize(s) for s in lines], out_type=str)
        results = translator.translate_batch(
            pieces,
            beam_size=beam,
            length_penalty=1.0,  # CTranslate2 divides by |y|, ours by GNMT's (5 + |y|) / 6
            min_decoding_length=0,
            max_batch_size=batch_budget(
                DecodeConfig(beam_size=beam), ARCH_DEFAULTS["transformer"].decode_batch_tokens
            )
            // beam,
            batch_type="tokens",
        )
        hyps = [r.hypotheses[0] for r in results]
        return [(text, len(h) + 1) for text, h in zip(sp.decode(hyps), hyps)]

    return run


def bench_ctranslate2(
    model_dir: Path, threads: int, runs: int, sentences: int = 0, src: Path = TEST_SRC, ref: Path = TEST_REF
) -> list[EngineFigures]:
    """Export `model_dir` (float32; CTranslate2 converts at load) and time both engines alternately."""
    import ctranslate2
    import sacrebleu
    import torch

    from nmt_cli.device import cpu_has_bf16
    from nmt_cli.io.lines import read_lines
    from nmt_cli.models.export import export_ctranslate2

    torch.set_num_threads(threads)
    lines, refs = read_lines(src), read_lines(ref)
    if sentences:
        lines, refs = lines[:sentences], refs[:sentences]
    export_dir = export_ctranslate2(model_dir, CACHE / "transformer-ct2").out
    ct2_types = ctranslate2.get_supported_compute_types("cpu")
    ours = ["fp32", *(["bf16"] if cpu_has_bf16() else []), "int8"]
    engines: dict[tuple[str, str], Callable[[int], list[tuple[str, int]]]] = {}
    for precision in ours:
        engines["nmt", precision] = _ours(model_dir, precision, lines)
        if PAIRS[precision] in ct2_types:
            engines["ctranslate2", PAIRS[precision]] = _ct2(export_dir, PAIRS[precision], threads, lines)
    figures = []
    for search, beam in (("greedy", 1), ("beam 5", 5)):
        outputs = {key: run(beam) for key, run in engines.items()}  # warm-up, and what is scored
        times: dict[tuple[str, str], list[float]] = {key: [] for key in engines}
        for _ in range(runs):
            for key, run in engines.items():
                start = time.perf_counter()
                run(beam)
                times[key].append(time.perf_counter() - start)
        for (engine, precision), out in outputs.items():
            seconds = statistics.median(times[engine, precision])
            tokens = sum(n for _, n in out)
            bleu = sacrebleu.corpus_bleu([t for t, _ in out], [refs]).score
            figures.append(EngineFigures(engine, precision, search, seconds, tokens / seconds, bleu))
    return figures


def available() -> bool:
    """Whether CTranslate2 is installed (an optional extra: without it the part is skipped)."""
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


def run_ct2(
    model_dir: Path | None = None,
    threads: int = 0,
    runs: int = 3,
    sentences: int = 0,
    src: Path | None = None,
    ref: Path | None = None,
    train_minutes: float = 5.0,
    output: Path = CACHE / "results_ct2.json",
) -> dict[str, Any] | None:
    """The CTranslate2 part of `python -m benchmarks` on `model_dir` (default: the reference Transformer,
    trained for `train_minutes` if missing), also written to `output` as JSON; None when
    CTranslate2 is not installed. `src`/`ref`: test_2016 by default; `threads` 0: all cores;
    `sentences` 0: all of `src`."""
    if not available():
        return None
    model_dir = model_dir or ensure_model("transformer", train_minutes)
    threads = threads or os.cpu_count() or 1
    src, ref = src or TEST_SRC, ref or TEST_REF
    figures = bench_ctranslate2(model_dir, threads, runs, sentences, src, ref)
    results = {
        "src": str(src),
        "model": str(model_dir),
        "threads": threads,
        "runs": runs,
        "figures": [asdict(f) for f in figures],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    return results
