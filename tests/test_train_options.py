"""`nmt train`'s options reach the command as one TrainRecipe, repeated options as tuples."""

import pytest
import typer
from typer.testing import CliRunner

from nmt_cli.cli.train_options import training
from nmt_cli.training.recipe import OPTIONS, TrainRecipe


def command_with_training():
    app = typer.Typer()
    seen = {}

    @app.command()
    @training
    def go(recipe: TrainRecipe) -> None:
        seen["recipe"] = recipe

    return app, seen


def test_repeated_options_become_tuples_and_left_out_ones_the_recipes_defaults():
    app, seen = command_with_training()
    args = ["--train", "a", "--train", "b", "--train-weights", "3", "--train-weights", "1"]
    result = CliRunner().invoke(app, [*args, "-s", "de", "-t", "en", "-o", "out", "--arch", "transformer"])
    assert result.exit_code == 0, result.output
    recipe = seen["recipe"]
    assert recipe.train == ("a", "b") and recipe.train_weights == (3.0, 1.0)
    assert recipe.arch == "transformer" and recipe.layers is None  # the architecture's default later
    assert recipe.lr == OPTIONS["lr"].default == 1e-3 and str(recipe.output) == "out"


def test_the_required_options_are_required():
    app = typer.Typer()

    @app.command()
    @training
    def go(recipe: TrainRecipe) -> None:
        pass

    result = CliRunner().invoke(app, ["--train", "a", "-s", "de", "-t", "en"])
    assert result.exit_code != 0 and "--output" in result.output


REQUIRED = ["--train", "a", "-s", "de", "-t", "en", "-o", "out"]
FLOATS = {
    "--lr": "x>0",
    "--clip-norm": "x>0",
    "--dropout": "0<=x<1",
    "--attn-dropout": "0<=x<1",
    "--label-smoothing": "0<=x<1",
    "--max-minutes": "x>=0",
}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--heads", "0"),
        ("--d-model", "0"),
        ("--enc-layers", "0"),
        ("--dec-layers", "0"),
        ("--layers", "0"),
        ("--vocab-size", "0"),
        ("--vocab-size", "-5"),
        ("--max-len", "0"),
        ("--batch-tokens", "0"),
        ("--batch-tokens", "-5"),
        ("--window", "-1"),
        ("--warmup-steps", "-1"),
        ("--max-epochs", "0"),
        ("--max-steps", "-5"),
        ("--patience", "-1"),
        ("--lr", "-1"),
        ("--lr", "0"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--dropout", "2"),
        ("--dropout", "1"),
        ("--dropout", "-0.5"),
        ("--dropout", "nan"),
        ("--attn-dropout", "1.5"),
        ("--label-smoothing", "1.5"),
        ("--label-smoothing", "-1"),
        ("--clip-norm", "-1"),
        ("--clip-norm", "0"),  # not "off": every gradient would be scaled to 0
        ("--clip-norm", "nan"),
        ("--max-minutes", "-1"),
        ("--max-minutes", "nan"),
    ],
)
def test_an_out_of_range_training_option_is_refused_naming_it(option, value):
    """Integer ranges are typer's (exit 2, as --beam-size); a float is refused in one line
    (exit 2, a usage error as typer's own range checks), since typer's ranges let nan and inf through."""
    app, seen = command_with_training()
    result = CliRunner().invoke(app, [*REQUIRED, option, value])
    assert option in result.output and "Traceback" not in result.output and not seen, result.output
    if option in FLOATS:
        assert result.exit_code == 2 and result.output.strip().splitlines() == [
            f"error: {option} must be finite and {FLOATS[option]}, not {value}"
        ]
    else:
        assert result.exit_code == 2 and "greater than or equal" in result.output


def test_in_range_training_options_and_their_documented_zeros_still_pass():
    app, seen = command_with_training()
    args = ["--heads", "8", "--dropout", "0", "--label-smoothing", "0", "--warmup-steps", "0"]
    more = ["--max-steps", "0", "--max-minutes", "0", "--window", "0", "--lr", "5e-4", "--clip-norm", "0.5"]
    result = CliRunner().invoke(app, [*REQUIRED, *args, *more])
    assert result.exit_code == 0, result.output
    recipe = seen["recipe"]
    assert (recipe.heads, recipe.dropout, recipe.max_steps, recipe.max_minutes) == (8, 0.0, 0, 0.0)
