"""`nmt average`: its options, and the one library call each run makes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli.console import err, run, visible

AverageModel = Annotated[
    Path, typer.Option("-m", "--model", help="Model directory the checkpoints belong to.")
]
AverageOutput = Annotated[Path, typer.Option("-o", "--output", help="New model directory to write.")]
Last = Annotated[
    int | None,
    typer.Option(min=1, help="Average the last N checkpoints kept by train --keep-checkpoints."),
]
Checkpoints = Annotated[
    list[str] | None,
    typer.Option(
        help="Average these checkpoint files (paths, or names inside --model): --checkpoints A B C, "
        "or the files alone: nmt average -m DIR -o OUT A B C."
    ),
]
MoreFiles = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="FILES", help="Checkpoint files to average (as --checkpoints).", show_default=False
    ),
]


def average(
    model: AverageModel,
    output: AverageOutput,
    last: Last = None,
    checkpoints: Checkpoints = None,
    more: MoreFiles = None,
    debug: opt.Debug = False,
) -> None:
    """Write a model directory whose weights are the element-wise mean of several checkpoints."""

    def action() -> None:
        from nmt_cli.models.average import average as average_checkpoints

        files = [*(checkpoints or []), *(more or [])]
        out = average_checkpoints(model, output, last, files)
        n = last or len(files)
        err.print(f"averaged {n} checkpoint{'' if n == 1 else 's'} into {visible(str(out))}", markup=False)

    run(debug, action)
