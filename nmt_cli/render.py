"""Everything rich draws: training progress, validation and score tables, alignment heatmaps,
benchmark tables.

Only this module and cli.py import rich; the library returns dataclasses, and the plain-text
forms (translations, n-best lists, the AER line, status lines) are in formats.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nmt_cli import formats

# Re-exported: cli.py imports these three from here.
from nmt_cli.formats import alignment_scores as alignment_scores
from nmt_cli.formats import preparation_line as preparation_line
from nmt_cli.formats import write_translations as write_translations
from nmt_cli.heatmap import clip, heat, layout

if TYPE_CHECKING:  # annotations only: rendering scores must not import torch
    from nmt_cli.aer import Link
    from nmt_cli.align import Alignment
    from nmt_cli.evaluate import Scores
    from nmt_cli.prepare import Prepared
    from nmt_cli.report import StepStats, Validation


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
            f"{kind} {c.prefix}",
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


def bench_tables(results: dict[str, Any]) -> list[Table]:
    """The benchmark as two tables: translation per model and search, and per-model figures."""
    caption = (
        f"{results['date']}, {results['cores']} cores ({results['threads']} threads), "
        f"torch {results['torch']}; "
        f"median of {results['runs']} runs; `nmt --help` {results['help_seconds']:.2f} s"
    )
    speed_columns = (
        "model",
        "precision",
        "search",
        "batch",
        "sentences",
        "seconds",
        "sent/s",
        "tgt tok/s",
        "BLEU",
    )
    speed = figures_table("Translation, test_2016_flickr", speed_columns, speed_columns[:3], caption=caption)
    other_columns = (
        "model",
        "parameters",
        "load s",
        "train tok/s",
        "of matmul peak",
        "train peak MB",
        "translate peak MB (greedy/beam 5)",
    )
    other = figures_table("Models", other_columns, ("model",))
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
            formats.peak_share(train) if train else "-",
            f"{train['peak_rss_mb']:,.0f}" if train else "-",
            f"{rss['1']:,.0f} / {rss['5']:,.0f}",
        )
    return [speed, other]


def profile_table(arch: str, ops: list[Any]) -> Table:
    """Operators of a training update by their own CPU time (nmt bench --profile)."""
    title = f"One training update of the reference {arch}: operators by own CPU time"
    table = figures_table(title, ("operator", "ms / update", "share", "calls / update"), ("operator",))
    for op in ops:
        table.add_row(
            op.name, f"{op.ms_per_update:,.1f}", f"{100 * op.share:.1f}%", f"{op.calls_per_update:g}"
        )
    return table


def scale_tables(scale: dict[str, Any]) -> list[Table]:
    """The scale benchmark: preparation (streamed vs in memory) and training on prepared corpora."""
    prep_columns = ("pairs", "path", "seconds", "pairs/s", "peak MB", "stage shares", "second run")
    prep = figures_table(
        "Preparation: streamed into shards vs today's in-memory path", prep_columns, ("path", "stage shares")
    )
    train_columns = (
        "pairs",
        "first update s",
        "train tok/s",
        "peak MB",
        "epoch order s",
        "batches/s mmap / lists",
    )
    train = figures_table("Training on a prepared corpus", train_columns)
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


def ct2_table(results: dict[str, Any]) -> Table:
    """nmt against CTranslate2 (nmt bench --part ct2), with ours / CTranslate2 time for each
    precision pair (fp32 / float32, bf16 / bfloat16, int8 / int8)."""
    from nmt_cli.bench_ct2 import PAIRS

    figures = results["figures"]
    title = (
        f"nmt vs CTranslate2 on {results['src']}, {results['threads']} thread(s), median of {results['runs']}"
    )
    table = Table(title=title)
    for col in ("engine", "precision", "search", "seconds", "tok/s", "BLEU", "ours/CT2"):
        table.add_column(col, justify="left" if col in ("engine", "precision", "search") else "right")
    ct2 = {(f["precision"], f["search"]): f["seconds"] for f in figures if f["engine"] == "ctranslate2"}
    for f in figures:
        theirs = ct2.get((PAIRS.get(f["precision"], ""), f["search"])) if f["engine"] == "nmt" else None
        table.add_row(
            f["engine"],
            f["precision"],
            f["search"],
            f"{f['seconds']:.2f}",
            f"{f['tokens_per_s']:,.0f}",
            f"{f['bleu']:.2f}",
            f"{f['seconds'] / theirs:.2f}x" if theirs else "",
        )
    return table


def ddp_table(results: dict[str, Any]) -> Table:
    """Training tokens/s of 1 process x 2 threads against 2 processes x 1 thread (nmt bench --part ddp)."""
    table = Table(
        title="Training tokens/s at the same global batch",
        caption=f"{results['steps']} updates, {results['batch_tokens']} tokens per update, "
        f"{results['cores']} cores",
    )
    for col in ("model", "1 process x 2 threads", "2 processes x 1 thread", "speed-up"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for arch, r in results["runs"].items():
        table.add_row(arch, f"{r['1x2']:,.0f}", f"{r['2x1']:,.0f}", f"x{r['speedup']:.2f}")
    return table
