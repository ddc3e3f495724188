"""`python -m nmt_cli` is the `nmt` command (what `torchrun -m nmt_cli` runs)."""

import subprocess
import sys


def test_python_dash_m_runs_the_nmt_app():
    out = subprocess.run(
        [sys.executable, "-m", "nmt_cli", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    for command in ("train", "translate", "evaluate", "align", "prepare", "export", "average"):
        assert command in out.stdout
