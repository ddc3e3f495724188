"""`nmt evaluate`: its options, and the one library call each run makes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli.console import run
from nmt_cli.cli.decode_options import decoding
from nmt_cli.config import DecodeConfig, RuntimeConfig

EvalRefs = Annotated[
    list[Path], typer.Option("--ref", "-r", help="Reference file (or .gz); repeat for multi-reference.")
]
EvalHyp = Annotated[Path | None, typer.Option("--hyp", help="Translations to score (no model needed).")]
EvalSrc = Annotated[Path | None, typer.Option("--src", help="Source file to translate with the model.")]
Metrics = Annotated[str, typer.Option(help="Comma-separated: bleu, chrf, ter.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
SaveHyp = Annotated[Path | None, typer.Option("--save-hyp", help="Write the model's translations here.")]


@decoding(protect=True)
def evaluate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    ref: EvalRefs,
    hyp: EvalHyp = None,
    src: EvalSrc = None,
    model: opt.ModelDirs = None,
    metrics: Metrics = "bleu,chrf,ter",
    json_output: JsonOutput = False,
    save_hyp: SaveHyp = None,
    split: opt.Split = None,
    debug: opt.Debug = False,
) -> None:
    """Score translations (--hyp) or a model's translations of --src with sacreBLEU."""

    def action() -> None:

        from nmt_cli.cli.render import print_scores
        from nmt_cli.evaluate import evaluate as evaluate_files
        from nmt_cli.io.files import os_errors_as_words
        from nmt_cli.io.lines import json_line

        result = evaluate_files(
            ref, metrics=metrics, hyp=hyp, src=src, model_dirs=model or (), decode_cfg=decode,
            runtime=runtime, save_hyp=save_hyp, split=split,
        )  # fmt: skip
        with os_errors_as_words("writing", "stdout"):
            if json_output:
                typer.echo(json_line(result.to_dict()))
            else:
                print_scores(result)

    run(debug, action)
