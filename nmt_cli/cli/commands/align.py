"""`nmt align`: its options, and the one library call each run makes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli.console import interactive, run
from nmt_cli.cli.decode_options import decoding
from nmt_cli.config import AttentionChoice, DecodeConfig, RuntimeConfig

AlignInput = Annotated[
    Path | None,
    typer.Option("-i", "--input", help="Source lines, or 'source ||| target' lines (default: stdin)."),
]
AlignRef = Annotated[
    Path | None,
    typer.Option(
        "--ref", help="Targets, line-aligned with the input: force-decode them instead of translating."
    ),
]
AlignFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table (heatmap), pharaoh ('i-j': source i, target j, 0-based) or json. "
        "Default: table on a terminal, else pharaoh.",
    ),
]
AlignLevel = Annotated[str, typer.Option(help="word (merge subword pieces into words) or subword.")]
Threshold = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Hard links: every weight ≥ T (a fraction; the table shows percent) "
        "instead of the --links rule.",
    ),
]
ReverseModel = Annotated[
    Path | None,
    typer.Option(help="A target-to-source model: combine its links with the model's (--symmetrize)."),
]
Links = Annotated[
    str,
    typer.Option(
        "--links",
        help="Hard links without --threshold: mutual (strongest in both their row and column, "
        "plus a target word's argmax when ≥ 0.6) or argmax (the strongest source word of "
        "every target word).",
    ),
]
Symmetrize = Annotated[
    str,
    typer.Option(
        help="With --reverse-model, how both directions combine: mean (both directions' weights "
        "averaged, links where the mean is ≥ --threshold, default 0.4), intersect, union, "
        "grow-diag, grow-diag-final or grow-diag-final-and."
    ),
]
Shift = Annotated[
    bool | None,
    typer.Option(
        "--shift/--no-shift",
        help="Read each target word's attention at the next step, which reads it as input "
        "(Chen et al., 2020). Default: as the model was trained to align (its align_shift).",
        show_default=False,
    ),
]
Layer = Annotated[
    int | None,
    typer.Option(
        help="Transformer: decoder layer whose cross-attention is read "
        "(default: the model's align layer; negative counts from the end)."
    ),
]
Head = Annotated[
    int | None,
    typer.Option(
        help="Transformer: attention head, from 0 (default: the model's guided-alignment head, "
        "else the mean over heads)."
    ),
]
Gold = Annotated[
    Path | None,
    typer.Option(
        help="Gold alignments, a line per pair: 'i-j' sure, 'i?j' possible (also i-j-S, i-j-P); "
        "i source, j target word, 0-based. Prints AER, precision and recall; "
        "alignments are then written only with -o."
    ),
]
GoldOrder = Annotated[str, typer.Option(help="Index order in --gold: src-tgt (as Pharaoh) or tgt-src.")]
NoColor = Annotated[
    bool, typer.Option("--no-color", help="Table without colours (also when NO_COLOR is set).")
]


@decoding(precision="fp32")
def align(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: opt.ModelDirs = None,
    input: AlignInput = None,
    output: opt.Output = None,
    ref: AlignRef = None,
    fmt: AlignFormat = None,
    level: AlignLevel = "word",
    threshold: Threshold = None,
    links: Links = "mutual",
    reverse_model: ReverseModel = None,
    symmetrize: Symmetrize = "mean",
    shift: Shift = None,
    layer: Layer = None,
    head: Head = None,
    gold: Gold = None,
    gold_order: GoldOrder = "src-tgt",
    no_color: NoColor = False,
    debug: opt.Debug = False,
) -> None:
    """Show how the model aligns target to source words: heatmap tables, Pharaoh links or JSON.

    The alignments are the model's attention, over its own translations or over given targets
    (--ref), force-decoded."""

    def action() -> None:
        from nmt_cli.alignment.align_files import AlignFiles, start_alignment
        from nmt_cli.cli.formats import alignment_scores
        from nmt_cli.cli.render import write_alignments
        from nmt_cli.io.files import os_errors_as_words

        request = AlignFiles(
            replace(decode, attention=AttentionChoice(layer, head)), runtime, model_dirs=model or (),
            input=input, output=output, format=fmt, ref=ref, level=level, threshold=threshold,
            reverse_model=reverse_model, gold=gold, gold_order=gold_order, shift=shift,
            heuristic=symmetrize, rule=links, window=1 if interactive(input) else 1000,
        )  # fmt: skip
        job = start_alignment(request)
        with job.open_output() as out:
            predicted = write_alignments(job.alignments, job.format, out, no_color)
        if job.gold is not None:
            with os_errors_as_words("writing", "stdout"):
                typer.echo(alignment_scores(job.scores(predicted), job.format))

    run(debug, action)
