"""`nmt export`: its options, and the one library call each run makes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli.console import err, run, visible

ExportOutput = Annotated[
    Path, typer.Option("-o", "--output", help="Directory to write (new, or an earlier export).")
]
ExportFormat = Annotated[Literal["ctranslate2"], typer.Option(help="Target engine.")]
Quantization = Annotated[
    Literal["int8", "int16", "float16", "bfloat16", "float32"],
    typer.Option(help="Weight type stored in the export."),
]


def export(
    output: ExportOutput,
    model: opt.ModelDir = None,
    format: ExportFormat = "ctranslate2",
    quantization: Quantization = "float32",
    debug: opt.Debug = False,
) -> None:
    """Export a Transformer for CTranslate2 (needs the optional ctranslate2 package)."""

    def action() -> None:
        from nmt_cli.models.checkpoint import SHIPPED_MODEL
        from nmt_cli.models.export import export_ctranslate2

        done = export_ctranslate2(model or SHIPPED_MODEL, output, quantization)
        err.print(
            f"exported {format} model ({done.quantization}) to {visible(str(done.out))}; see its README.md",
            soft_wrap=True,
            markup=False,
        )

    run(debug, action)
