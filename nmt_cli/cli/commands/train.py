"""`nmt train`: every option is a config field (cli/train_options.py makes them), and the one
library call each run makes."""

from __future__ import annotations

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli import train_options as topt
from nmt_cli.cli.console import err, run, visible
from nmt_cli.training.recipe import TrainRecipe


@topt.training
def train(ctx: typer.Context, recipe: TrainRecipe, debug: opt.Debug = False) -> None:
    """Train a model; an interrupted run in OUTPUT resumes where it stopped.

    Under torchrun (`torchrun --nproc-per-node N -m nmt_cli train ...`) the N processes train
    one model together (DistributedDataParallel), each on its share of every update.
    """
    given = opt.options_given(ctx)

    def action() -> None:
        from nmt_cli.cli.render import RichReporter
        from nmt_cli.training import distributed
        from nmt_cli.training.recipe import run_recipe

        result = run_recipe(recipe, RichReporter(err), given)
        main = distributed.is_main()
        distributed.shutdown()
        if not main:  # process 0 speaks for all
            raise typer.Exit(130 if result.stopped_by == "interrupt" else 0)
        if result.stopped_by == "interrupt":
            err.print(f"interrupted at step {result.steps}: state saved; run the same command to resume")
            raise typer.Exit(130)
        err.print(
            f"done ({result.stopped_by}) after {result.steps} steps, {result.elapsed / 60:.1f} min; "
            f"best validation BLEU {result.best_bleu:.2f}; model in {visible(str(recipe.output))}",
            markup=False,
        )

    run(debug, action)
