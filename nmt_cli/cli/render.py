"""Everything rich draws: training progress, validation and score tables, alignment heatmaps.

Only this module, console.py and confidence_view.py import rich (tests/test_architecture.py);
the library returns dataclasses, and the plain-text forms (translations, n-best lists, the AER
line, status lines) are in formats.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nmt_cli.alignment.heatmap import clip, heat, layout
from nmt_cli.cli import formats
from nmt_cli.cli.console import console as make_console
from nmt_cli.cli.console import visible

if TYPE_CHECKING:  # annotations only: rendering scores must not import torch
    from nmt_cli.alignment.aer import Link
    from nmt_cli.alignment.extract import Alignment
    from nmt_cli.data.prepare import Prepared
    from nmt_cli.evaluate import Scores
    from nmt_cli.training.report import StepStats, Validation


def shown(a: Alignment) -> Alignment:
    """An alignment whose sentences and tokens are safe to draw (see visible)."""
    return dataclasses.replace(
        a,
        source=visible(a.source),
        target=visible(a.target),
        src_tokens=[visible(t) for t in a.src_tokens],
        tgt_tokens=[visible(t) for t in a.tgt_tokens],
    )


def write_alignments(
    alignments: Iterable[Alignment], form: str, out: TextIO | None, no_color: bool = False
) -> list[list[Link]]:
    """Write each alignment as a heatmap table, JSON or Pharaoh line (nothing when `out` is
    None) and return their links, for scoring against gold alignments."""
    from nmt_cli.alignment.extract import to_json, to_pharaoh

    view = make_console(file=out, no_color=True if no_color else None, highlight=False)
    predicted: list[list[Link]] = []
    for a in alignments:
        if out is not None and form == "table":
            view.print(alignment_view(shown(a), view.width, len(predicted)))
        elif out is not None:
            out.write((to_json(a) if form == "json" else to_pharaoh(a.links)) + "\n")
        predicted.append(a.links)
        if out is not None:
            out.flush()
    return predicted


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
        for line in formats.run_summary(info):
            c.print(line)
        if self.live_enabled:
            self.live = Live("", console=c, refresh_per_second=4, transient=True)
            self.live.start()

    def step(self, s: StepStats) -> None:
        line = formats.step_line(s)
        if self.live is not None:
            self.live.update(line)
        elif s.step % 500 == 0:
            self.console.print(line)

    def validation(self, v: Validation) -> None:
        self.history.append(v)
        self.console.print(formats.validation_line(v) + ("  [green]new best[/]" if v.is_best else ""))

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


def figures_table(title: str, columns: Sequence[str], text: Collection[str] = (), **options: Any) -> Table:
    """A table of figures: every column right-aligned but the `text` ones."""
    table = Table(title=title, **options)
    for col in columns:
        table.add_column(col, justify="left" if col in text else "right")
    return table


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
            visible(f"{kind} {c.prefix}"),
            f"{c.pairs:,}",
            f"{c.skipped_empty:,}",
            f"{c.dropped_long:,}" if kind == "train" else "-",
            f"{c.src_tokens:,}",
            f"{c.tgt_tokens:,}",
            formats.byte_size(c.bytes_on_disk) if kind == "train" or not c.held_out else "-",
            state,
        )
    return t


def validation_table(history: list[Validation]) -> Table:
    table = figures_table("Validations", ("step", "epoch", "loss", "ppl", "BLEU", "lr", "elapsed"))
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
            formats.duration(v.elapsed),
            style=style,
        )
    return table


def print_scores(scores: Scores) -> None:
    """The score table on stdout."""
    make_console(highlight=False).print(score_table(scores))


def score_table(scores: Scores) -> Table:
    """One row per metric with its sacreBLEU signature, so a reader can cite it as is."""
    scored = scores.hyp or f"translations of {scores.src}"
    lines = f"{scores.lines} line" + ("" if scores.lines == 1 else "s")
    table = Table(title=visible(f"{scored} against {', '.join(scores.refs)}"), caption=lines)
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


def _heatmap(a: Alignment, cols: range, widths: list[int], label_width: int) -> Table:
    """Target tokens as rows, source tokens `cols` as columns, each cell the weight in percent;
    the strongest source token of each row (over all columns) is bold and underlined."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1))
    table.add_column("", no_wrap=True, width=label_width)
    for j in cols:
        header = Text(f"{clip(a.src_tokens[j], widths[j])}\n") + Text(str(j), style="dim")
        table.add_column(header, justify="right", no_wrap=True, width=widths[j])
    for t, (token, row) in enumerate(zip(a.tgt_tokens, a.weights, strict=True)):
        best = max(range(len(row)), key=row.__getitem__)
        cells = []
        for j in cols:
            pct = round(100 * row[j])
            style = heat(row[j]) + (" bold underline" if j == best else "")
            cells.append(Text(str(pct) if pct else "·", style=style))
        table.add_row(Text(clip(f"{t} {token}", label_width)), *cells)
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
    cells = layout(a.src_tokens, a.tgt_tokens, width)
    tables = [_heatmap(a, cols, cells.widths, cells.label_width) for cols in cells.blocks]
    return Group(head, *tables, Text())
