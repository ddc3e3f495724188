"""Everything rich draws: training progress, validation and score tables, alignment heatmaps,
benchmark tables.

Only this module and cli.py import rich; the library returns dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # annotations only: rendering scores must not import torch
    from nmt_cli.aer import AlignmentScores, Link
    from nmt_cli.align import Alignment
    from nmt_cli.evaluate import Scores
    from nmt_cli.prepare import Prepared
    from nmt_cli.report import StepStats, Validation
    from nmt_cli.search import Translation


def write_translations(
    out: TextIO,
    translations: Iterable[Translation],
    decode_tgt: Callable[[Sequence[Sequence[int]]], list[str]],
    nbest: int = 1,
    flush_each: bool = False,
) -> None:
    """One line per input line, or with `nbest` > 1 Moses-style `index ||| text ||| score` lines."""
    for index, tr in enumerate(translations):
        if nbest == 1:
            out.write(tr.text + "\n")
        else:
            texts = decode_tgt([h.tokens for h in tr.hypotheses])
            for text, h in zip(texts, tr.hypotheses):
                out.write(f"{index} ||| {text} ||| {h.score:.4f}\n")
            if not tr.hypotheses:
                out.write(f"{index} |||  ||| 0.0000\n")
        if flush_each:
            out.flush()
    out.flush()


def write_alignments(
    alignments: Iterable[Alignment], form: str, out: TextIO | None, console: Console
) -> list[list[Link]]:
    """Write each alignment as a heatmap table, JSON or Pharaoh line (nothing when `out` is
    None) and return their links, for scoring against gold alignments."""
    from nmt_cli.align import to_json, to_pharaoh

    predicted: list[list[Link]] = []
    for a in alignments:
        if out is not None and form == "table":
            console.print(alignment_view(a, console.width, len(predicted)))
        elif out is not None:
            out.write((to_json(a) if form == "json" else to_pharaoh(a.links)) + "\n")
        predicted.append(a.links)
        if out is not None:
            out.flush()
    return predicted


def alignment_scores(s: AlignmentScores, form: str) -> str:
    """AER, precision and recall as one JSON object or one line of percentages."""
    if form == "json":
        return json.dumps(asdict(s))
    return (
        f"AER {100 * s.aer:.2f}  precision {100 * s.precision:.2f}  recall {100 * s.recall:.2f}  "
        f"({s.sentences} sentences; {s.links} links, gold {s.sure} sure, {s.possible} possible)"
    )


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RichReporter:
    """A live status line during training and a table of validations at the end."""

    def __init__(self, console: Console, live: bool = True) -> None:
        self.console = console
        self.live_enabled = live and console.is_terminal
        self.live: Live | None = None
        self.history: list[Validation] = []
        self.progress: PrepareProgress | None = None

    def preparing(self, stage: str, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = PrepareProgress(self.console).start()
        self.progress(stage, done, total)

    def start(self, info: dict[str, Any]) -> None:
        c = self.console
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        prepared = info.get("prepared")
        if prepared is not None and (
            len(prepared.corpora) > 1 or not all(x.reused for x in prepared.corpora)
        ):
            c.print(prepare_table(prepared))
        if info.get("resumed_at_step"):
            c.print(f"[bold]resuming[/] at step {info['resumed_at_step']}")
        c.print(
            f"[bold]{info['arch']}[/]: {info['parameters']:,} parameters, vocabulary {info['vocab_size']}, "
            f"{info['device']}, {info['precision']}"
            + (f", {info['processes']} processes" if info.get("processes", 1) > 1 else "")
        )
        c.print(
            f"training pairs: {info['train_pairs']:,} (skipped {info['skipped_empty']} with an empty side, "
            f"dropped {info['dropped_long']} longer than --max-len); validation: {info['valid']} "
            f"({info['valid_pairs']} pairs)"
        )
        if self.live_enabled:
            self.live = Live("", console=c, refresh_per_second=4, transient=True)
            self.live.start()

    def step(self, s: StepStats) -> None:
        best = f"{s.best_bleu:.2f}" if s.best_bleu >= 0 else "-"
        line = (
            f"step {s.step}  epoch {s.epoch + 1}  loss {s.loss:.3f}  {s.tokens_per_s:,.0f} tok/s  "
            f"lr {s.lr:.2e}  {_duration(s.elapsed)}  best BLEU {best}"
        )
        if self.live is not None:
            self.live.update(line)
        elif s.step % 500 == 0:
            self.console.print(line)

    def validation(self, v: Validation) -> None:
        self.history.append(v)
        mark = "  [green]new best[/]" if v.is_best else ""
        self.console.print(
            f"valid @ step {v.step} (epoch {v.epoch + 1}): loss {v.loss:.3f}  ppl {v.ppl:.2f}  "
            f"BLEU {v.bleu:.2f}  lr {v.lr:.2e}  {_duration(v.elapsed)}{mark}"
        )

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self.history:
            self.console.print(validation_table(self.history))


class PrepareProgress:
    """A transient progress bar per preparation stage (only on a terminal): call it with
    (stage, bytes done, bytes in all)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def start(self) -> PrepareProgress:
        self.progress.start()
        return self

    def stop(self) -> None:
        self.progress.stop()

    def __enter__(self) -> PrepareProgress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def prepare_table(p: Prepared) -> Table:
    """One row per corpus: pairs kept, skipped, dropped, tokens, bytes on disk, reused or built."""
    t = Table(box=box.SIMPLE_HEAD, title="prepared data")
    columns = ("corpus", "pairs", "skipped empty", "dropped long", "src tokens", "tgt tokens", "disk", "")
    for col in columns:
        t.add_column(col, justify="left" if col in ("corpus", "") else "right", no_wrap=col != "corpus")
    rows = [("train", c) for c in p.corpora] + [("valid", p.valid_summary)]
    for kind, c in rows:
        state = "reused" if c.reused else "built"
        t.add_row(
            f"{kind} {c.prefix}",
            f"{c.pairs:,}",
            f"{c.skipped_empty:,}",
            f"{c.dropped_long:,}" if kind == "train" else "-",
            f"{c.src_tokens:,}",
            f"{c.tgt_tokens:,}",
            _bytes(c.bytes_on_disk) if kind == "train" or not c.held_out else "-",
            state,
        )
    return t


def preparation_line(prepared: Prepared, directory: Path) -> str:
    """How long preparation took and how fast, or that everything was already prepared."""
    built = [c for c in prepared.corpora if not c.reused]
    if not built and prepared.valid_summary.reused:
        return f"already prepared in {directory}: nothing read"
    seen = sum(c.pairs + c.skipped_empty + c.dropped_long + c.held_out for c in built)
    seconds = prepared.seconds.get("total", 0.0)
    return f"prepared in {seconds:.1f} s ({seen / max(seconds, 1e-9):,.0f} pairs/s) into {directory}"


def validation_table(history: list[Validation]) -> Table:
    table = Table(title="Validations")
    for col in ("step", "epoch", "loss", "ppl", "BLEU", "lr", "elapsed"):
        table.add_column(col, justify="right")
    best = max(v.bleu for v in history)
    for v in history:
        style = "bold green" if v.bleu == best else None
        table.add_row(
            str(v.step),
            str(v.epoch + 1),
            f"{v.loss:.3f}",
            f"{v.ppl:.2f}",
            f"{v.bleu:.2f}",
            f"{v.lr:.2e}",
            _duration(v.elapsed),
            style=style,
        )
    return table


def score_table(scores: Scores) -> Table:
    """One row per metric with its sacreBLEU signature, so a reader can cite it as is."""
    scored = scores.hyp or f"translations of {scores.src}"
    table = Table(title=f"{scored} against {', '.join(scores.refs)}", caption=f"{scores.lines} lines")
    table.add_column("metric")
    table.add_column("score", justify="right")
    table.add_column("signature", overflow="fold")
    for s in scores.scores:
        table.add_row(s.name, f"{s.score:.2f}", s.signature)
    if scores.perplexity is not None:
        p = scores.perplexity
        note = f"teacher-forced on the first reference, {p.pairs} pairs (loss {p.loss:.3f})"
        table.add_row("perplexity", f"{p.ppl:.2f}", note)
    return table


HEAT_LOW, HEAT_HIGH = (30, 41, 59), (37, 99, 235)  # background of a weight of 5% and of 100%
SRC_LABEL_MAX, TGT_LABEL_MAX = 12, 24  # longer tokens are clipped with … (the header has them)


def _clip(label: str, width: int) -> str:
    return label if len(label) <= width else label[: max(width - 1, 0)] + "…"


def _heat(weight: float) -> str:
    """Heatmap style: no background below 5%, then darker to brighter blue as the weight grows."""
    if weight < 0.05:
        return "dim"
    r, g, b = (round(lo + (hi - lo) * weight) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"bright_white on rgb({r},{g},{b})"


def _column_blocks(widths: list[int], room: int) -> list[range]:
    """Split columns into consecutive blocks that fit `room`; a column costs its width plus 3
    (padding on both sides and the separator), at least one column per block."""
    blocks: list[range] = []
    start, used = 0, 0
    for j, w in enumerate(widths):
        if j > start and used + w + 3 > room:
            blocks.append(range(start, j))
            start, used = j, 0
        used += w + 3
    if widths:
        blocks.append(range(start, len(widths)))
    return blocks


def _heatmap(a: Alignment, cols: range, widths: list[int], label_width: int) -> Table:
    """Target tokens as rows, source tokens `cols` as columns, each cell the weight in percent;
    the strongest source token of each row (over all columns) is bold and underlined."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1))
    table.add_column("", no_wrap=True, width=label_width)
    for j in cols:
        header = Text(f"{_clip(a.src_tokens[j], widths[j])}\n") + Text(str(j), style="dim")
        table.add_column(header, justify="right", no_wrap=True, width=widths[j])
    for t, (token, row) in enumerate(zip(a.tgt_tokens, a.weights, strict=True)):
        best = max(range(len(row)), key=row.__getitem__)
        cells = []
        for j in cols:
            pct = round(100 * row[j])
            style = _heat(row[j]) + (" bold underline" if j == best else "")
            cells.append(Text(str(pct) if pct else "·", style=style))
        table.add_row(Text(_clip(f"{t} {token}", label_width)), *cells)
    return table


def alignment_view(a: Alignment, width: int, index: int | None = None) -> Group:
    """One sentence pair: the pair, its score and mean EOS mass, then the heatmap in column
    blocks that each fit `width`, so long sentences never wrap mid-table."""
    score = "-" if a.score is None else f"{a.score:.3f}"
    eos = sum(a.eos_mass) / len(a.eos_mass) if a.eos_mass else 0.0
    head = Text("" if index is None else f"#{index}  ", style="bold")
    head.append(f"score {score}   EOS mass {100 * eos:.1f}% (mean; removed, rows renormalised)\n")
    head.append("source: ", style="bold")
    head.append(f"{a.source}\n")
    head.append("target: ", style="bold")
    head.append(a.target)
    if not a.src_tokens or not a.tgt_tokens:
        return Group(head, Text("(nothing to align)", style="dim"), Text())
    labels = [f"{t} {token}" for t, token in enumerate(a.tgt_tokens)]
    label_width = min(max(len(s) for s in labels), TGT_LABEL_MAX, max(width // 3, 4))
    widths = [max(3, len(str(j)), min(len(s), SRC_LABEL_MAX)) for j, s in enumerate(a.src_tokens)]
    blocks = _column_blocks(widths, width - label_width - 2)
    tables = [_heatmap(a, cols, widths, label_width) for cols in blocks]
    return Group(head, *tables, Text())


def bench_tables(results: dict[str, Any]) -> list[Table]:
    """The benchmark as two tables: translation per model and search, and per-model figures."""
    caption = (
        f"{results['date']}, {results['cores']} cores ({results['threads']} threads), "
        f"torch {results['torch']}; "
        f"median of {results['runs']} runs; `nmt --help` {results['help_seconds']:.2f} s"
    )
    speed = Table(title="Translation, test_2016_flickr", caption=caption)
    for col in (
        "model",
        "precision",
        "search",
        "batch",
        "sentences",
        "seconds",
        "sent/s",
        "tgt tok/s",
        "BLEU",
    ):
        speed.add_column(col, justify="left" if col in ("model", "precision", "search") else "right")
    other = Table(title="Models")
    for col in (
        "model",
        "parameters",
        "load s",
        "train tok/s",
        "of matmul peak",
        "train peak MB",
        "translate peak MB (greedy/beam 5)",
    ):
        other.add_column(col, justify="left" if col == "model" else "right")
    for name, m in results["models"].items():
        for f in m["translate"]:
            speed.add_row(
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
        train = m.get("train")
        rss = m["translate_peak_rss_mb"]
        other.add_row(
            name,
            f"{m['parameters']:,}",
            f"{m['load_seconds']:.2f}",
            f"{train['tokens_per_s']:,.0f} ({train['precision']})" if train else "-",
            peak_share(train) if train else "-",
            f"{train['peak_rss_mb']:,.0f}" if train else "-",
            f"{rss['1']:,.0f} / {rss['5']:,.0f}",
        )
    return [speed, other]


def peak_share(train: dict[str, Any]) -> str:
    """'12% of 95 GFLOP/s': achieved FLOP rate against the measured matrix-product peak."""
    if "peak_fraction" not in train:
        return "-"
    return f"{100 * train['peak_fraction']:.0f}% of {train['peak_gflops']:.0f} GFLOP/s"


def profile_table(arch: str, ops: list[Any]) -> Table:
    """Operators of a training update by their own CPU time (nmt bench --profile)."""
    table = Table(title=f"One training update of the reference {arch}: operators by own CPU time")
    for col in ("operator", "ms / update", "share", "calls / update"):
        table.add_column(col, justify="left" if col == "operator" else "right")
    for op in ops:
        table.add_row(
            op.name, f"{op.ms_per_update:,.1f}", f"{100 * op.share:.1f}%", f"{op.calls_per_update:g}"
        )
    return table


def scale_tables(scale: dict[str, Any]) -> list[Table]:
    """The scale benchmark: preparation (streamed vs in memory) and training on prepared corpora."""
    prep = Table(title="Preparation: streamed into shards vs today's in-memory path")
    for col in ("pairs", "path", "seconds", "pairs/s", "peak MB", "stage shares", "second run"):
        prep.add_column(col, justify="left" if col in ("path", "stage shares") else "right")
    train = Table(title="Training on a prepared corpus")
    for col in (
        "pairs",
        "first update s",
        "train tok/s",
        "peak MB",
        "epoch order s",
        "batches/s mmap / lists",
    ):
        train.add_column(col, justify="right")
    for n, e in scale.items():
        s = e["streamed"]
        again = e["streamed_again"]
        rows = [("streamed", s, f"{again['seconds']:.2f} s ({'reused' if again['reused'] else 'rebuilt'})")]
        if "in_memory" in e:
            rows.append(("in memory", e["in_memory"], "-"))
        for path, r, second in rows:
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["shares"].items())
            prep.add_row(
                f"{int(n):,}",
                path,
                f"{r['seconds']['total']:.1f}",
                f"{r['pairs_per_s']:,.0f}",
                f"{r['peak_rss_mb']:,.0f}",
                shares,
                second,
            )
        t, b = e["training"], e["batches"]
        train.add_row(
            f"{int(n):,}",
            f"{t['seconds_to_first_update']:.2f}",
            f"{t['tokens_per_s']:,.0f}" if t["tokens_per_s"] else "-",
            f"{t['peak_rss_mb']:,.0f}",
            f"{b['epoch_order_seconds']:.2f}",
            f"{b['memmap_batches_per_s']:,.0f} / {b['list_batches_per_s']:,.0f}",
        )
    return [prep, train]
