"""NMTError is the user-facing failure: the CLI says it in one line and exits 1, and keeps the
traceback for --debug."""

from typer.testing import CliRunner

from nmt_cli.cli.app import app


def test_an_nmt_error_is_one_line_and_exit_code_1(tmp_path):
    missing = tmp_path / "missing.en"
    result = CliRunner().invoke(app, ["evaluate", "--hyp", str(missing), "--ref", str(missing)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.en" in lines[0]
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_the_same_error(tmp_path):
    missing = tmp_path / "missing.en"
    result = CliRunner().invoke(app, ["evaluate", "--hyp", str(missing), "--ref", str(missing), "--debug"])
    assert result.exit_code == 1 and "Traceback" in result.output and "NMTError" in result.output
