"""Issue #38 as a user meets it, through the real `nmt` process: closed standard streams and
/dev/stdout, outputs that are the model being read, odd encodings, and text that must not act
on the terminal. The shipped model decodes: no training needed."""

import gzip
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nmt_cli.models.checkpoint import SHIPPED_MODEL

pytestmark = pytest.mark.slow
NMT = [sys.executable, "-m", "nmt_cli"]
LINES = "Ein Hund läuft.\nZwei Frauen spielen.\n"


def sh(command: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """`nmt` under bash, so that the test can close streams the way a shell does."""
    nmt = " ".join(shlex.quote(a) for a in NMT)
    return subprocess.run(
        ["bash", "-c", command.replace("nmt ", nmt + " ", 1)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture()
def work(tmp_path):
    (tmp_path / "in.de").write_text(LINES, encoding="utf-8")
    return tmp_path


def test_a_closed_stdout_is_an_error_not_lost_results(work):
    refused(sh("nmt translate -i in.de --threads 1 >&-", work), "stdout is closed")
    (work / "h.en").write_text("a dog runs\n")
    refused(sh("nmt evaluate --hyp h.en --ref h.en >&-", work), "stdout is closed")


def test_a_closed_stdin_is_an_error_only_when_read(work):
    refused(sh("nmt translate --threads 1 <&-", work), "stdin is closed")
    ok = sh("nmt translate -i in.de --threads 1 <&-", work)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 2, ok.stderr


@pytest.mark.parametrize("device, stream", [("/dev/stdout", "stdout"), ("/dev/stderr", "stderr")])
def test_dev_stdout_and_dev_stderr_into_a_pipe_are_written(work, device, stream):
    result = sh(f"nmt translate -i in.de --threads 1 -o {device} 2>&1 | cat", work)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2, result


def test_an_output_that_is_a_file_of_the_model_is_refused_and_the_model_still_loads(work):
    model = work / "model"
    shutil.copytree(SHIPPED_MODEL, model)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    refused(sh("nmt translate -m model -i in.de -o model/model.pt", work), "same file as -m", "model.pt")
    (work / "h.en").symlink_to(model / "spm.model")  # by inode, not by name
    refused(
        sh("nmt evaluate -m model --src in.de --ref in.de --save-hyp h.en", work), "--save-hyp", "same file"
    )
    refused(sh("nmt align -m model -i in.de -o model/config.json", work), "same file as -m")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_gzip_without_gz_translates_as_the_plain_file_and_utf16_is_refused(work):
    plain = sh("nmt translate -i in.de --threads 1", work)
    (work / "zipped.de").write_bytes(gzip.compress(LINES.encode()))
    zipped = sh("nmt translate -i zipped.de --threads 1", work)
    assert plain.returncode == zipped.returncode == 0 and zipped.stdout == plain.stdout
    (work / "wide.de").write_bytes(LINES.encode("utf-16"))
    refused(sh("nmt translate -i wide.de --threads 1", work), "UTF-16", "iconv")
    refused(sh("nmt translate --threads 1 < wide.de", work), "stdin is UTF-16")


def test_a_reference_with_a_bom_scores_its_own_text_100(work):
    (work / "h.en").write_text("A dog runs in the park.\nTwo women play.\n", encoding="utf-8")
    (work / "r.en").write_bytes(b"\xef\xbb\xbf" + (work / "h.en").read_bytes())
    result = sh("nmt evaluate --hyp h.en --ref r.en --metrics bleu --json", work)
    assert result.returncode == 0 and '"score": 100.0' in result.stdout, result


def test_escape_sequences_in_the_input_do_not_reach_the_terminal(work):
    """A line with ESC]0;… set the terminal's title, ESC[2J cleared the screen."""
    (work / "evil.de").write_text("Ein \x1b]0;pwned\x07Hund \x1b[2J läuft.\n", encoding="utf-8")
    table = sh("nmt align -i evil.de --format table --no-color --threads 1", work)
    assert table.returncode == 0 and "\x1b" not in table.stdout and "\x07" not in table.stdout, table
    assert "\\x1b]0;pwned\\x07" in table.stdout


def test_a_file_name_with_controls_makes_a_one_line_error_that_shows_them(work):
    result = sh("nmt translate -i $'no\\nsuch\\x1b[2Jfile'", work)
    refused(result, "file not found", "no\\x0asuch\\x1b[2Jfile")
    assert "\x1b" not in result.stderr


def test_pharaoh_and_json_results_stay_byte_exact(work):
    """Escaping is for the terminal only: Pharaoh and JSON keep the text as it is."""
    (work / "odd.de").write_text("Ein \x1b[1mHund\n", encoding="utf-8")
    result = sh("nmt align -i odd.de --format json --threads 1", work)
    assert result.returncode == 0 and "\\u001b[1mHund" in result.stdout, result


def test_an_output_that_is_the_glossary_is_refused(work):
    (work / "terms.tsv").write_text("Hund\tdog\n", encoding="utf-8")
    refused(sh("nmt translate -i in.de --glossary terms.tsv -o terms.tsv", work), "same file as --glossary")
    assert (work / "terms.tsv").read_text(encoding="utf-8") == "Hund\tdog\n"
