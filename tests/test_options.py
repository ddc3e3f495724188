"""The decoding options are declared once and reach a command as config dataclasses."""

import pytest
import typer
from typer.testing import CliRunner

from nmt_cli.cli.options import decoding
from nmt_cli.config import DecodeConfig, RuntimeConfig


def command_with_decoding(**kw):
    app = typer.Typer()
    seen = {}

    @app.command()
    @decoding(**kw)
    def go(decode: DecodeConfig, runtime: RuntimeConfig, name: str = "x") -> None:
        seen.update(decode=decode, runtime=runtime, name=name)

    return app, seen


def test_options_left_out_give_the_dataclass_defaults():
    app, seen = command_with_decoding()
    assert CliRunner().invoke(app, []).exit_code == 0
    assert seen["decode"] == DecodeConfig() and seen["runtime"] == RuntimeConfig(precision="auto")


def test_typed_options_land_in_the_configs_and_the_command_keeps_its_own():
    app, seen = command_with_decoding(precision="fp32", nbest=True)
    args = ["-k", "3", "--nbest", "2", "--threads", "1", "--name", "y"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (seen["decode"].beam_size, seen["decode"].nbest, seen["name"]) == (3, 2, "y")
    assert seen["runtime"].precision == "fp32" and seen["runtime"].threads == 1


def test_nbest_is_only_offered_where_asked_for():
    app, _ = command_with_decoding()
    result = CliRunner().invoke(app, ["--nbest", "2"])
    assert result.exit_code != 0 and "No such option" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-len-ratio", "nan"),
        ("--max-len-ratio", "inf"),
        ("--max-len-ratio", "-1"),
        ("--max-len-ratio", "0"),
        ("--length-penalty", "nan"),
        ("--length-penalty", "inf"),
        ("--length-penalty", "-inf"),
        ("--temperature", "inf"),
        ("--temperature", "nan"),
        ("--temperature", "0"),
        ("--temperature", "-1"),
    ],
)
def test_a_non_finite_or_out_of_range_decoding_number_is_refused_naming_the_option(option, value):
    app, seen = command_with_decoding()
    result = CliRunner().invoke(app, [option, value, "--sampling", "full"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"error: {option} must be finite{' and x>0' if option != '--length-penalty' else ''}, not {value}"
    ]
    assert not seen


def test_valid_decoding_numbers_still_pass():
    app, seen = command_with_decoding()
    args = ["--max-len-ratio", "0.5", "--length-penalty", "-0.5", "--temperature", "0.7"]
    assert CliRunner().invoke(app, args).exit_code == 0
    decode = seen["decode"]
    assert (decode.max_len_ratio, decode.length_penalty, decode.temperature) == (0.5, -0.5, 0.7)
