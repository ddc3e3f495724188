"""How a command meets the terminal and the system (cli/console.py): SIGTERM (kill, timeout,
docker stop) stops a command as Ctrl-C does, leaving no temporary file and the previous output."""

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_sigterm_stops_translate_without_leaving_temporary_files(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft durch den schnee\n" * 200_000, encoding="utf-8")
    out = tmp_path / "out.en"
    out.write_text("the previous translation\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nmt_cli", "translate", "-m", str(tiny_model_dir), "-i", str(src)]
        + ["-o", str(out), "--threads", "1", "--split", "none"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):  # writing has begun
            assert proc.poll() is None and time.monotonic() < deadline, "no output was being written"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "terminated" in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.de", "out.en"]
    assert out.read_text(encoding="utf-8") == "the previous translation\n"


@pytest.mark.parametrize("columns", ["0", "5"])
def test_a_tiny_columns_setting_still_leaves_the_tables_room(monkeypatch, columns):
    """COLUMNS=0 made rich print nothing at all (evaluate's scores, align's tables), exit 0."""
    import io

    from rich.table import Table

    from nmt_cli.cli.console import MIN_WIDTH, console

    monkeypatch.setenv("COLUMNS", columns)
    out = io.StringIO()
    table = Table("metric", "score")
    table.add_row("BLEU", "100.00")
    console(file=out).print(table)
    assert console(file=io.StringIO()).width == MIN_WIDTH and "BLEU" in out.getvalue()


def test_a_reader_that_goes_away_is_a_broken_pipe_for_run_to_end_quietly():
    """rich exits 1 on a broken pipe (`nmt align -f table | head -1`); run() ends with 0."""
    import contextlib
    import os

    from nmt_cli.cli.console import console

    read, write = os.pipe()
    os.close(read)
    out = os.fdopen(write, "w", buffering=1)
    try:
        with pytest.raises(BrokenPipeError):
            console(file=out).print("x")
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.close()
