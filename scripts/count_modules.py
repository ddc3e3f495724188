"""Count the project modules one `nmt` run imports (issue #37: `nmt translate` should touch few).

Runs `nmt ARGS...` in this process, with `Ein Hund läuft.` on stdin, then counts the entries of
sys.modules that are nmt_cli modules and not packages (an `__init__.py` holds no code here).
Prints the count and the modules on stderr, so that the translation on stdout stays apart:

    .venv/bin/python scripts/count_modules.py translate        # default: translate
"""

from __future__ import annotations

import contextlib
import io
import sys


def project_modules() -> list[str]:
    """The nmt_cli modules imported so far, packages left out."""
    return sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("nmt_cli") and not hasattr(module, "__path__")
    )


def main(args: list[str]) -> list[str]:
    """Run `nmt args` (a SystemExit is the command ending) and return the modules it imported."""
    sys.argv = ["nmt", *(args or ["translate"])]
    sys.stdin = io.TextIOWrapper(io.BytesIO("Ein Hund läuft.\n".encode()), encoding="utf-8")
    from nmt_cli.cli.app import main as nmt

    with contextlib.suppress(SystemExit):
        nmt()
    return project_modules()


if __name__ == "__main__":
    modules = main(sys.argv[1:])
    sys.stdout.flush()
    print(len(modules), *modules, sep="\n", file=sys.stderr)
