"""`nmt train`'s options reach the command as one TrainRecipe, repeated options as tuples."""

import typer
from typer.testing import CliRunner

from nmt_cli.recipe import TrainRecipe
from nmt_cli.train_options import training


def test_repeated_options_become_tuples_and_left_out_ones_the_recipes_defaults():
    app = typer.Typer()
    seen = {}

    @app.command()
    @training
    def go(recipe: TrainRecipe) -> None:
        seen["recipe"] = recipe

    args = ["--train", "a", "--train", "b", "--train-weights", "3", "--train-weights", "1"]
    result = CliRunner().invoke(app, [*args, "-s", "de", "-t", "en", "-o", "out", "--arch", "transformer"])
    assert result.exit_code == 0, result.output
    recipe = seen["recipe"]
    assert recipe.train == ("a", "b") and recipe.train_weights == (3.0, 1.0)
    assert recipe.arch == "transformer" and recipe.layers is None  # the architecture's default later
    assert recipe.lr == TrainRecipe.lr and str(recipe.output) == "out"


def test_the_required_options_are_required():
    app = typer.Typer()

    @app.command()
    @training
    def go(recipe: TrainRecipe) -> None:
        pass

    result = CliRunner().invoke(app, ["--train", "a", "-s", "de", "-t", "en"])
    assert result.exit_code != 0 and "--output" in result.output
