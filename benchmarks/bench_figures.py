"""The benchmark's results as tables of text: titles, columns and formatted rows.

Rich-free, so that what a figure says (its units, rounding, ratios) is testable as strings;
render.figures_view draws a Figures, and render.py stays the only module drawing with rich.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nmt_cli.cli import formats


@dataclass(frozen=True)
class Figures:
    """A table of figures: every column right-aligned but the `text` ones."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    text: tuple[str, ...] = ()
    caption: str | None = None


def speed(results: dict[str, Any]) -> list[Figures]:
    """Translation per model and search, then per-model figures (load, training, memory)."""
    caption = (
        f"{results['date']}, {results['cores']} cores ({results['threads']} threads), "
        f"torch {results['torch']}; "
        f"median of {results['runs']} runs; `nmt --help` {results['help_seconds']:.2f} s"
    )
    if "dropout" in results:  # results written before it was recorded lack it
        caption += f"; training dropout: {results['dropout']}"
    columns = ("model", "precision", "search", "batch", "sentences", "seconds", "sent/s", "tgt tok/s", "BLEU")
    translation, models = [], []
    for name, m in results["models"].items():
        for f in m["translate"]:
            translation.append(
                (
                    name,
                    f["precision"],
                    f["search"],
                    f["batch"],
                    str(f["sentences"]),
                    f"{f['seconds']:.2f}",
                    f"{f['sentences_per_s']:.1f}",
                    f"{f['tokens_per_s']:,.0f}",
                    f"{f['bleu']:.2f}" if f["bleu"] is not None else "",
                )
            )
        train = m.get("train")
        rss = m["translate_peak_rss_mb"]
        models.append(
            (
                name,
                f"{m['parameters']:,}",
                f"{m['load_seconds']:.2f}",
                f"{train['tokens_per_s']:,.0f} ({train['precision']})" if train else "-",
                formats.peak_share(train) if train else "-",
                f"{train['peak_rss_mb']:,.0f}" if train else "-",
                f"{rss['1']:,.0f} / {rss['5']:,.0f}",
            )
        )
    model_columns = (
        "model",
        "parameters",
        "load s",
        "train tok/s",
        "of matmul peak",
        "train peak MB",
        "translate peak MB (greedy/beam 5)",
    )
    return [
        Figures("Translation, test_2016_flickr", columns, tuple(translation), columns[:3], caption),
        Figures("Models", model_columns, tuple(models), ("model",)),
    ]


def profile(arch: str, found: Any) -> list[Figures]:
    """A training update by phase, by operator family and by operator (python -m benchmarks --profile)."""

    def table(title: str, first: str, ops: list[Any]) -> Figures:
        rows = tuple(
            (op.name, f"{op.ms_per_update:,.1f}", f"{100 * op.share:.1f}%", f"{op.calls_per_update:g}")
            for op in ops
        )
        return Figures(title, (first, "ms / update", "share", "calls / update"), rows, (first,))

    return [
        table(
            f"One training update of the reference {arch}: phases (wall time under the profiler; "
            f"{found.unprofiled_ms:,.0f} ms per update without it)",
            "phase",
            found.phases,
        ),
        table(
            "... by operator family (own CPU time; the profiler overstates operators that run on "
            "several threads: scripts/part_costs.py times parts of an update instead)",
            "family",
            found.categories,
        ),
        table("... by operator (own CPU time)", "operator", found.ops),
    ]


def scale(results: dict[str, Any]) -> list[Figures]:
    """Preparation (streamed vs in memory) and training on prepared corpora, per corpus size."""
    prep, train = [], []
    for n, e in results.items():
        again = e["streamed_again"]
        runs = [
            (
                "streamed",
                e["streamed"],
                f"{again['seconds']:.2f} s ({'reused' if again['reused'] else 'rebuilt'})",
            )
        ]
        if "in_memory" in e:
            runs.append(("in memory", e["in_memory"], "-"))
        for path, r, second in runs:
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["shares"].items())
            prep.append(
                (
                    f"{int(n):,}",
                    path,
                    f"{r['seconds']['total']:.1f}",
                    f"{r['pairs_per_s']:,.0f}",
                    f"{r['peak_rss_mb']:,.0f}",
                    shares,
                    second,
                )
            )
        t, b = e["training"], e["batches"]
        train.append(
            (
                f"{int(n):,}",
                f"{t['seconds_to_first_update']:.2f}",
                f"{t['tokens_per_s']:,.0f}" if t["tokens_per_s"] else "-",
                f"{t['peak_rss_mb']:,.0f}",
                f"{b['epoch_order_seconds']:.2f}",
                f"{b['memmap_batches_per_s']:,.0f} / {b['list_batches_per_s']:,.0f}",
            )
        )
    return [
        Figures(
            "Preparation: streamed into shards vs today's in-memory path",
            ("pairs", "path", "seconds", "pairs/s", "peak MB", "stage shares", "second run"),
            tuple(prep),
            ("path", "stage shares"),
        ),
        Figures(
            "Training on a prepared corpus",
            ("pairs", "first update s", "train tok/s", "peak MB", "epoch order s", "batches/s mmap / lists"),
            tuple(train),
        ),
    ]


def ct2(results: dict[str, Any]) -> Figures:
    """nmt against CTranslate2 (python -m benchmarks --part ct2), with ours / CTranslate2 time for each
    precision pair (fp32 / float32, bf16 / bfloat16, int8 / int8), and each of ours against
    CTranslate2 int8 with the same search, the engine the goal is measured against."""
    from benchmarks.bench_ct2 import PAIRS

    figures = results["figures"]
    theirs = {(f["precision"], f["search"]): f["seconds"] for f in figures if f["engine"] == "ctranslate2"}
    rows = []
    for f in figures:
        ours = f["engine"] == "nmt"
        base = theirs.get((PAIRS.get(f["precision"], ""), f["search"])) if ours else None
        int8 = theirs.get(("int8", f["search"])) if ours else None
        rows.append(
            (
                f["engine"],
                f["precision"],
                f["search"],
                f"{f['seconds']:.2f}",
                f"{f['tokens_per_s']:,.0f}",
                f"{f['bleu']:.2f}",
                f"{f['seconds'] / base:.2f}x" if base else "",
                f"{f['seconds'] / int8:.2f}x" if int8 else "",
            )
        )
    title = (
        f"nmt vs CTranslate2 on {results['src']}, {results['threads']} thread(s), median of {results['runs']}"
    )
    columns = ("engine", "precision", "search", "seconds", "tok/s", "BLEU", "ours/CT2", "ours/CT2 int8")
    return Figures(title, columns, tuple(rows), columns[:3])


def ddp(results: dict[str, Any]) -> Figures:
    """Training tokens/s of 1 process x 2 threads against 2 processes x 1 thread (--part ddp)."""
    rows = tuple(
        (arch, f"{r['1x2']:,.0f}", f"{r['2x1']:,.0f}", f"x{r['speedup']:.2f}")
        for arch, r in results["runs"].items()
    )
    return Figures(
        "Training tokens/s at the same global batch",
        ("model", "1 process x 2 threads", "2 processes x 1 thread", "speed-up"),
        rows,
        ("model",),
        f"{results['steps']} updates, {results['batch_tokens']} tokens per update, {results['cores']} cores",
    )
