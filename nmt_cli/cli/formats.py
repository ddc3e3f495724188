"""The plain-text forms of results, which scripts read: one translation per line or Moses-style
n-best lines, the AER line, the preparation line (alignment/extract.py writes Pharaoh and JSON); and the
text that render.py shows: training's summary, status and validation lines (with rich markup,
which render.py prints), durations and sizes in tables.

Nothing here needs rich (render.py draws the tables and heatmaps) or torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # annotations only: writing text must not import torch
    from nmt_cli.alignment.aer import AlignmentScores
    from nmt_cli.data.prepare import Prepared
    from nmt_cli.decoding.confidence import Confidence
    from nmt_cli.decoding.translate import Translation
    from nmt_cli.training.report import StepStats, Validation


def write_translations(
    out: TextIO,
    translations: Iterable[Translation],
    decode_tgt: Callable[[Sequence[Sequence[int]]], list[str]],
    nbest: int = 1,
    flush_each: bool = False,
    end: str = "\n",
) -> None:
    """One line per input line (each followed by `end`), or with `nbest` > 1 Moses-style
    `index ||| text ||| score` lines."""
    for index, tr in enumerate(translations):
        if nbest == 1:
            out.write(tr.text + end)
        else:
            texts = tr.alternatives or decode_tgt([h.tokens for h in tr.hypotheses])
            scores = [h.score for h in tr.hypotheses] or [0.0]  # a line copied whole: its text
            for text, score in zip(texts, scores):
                out.write(f"{index} ||| {text} ||| {score:.4f}\n")
            if not texts:
                out.write(f"{index} |||  ||| 0.0000\n")
        if flush_each:
            out.flush()
    out.flush()


def alignment_scores(s: AlignmentScores, form: str) -> str:
    """AER, precision and recall as one JSON object or one line of percentages."""
    if form == "json":
        return json.dumps(asdict(s))
    return (
        f"AER {100 * s.aer:.2f}  precision {100 * s.precision:.2f}  recall {100 * s.recall:.2f}  "
        f"({s.sentences} sentences; {s.links} links, gold {s.sure} sure, {s.possible} possible)"
    )


def preparation_line(prepared: Prepared, directory: Path) -> str:
    """How long preparation took and how fast, or that everything was already prepared."""
    built = [c for c in prepared.corpora if not c.reused]
    if not built and prepared.valid_summary.reused:
        return f"already prepared in {directory}: nothing read"
    seen = sum(c.pairs + c.skipped_empty + c.dropped_long + c.held_out for c in built)
    seconds = prepared.seconds.get("total", 0.0)
    return f"prepared in {seconds:.1f} s ({seen / max(seconds, 1e-9):,.0f} pairs/s) into {directory}"


def run_summary(info: dict[str, Any]) -> list[str]:
    """What a run starts with (see report.start_info): resumed or not, the model, the data."""
    lines = [f"[bold]resuming[/] at step {info['resumed_at_step']}"] if info.get("resumed_at_step") else []
    return lines + [
        f"[bold]{info['arch']}[/]: {info['parameters']:,} parameters, vocabulary {info['vocab_size']}, "
        f"{info['device']}, {info['precision']}"
        + (f", {info['processes']} processes" if info.get("processes", 1) > 1 else ""),
        f"training pairs: {info['train_pairs']:,} (skipped {info['skipped_empty']} with an empty side, "
        f"dropped {info['dropped_long']} longer than --max-len); validation: {info['valid']} "
        f"({info['valid_pairs']} pairs)",
    ]


def step_line(s: StepStats) -> str:
    """Training's status line: where it stands, how fast, and the best BLEU so far."""
    best = f"{s.best_bleu:.2f}" if s.best_bleu >= 0 else "-"
    return (
        f"step {s.step}  epoch {s.epoch + 1}  loss {s.loss:.3f}  {s.tokens_per_s:,.0f} tok/s  "
        f"lr {s.lr:.2e}  {duration(s.elapsed)}  best BLEU {best}"
    )


def validation_line(v: Validation) -> str:
    """One validation's figures; epochs count from 1, as users say them."""
    return (
        f"valid @ step {v.step} (epoch {v.epoch + 1}): loss {v.loss:.3f}  ppl {v.ppl:.2f}  "
        f"BLEU {v.bleu:.2f}  lr {v.lr:.2e}  {duration(v.elapsed)}"
    )


def duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def byte_size(n: int) -> str:
    """Bytes in B, KB, MB or GB (powers of 1,024), one decimal from KB on."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def peak_share(train: dict[str, Any]) -> str:
    """'12% of 95 GFLOP/s': achieved FLOP rate against the measured matrix-product peak."""
    if "peak_fraction" not in train:
        return "-"
    return f"{100 * train['peak_fraction']:.0f}% of {train['peak_gflops']:.0f} GFLOP/s"


def confidence_json(source: str, text: str, confidence: Confidence) -> str:
    """One line of `translate --format json`: the translation, its sentence score and its words
    with theirs (probabilities, 0..1)."""
    words = [{"word": w.text, "score": round(w.score, 4)} for w in confidence.words]
    from nmt_cli.io.lines import json_line

    return json_line(
        {"source": source, "translation": text, "score": round(confidence.score, 4), "words": words}
    )
