"""Print docs/layout.md: one line per module, the first sentence of its docstring.

The layout page is derived, not written, so that it cannot drift from the code:
`.venv/bin/python scripts/layout.py > docs/layout.md`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("nmt_cli", "benchmarks")
OUTSIDE = [
    "- `models/de-en/`, `models/en-de/`: the shipped models, each with its model card"
    " (`README.md`: data, commands, training history, scores)",
    "- `data/`: the bundled corpora (Multi30k, Tatoeba, WMT newstest) and the alignment gold,"
    " each with a README",
    "- `tests/`: a `test_<name>.py` per module or behaviour (some still named after the flat package's"
    " modules: `test_data`, `test_model`, `test_train`), plus the CLI; toy models in `tests/conftest.py`; "
    "`tests/test_architecture.py` checks the shape above (modules of at most 300 lines, rich only in "
    "the CLI's rendering, the library never importing the CLI, acceleration behind `accel/ops.py`, "
    "search, alignment, training and evaluation importing no architecture module and comparing no "
    "architecture name)",
    "- `scripts/`: maintainers' tools, not part of `nmt` (linted and type-checked by `make check`)",
    "- `docs/`: one page per topic; the README is the front door",
]


def docstring(path: Path) -> str:
    """A Python module's docstring, or a C file's first comment."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return ast.get_docstring(ast.parse(text)) or ""
    match = re.search(r"/\*(.*?)\*/", text, re.S)
    return re.sub(r"^\s*\*\s?", "", match.group(1), flags=re.M) if match else ""


def first_sentence(doc: str) -> str:
    """The docstring's first sentence, on one line."""
    flat = " ".join(doc.strip().split("\n\n")[0].split())
    match = re.search(r"\.(\s+[A-Z`(]|$)", flat)
    sentence = flat[: match.start() + 1] if match else flat
    if len(sentence) > 140 and ": " in sentence[:140]:
        sentence = sentence[: sentence.index(": ")]
    return sentence


def modules(folder: str) -> dict[str, list[Path]]:
    """Every source file under `folder`, grouped by its directory."""
    groups: dict[str, list[Path]] = {}
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix in {".py", ".c", ".h"} and "__pycache__" not in path.parts:
            groups.setdefault(str(path.parent.relative_to(ROOT)), []).append(path)
    return groups


TRANSLATE_PATH = """\
What a default `echo "Ein Hund läuft." | nmt translate` imports from nmt_cli, counted by
`.venv/bin/python scripts/count_modules.py translate` (the non-package `nmt_cli` entries of
`sys.modules` after the run; `__init__.py` files hold no code). tests/test_imports.py keeps
training, acceleration, alignment, glossaries, constraints, confidence, sampling, ensembles,
long-sentence chunking and the atomic writer off this path: each loads only when its option or
input asks for it. What is left is the default job itself (beam 5, sentences split, protected
spans looked for, the shipped Transformer, a file or stdin in and out). Issue #37 asked for 12
at most; the rest is the cost of one concept per file (the flat package's `search.py` is now
search, beam and hypothesis; its `cli.py` is app, command, options, decoding options, console
and formats), weighed against it and kept."""


def translate_path() -> list[str]:
    """The modules a default `nmt translate` imports, grouped by folder, with their count."""
    script = ROOT / "scripts" / "count_modules.py"
    run = subprocess.run(
        [sys.executable, str(script), "translate"], capture_output=True, text=True, timeout=300, check=True
    )
    count, *names = run.stderr.split()
    groups: dict[str, list[str]] = {}
    for name in names:
        folder, _, module = name.removeprefix("nmt_cli.").rpartition(".")
        groups.setdefault(folder.replace(".", "/") or "nmt_cli", []).append(f"`{module}`")
    rows = [f"- `{folder}/` ({len(mods)}): {', '.join(mods)}" for folder, mods in sorted(groups.items())]
    return [f"## The path of `nmt translate`: {count} modules", "", TRANSLATE_PATH, "", *rows, ""]


def page() -> str:
    """The whole layout page."""
    out = [
        "# Layout",
        "",
        "Where each part of nmt-cli lives: one line per module, the first sentence of its docstring",
        "(generated: `.venv/bin/python scripts/layout.py > docs/layout.md`).",
        "",
    ]
    for folder in FOLDERS:
        for group, paths in sorted(modules(folder).items()):
            out += [f"## `{group}/`", ""]
            for path in paths:
                summary = first_sentence(docstring(path))
                if summary or path.name != "__init__.py":
                    out.append(f"- `{path.name}`: {summary or '(no docstring)'}")
            out.append("")
    out += translate_path()
    out += ["## Outside the code", "", *OUTSIDE]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(page(), end="")
