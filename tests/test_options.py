"""The decoding options are declared once and reach a command as config dataclasses."""

import pytest
import typer
from typer.testing import CliRunner

from nmt_cli.cli.decode_options import decoding
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
        ("--length-penalty", "-2.5"),
        ("--length-penalty", "11"),
        ("--temperature", "inf"),
        ("--temperature", "nan"),
        ("--temperature", "0"),
        ("--temperature", "-1"),
    ],
)
def test_a_non_finite_or_out_of_range_decoding_number_is_refused_naming_the_option(option, value):
    app, seen = command_with_decoding()
    result = CliRunner().invoke(app, [option, value, "--sampling", "full"])
    bound = {"--length-penalty": " and 0<=x<=10", "--max-len-ratio": " and 0<x<=20"}.get(option, " and x>0")
    assert result.exit_code == 2 and result.output.strip().splitlines() == [  # a usage error
        f"error: {option} must be finite{bound}, not {value}"
    ]
    assert not seen


def test_valid_decoding_numbers_still_pass():
    app, seen = command_with_decoding()
    args = ["--max-len-ratio", "0.5", "--length-penalty", "0.5", "--temperature", "0.7"]
    assert CliRunner().invoke(app, args).exit_code == 0
    decode = seen["decode"]
    assert (decode.max_len_ratio, decode.length_penalty, decode.temperature) == (0.5, 0.5, 0.7)


# Round 3: every size and count a user types has a bound, refused in one line naming the option.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nmt_cli.cli.app import app as nmt_app  # noqa: E402

BOUNDED = {  # option: (lowest, highest) accepted
    "--beam-size": (1, 1000),
    "--nbest": (1, 1000),
    "--threads": (0, 1024),
    "--seed": (0, 2**32 - 1),
}
TRAIN_BOUNDED = {
    "--threads": (0, 1024),
    "--seed": (0, 2**32 - 1),
    "--d-model": (1, 16_384),
    "--layers": (1, 64),
    "--heads": (1, 1024),
    "--vocab-size": (1, 1_000_000),
    "--batch-tokens": (1, 10_000_000),
}
numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([-1, 0, 1, 100_000, 10**9, 2**32, 2**32 - 1, 2**63])
)


def refused_in_one_line(result, option: str) -> None:
    assert result.exit_code != 0
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    assert option in result.output, result.output


@settings(max_examples=60, deadline=None)
@given(option=st.sampled_from(sorted(BOUNDED)), value=numbers)
def test_decoding_counts_outside_their_bounds_are_refused_naming_the_option(option, value):
    low, high = BOUNDED[option]
    args = ["translate", "-i", "/nonexistent/in.de", option, str(value), "--beam-size", "1000"][
        : 5 + 2 * (option == "--nbest")
    ]
    result = CliRunner().invoke(nmt_app, args)
    if low <= value <= high:
        assert "file not found" in result.output  # the options passed: the input is what is missing
    else:
        refused_in_one_line(result, option)


@pytest.mark.parametrize("value", ["1e9", "21", "inf", "nan", "0", "-1"])
def test_an_output_length_ratio_that_would_exhaust_memory_is_refused(value):
    """--max-len-ratio 1e9 allocated 160 GB."""
    result = CliRunner().invoke(nmt_app, ["translate", "-i", "/nonexistent", "--max-len-ratio", value])
    refused_in_one_line(result, "--max-len-ratio")


@settings(max_examples=60, deadline=None)
@given(option=st.sampled_from(sorted(TRAIN_BOUNDED)), value=numbers)
def test_training_sizes_outside_their_bounds_are_refused_naming_the_option(tmp_path_factory, option, value):
    low, high = TRAIN_BOUNDED[option]
    out = tmp_path_factory.mktemp("run") / "m"
    args = ["train", "--train", "/nonexistent/c", "-s", "de", "-t", "en", "-o", str(out), option, str(value)]
    if option in ("--d-model", "--heads", "--layers"):
        args += ["--arch", "transformer"]
    result = CliRunner().invoke(nmt_app, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    if not low <= value <= high:
        refused_in_one_line(result, option)


@pytest.mark.parametrize("value", ["100000", "-1"])
def test_prepare_threads_and_seed_are_bounded(tmp_path, value):
    """`nmt prepare --threads 100000` aborted in C++."""
    for option in ("--threads", "--seed"):
        args = ["prepare", "--train", "/nonexistent/c", "-s", "de", "-t", "en", "-o", str(tmp_path), option]
        result = CliRunner().invoke(nmt_app, [*args, value if option == "--threads" else "-1"])
        refused_in_one_line(result, option)
