"""What a run imports: `nmt translate` loads only the decoding path (issue #37), and a command's
module is imported only when that command runs, so that one command's options cost the others
nothing."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Parts that a default `nmt translate` (no --glossary, --sample, --format json, colour; one
# -m; short sentences without numbers or URLs) never uses.
NOT_ON_THE_TRANSLATE_PATH = (
    "nmt_cli.training.",
    "nmt_cli.accel.",  # CPU-training acceleration: dropout reaches it only in training
    "nmt_cli.alignment.",
    "nmt_cli.data.corpus",
    "nmt_cli.data.cache",
    "nmt_cli.data.parallel",
    "nmt_cli.decoding.glossary",
    "nmt_cli.decoding.constraints",  # only for lines with glossary terms or protected spans
    "nmt_cli.decoding.placeholders",  # only for lines with protected spans
    "nmt_cli.decoding.confidence",
    "nmt_cli.documents.chunk",  # only for a sentence longer than the model was trained on
    "nmt_cli.models.ensemble",  # only for several -m
    "nmt_cli.decoding.sampling",
    "nmt_cli.cli.confidence_view",
    "nmt_cli.cli.render",
    "nmt_cli.cli.train_options",
    "nmt_cli.io.atomic",
)


@pytest.mark.slow
def test_translate_imports_only_the_decoding_path():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "count_modules.py"), "translate"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=True,
    )
    count, *modules = out.stderr.split()
    assert out.stdout.strip(), "no translation: the run failed"
    assert int(count) == len(modules) and "nmt_cli.decoding.search" in modules
    assert len(modules) <= 31, f"the translate path grew to {len(modules)} modules: {modules}"
    assert [m for m in modules if m.startswith(NOT_ON_THE_TRANSLATE_PATH)] == []


@pytest.mark.slow
def test_the_app_imports_no_command_until_one_runs():
    code = (
        "import sys; from nmt_cli.cli.app import app; "
        "print(sorted(m for m in sys.modules if m.startswith(('nmt_cli.cli.commands.', "
        "'nmt_cli.cli.train_options', 'nmt_cli.training', 'torch'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_a_mistyped_command_is_refused_with_a_suggestion():
    """Commands load lazily, but their names are known at once (click's lazy subcommands)."""
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    result = CliRunner().invoke(app, ["tranlate"])
    assert result.exit_code == 2 and "Did you mean 'translate'" in result.output
