"""The benchmark's rich tables (the text of each figure is built in bench_figures.py)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from benchmarks import bench_figures
from benchmarks.bench_figures import Figures
from nmt_cli.cli.render import figures_table


def figures_view(f: Figures) -> Table:
    """A table of benchmark figures (bench_figures.py builds their text)."""
    table = figures_table(f.title, f.columns, f.text, caption=f.caption)
    for row in f.rows:
        table.add_row(*row)
    return table


def bench_tables(results: dict[str, Any]) -> list[Table]:
    return [figures_view(f) for f in bench_figures.speed(results)]


def profile_tables(arch: str, found: Any) -> list[Table]:
    return [figures_view(f) for f in bench_figures.profile(arch, found)]


def scale_tables(scale: dict[str, Any]) -> list[Table]:
    return [figures_view(f) for f in bench_figures.scale(scale)]


def ct2_table(results: dict[str, Any]) -> Table:
    return figures_view(bench_figures.ct2(results))


def ddp_table(results: dict[str, Any]) -> Table:
    return figures_view(bench_figures.ddp(results))
