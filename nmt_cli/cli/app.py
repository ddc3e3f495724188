"""The `nmt` command: a Typer app whose commands are imported only when used, so that `nmt
translate` never builds train's options (training/recipe.py), and `nmt --help` stays fast
(torch is imported only inside commands).

Each command is a module of commands/ holding its options and the library calls it makes.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from nmt_cli.cli.console import err, visible

# Each command and the module that defines it (a function of the same name), in --help order.
COMMANDS = {
    name: f"nmt_cli.cli.commands.{name}"
    for name in ("train", "translate", "evaluate", "align", "prepare", "export", "average")
}


def _reflowed(doc: str) -> str:
    """A docstring with each paragraph on one line: typer keeps a paragraph's own line breaks,
    which the terminal then wraps again into ragged lines."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


class CommandModules(Mapping[str, TyperCommand]):
    """The commands by name, each built from its module on first use (click's lazy
    subcommands): the names are known at once, for usage errors that suggest one."""

    def __init__(self, rich_markup_mode: Any) -> None:
        self.rich_markup_mode = rich_markup_mode
        self.built: dict[str, TyperCommand] = {}

    def __getitem__(self, name: str) -> TyperCommand:
        if name not in self.built:
            callback = getattr(importlib.import_module(COMMANDS[name]), name)
            info = CommandInfo(callback=callback, help=_reflowed(callback.__doc__ or ""))
            command = get_command_from_info(
                info, pretty_exceptions_short=True, rich_markup_mode=self.rich_markup_mode
            )
            self.built[name] = cast(TyperCommand, command)
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyCommands(TyperGroup):
    """The `nmt` group, whose commands are CommandModules."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = CommandModules(self.rich_markup_mode)  # type: ignore[assignment]

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """click's main, with a usage error (an option out of its range, a missing argument, an
        unknown command) said in one line on stderr with exit code 2, as every other refusal
        is one line (docs/guarantees.md), where typer draws a box of five."""
        from typer._click.exceptions import UsageError  # typer vendors click

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except UsageError as e:
            if type(e).__name__ != "NoArgsIsHelpError":  # that one has shown the help already
                hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
                err.print(f"error: {visible(e.format_message())}{hint}", markup=False, soft_wrap=True)
            raise SystemExit(e.exit_code) from None
        raise SystemExit(code if isinstance(code, int) else 0)


def _group() -> None:
    """Typer makes a group of an app with a callback; the commands come from LazyCommands."""


app = typer.Typer(
    cls=LazyCommands,
    callback=_group,
    help="Neural machine translation: train, translate, evaluate, and see alignments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    try:
        app(prog_name="nmt")
    except OSError as e:  # outside run(): only --help and usage messages, to a full disk
        from nmt_cli.io.files import describe_os_error

        err.print(f"error: {describe_os_error(e, 'writing', 'stdout')}", markup=False, soft_wrap=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
