"""Print docs/layout.md: one line per module, the first sentence of its docstring.

The layout page is derived, not written, so that it cannot drift from the code:
`.venv/bin/python scripts/layout.py > docs/layout.md`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("nmt_cli", "benchmarks")
OUTSIDE = [
    "- `models/de-en/`, `models/en-de/`: the shipped models, each with its model card"
    " (`README.md`: data, commands, training history, scores)",
    "- `data/`: the bundled corpora (Multi30k, Tatoeba, WMT newstest) and the alignment gold,"
    " each with a README",
    "- `tests/`: one `test_<module>.py` per module, plus the CLI; toy models in `tests/conftest.py`",
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
    out += ["## Outside the code", "", *OUTSIDE]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(page(), end="")
