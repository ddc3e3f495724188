"""The options several `nmt` commands share, and how options are declared: names, help texts
and checks, each once, so that a command's module reads as which option it takes with which
default.

Typer only (no rich, no torch). The decoding options are in decode_options.py; train's and
prepare's in train_options.py; each other command declares its own beside it (commands/).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from nmt_cli.config import MAX_SEED as MAX_SEED  # re-exported: decoding's --seed
from nmt_cli.config import MAX_THREADS, TrainConfig

Command = Callable[..., None]

# Shared by several commands.
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
ModelDir = Annotated[
    Path | None,
    typer.Option("-m", "--model", help="Model directory (default: the shipped de-en model)."),
]
ModelDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "-m",
        "--model",
        help="Model directory (default: the shipped de-en model). Repeat it to decode with an "
        "ensemble (mean of log-probabilities) of models that share their SentencePiece models.",
    ),
]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")]
# --device and --threads of every command: as `nmt train` declares them (config.TrainConfig).
_TRAIN = {f.name: f.metadata for f in dataclasses.fields(TrainConfig)}
Device = Annotated[str, typer.Option(help=_TRAIN["device"]["help"])]
Threads = Annotated[int, typer.Option(min=0, max=MAX_THREADS, help=_TRAIN["threads"]["help"])]
Split = Annotated[
    str | None,
    typer.Option(
        help="sentences: split every line into sentences (over-long ones at clauses) and put it back "
        "with its own spacing; none: each line whole, as before. "
        "Default: sentences (translate: none with --nbest). See docs/documents.md.",
    ),
]

Bound = tuple[Literal[">", ">=", "<", "<="], float]
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def range_text(bounds: tuple[Bound, ...]) -> str:
    """Bounds as typer shows a range: x>0, 0<=x<1."""
    if len(bounds) < 2:
        return "".join(f"x{op}{b:g}" for op, b in bounds) or "finite"
    low = "".join(f"{b:g}{'<' if op == '>' else '<='}" for op, b in bounds if op[0] == ">")
    high = "".join(f"{op}{b:g}" for op, b in bounds if op[0] == "<")
    return f"{low}x{high}"


def finite(*bounds: Bound) -> Callable[[typer.CallbackParam, float | None], float | None]:
    """A typer callback that refuses nan, ±inf and numbers outside `bounds` in one line naming
    the option, as the sampler refuses --temperature 0: typer's min= and max= let nan and inf
    through and cannot leave out a bound."""
    wanted = f"finite and {range_text(bounds)}" if bounds else "finite"

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is not None and not (
            math.isfinite(value) and all(_COMPARE[op](value, b) for op, b in bounds)
        ):
            name = max(param.opts, key=len)
            typer.echo(f"error: {name} must be {wanted}, not {value:g}", err=True)
            raise typer.Exit(2)  # a usage error, as typer's own range checks
        return value

    return check


def finite_option(help: str, *bounds: Bound) -> Any:
    """typer.Option for a float that must be finite and within `bounds`, which --help shows."""
    return typer.Option(help=f"{help} [{range_text(bounds)}]", callback=finite(*bounds))


def with_options(
    added: dict[str, tuple[Any, Any]],
    replaces: tuple[str, ...],
    build: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[Command], Command]:
    """Give a command the options `added` (name: (annotated type, default)) before its --debug,
    in place of its parameters `replaces`, which `build` makes from those options' values."""

    def wrap(command: Command) -> Command:
        kw_only = inspect.Parameter.KEYWORD_ONLY
        signature = inspect.signature(command, eval_str=True)
        own = [p.replace(kind=kw_only) for p in signature.parameters.values() if p.name not in replaces]
        new = [inspect.Parameter(n, kw_only, default=d, annotation=t) for n, (t, d) in added.items()]
        params = [p for p in own if p.name != "debug"] + new + [p for p in own if p.name == "debug"]

        @functools.wraps(command)
        def with_configs(**kw: Any) -> None:
            command(**build({n: kw.pop(n) for n in added}), **kw)

        with_configs.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return with_configs

    return wrap


def options_given(ctx: typer.Context) -> set[str]:
    """The options typed on the command line (or set in the environment), not defaulted."""
    typed = ("COMMANDLINE", "ENVIRONMENT")  # ParameterSource names (typer vendors click)
    return {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "") in typed}
