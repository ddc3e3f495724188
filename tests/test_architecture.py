"""The shape of the package, checked so that it cannot drift back (issue #37): modules small
enough to read, the terminal libraries only in the CLI, the acceleration behind its one seam,
and search, alignment, training and evaluation blind to the architecture they drive."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nmt_cli"
MAX_LINES = 300
RENDERING = {"cli.console", "cli.render", "cli.confidence_view"}  # the only modules that import rich
ARCHITECTURES = {"nmt_cli.models.rnn", "nmt_cli.models.attention", "nmt_cli.models.transformer"}
ARCHITECTURES |= {"nmt_cli.models.transformer_layers"}
# a comparison with an architecture's name, `cfg.arch == "rnn"`: a branch on the architecture
ASKS_ARCH = re.compile(r"(==|!=)\s*\"(rnn|transformer)\"|\"(rnn|transformer)\"\s*(==|!=)")


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name below nmt_cli (`cli.app`)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        found[name] = path
    return found


def imported(path: Path, top_level_only: bool = False) -> set[str]:
    """The modules `path` imports, lazily inside functions too unless `top_level_only`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def importers_of(prefix: str) -> set[str]:
    """The modules of the package that import `prefix` (a module or a package) anywhere."""
    return {
        name
        for name, path in modules().items()
        if any(m == prefix or m.startswith(prefix + ".") for m in imported(path))
    }


def test_the_checks_see_the_whole_package():
    """A check that finds no modules would pass on anything."""
    found = modules()
    assert len(found) > 50 and {"cli.app", "models.transformer", "decoding.beam"} <= set(found)
    assert "nmt_cli.models.seq2seq" in imported(found["decoding.beam"])


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_longer_than_a_reader_holds_in_mind(name):
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concept"


def test_only_the_cli_rendering_imports_rich():
    assert {n for n in importers_of("rich")} <= RENDERING


def test_only_the_cli_imports_typer_and_the_library_never_imports_the_cli():
    """Everything the CLI does is usable from Python: the library never reaches up into it."""
    assert all(name.startswith("cli.") for name in importers_of("typer"))
    assert {n for n in importers_of("nmt_cli.cli") if not n.startswith("cli.")} == {"__main__"}


def test_the_cli_modules_load_no_torch_until_a_command_runs():
    """`nmt --help` stays fast: torch is imported inside the commands' actions only."""
    heavy = {"torch", "numpy", "sentencepiece", "sacrebleu"}
    for name, path in modules().items():
        if name.startswith("cli."):
            top = {m.split(".")[0] for m in imported(path, top_level_only=True)}
            assert not top & heavy, f"{name} imports {top & heavy} when loaded"


def test_acceleration_is_reached_through_its_one_seam():
    """The models call accel.ops only; no other part of the package touches accel at all."""
    for name in importers_of("nmt_cli.accel"):
        if name.startswith("accel."):
            continue
        outside = {m for m in imported(modules()[name]) if m.startswith("nmt_cli.accel")}
        assert name.startswith("models."), f"{name} imports the acceleration"
        assert {m.rsplit(".", 1)[0] if m.count(".") > 2 else m for m in outside} == {"nmt_cli.accel.ops"}


@pytest.mark.parametrize("part", ["decoding.", "alignment.", "training.", "evaluate"])
def test_search_alignment_training_and_evaluation_never_ask_which_architecture(part):
    """They drive the Seq2Seq interface (models/seq2seq.py), never a model class: a third
    architecture needs no change there."""
    for name, path in modules().items():
        if name.startswith(part):
            reached = {m for m in imported(path) if any(m.startswith(a) for a in ARCHITECTURES)}
            assert reached == set(), f"{name} imports {reached}"
            asks = ASKS_ARCH.search(Path(path).read_text(encoding="utf-8"))
            assert asks is None, f"{name} compares the architecture: {asks and asks.group()}"


@pytest.mark.slow
def test_the_layout_page_is_what_the_package_says_of_itself():
    """docs/layout.md is generated (scripts/layout.py): one line per module from its docstring,
    and the modules `nmt translate` loads. A module added, moved or redescribed regenerates it."""
    import subprocess
    import sys

    root = PACKAGE.parent
    run = subprocess.run(
        [sys.executable, str(root / "scripts" / "layout.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == (root / "docs" / "layout.md").read_text(encoding="utf-8"), (
        "docs/layout.md is stale: .venv/bin/python scripts/layout.py > docs/layout.md"
    )
