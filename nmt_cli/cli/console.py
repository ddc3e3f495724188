"""How a command meets the terminal: diagnostics on one rich console on stderr, a failure as
one line and an exit code, and whether input comes from a person typing at a terminal."""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape

MIN_WIDTH = 40  # COLUMNS=0 or 5 left rich no room: tables came out empty, exit 0


class _PipeConsole(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (`| head -1`): rich would exit 1 here; `run` ends such a
        command quietly with 0, as every other output of nmt does."""
        self.quiet = True
        raise BrokenPipeError


def console(**options: Any) -> Console:
    """A rich Console with `options`, at least MIN_WIDTH columns wide whatever COLUMNS says."""
    made = _PipeConsole(**options)
    if made.width < MIN_WIDTH:
        made.width = MIN_WIDTH
    return made


err = console(stderr=True, highlight=False)

# Characters a terminal may act on instead of showing: C0 and C1 controls (ESC starts the
# sequences that set the title or clear the screen), DEL, and the bidirectional overrides that
# reorder what is shown. Text for the terminal shows them as \\x1b, \\u202e escapes.
_INVISIBLE = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} | {
    c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def visible(text: str) -> str:
    """`text` as a terminal shows it without acting on it: controls become escapes (see
    _INVISIBLE). For tables, progress and errors; results to a pipe or file stay byte-exact."""
    return str(text).translate(_INVISIBLE)


class VisibleFormatter(logging.Formatter):
    """Log records (warnings on stderr) with their control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


def run(debug: bool, action: Callable[[], Any]) -> Any:
    """Call `action`, turning failures into one line on stderr and exit code 1 (control
    characters escaped: a file name must not act on the terminal); a closed standard stream
    is such a failure when it is used (streams.py)."""
    from nmt_cli.errors import NMTError
    from nmt_cli.io.streams import guard_standard_streams

    guard_standard_streams()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    before = _terminate_as_interrupt()
    try:
        return action()
    except typer.Exit:
        raise
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Terminated:
        err.print("terminated")
        raise typer.Exit(128 + signal.SIGTERM) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except NMTError as e:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] {escape(visible(str(e)))}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    except OSError as e:
        from nmt_cli.io.files import describe_os_error

        if debug:
            traceback.print_exc()
        where = e.filename if e.filename is not None else "a file"
        err.print(f"[red]error:[/] {escape(visible(describe_os_error(e, 'using', where)))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as e:
        if debug:
            traceback.print_exc()
        err.print(
            f"[red]error:[/] {type(e).__name__}: {escape(visible(str(e)))}"
            + ("" if debug else " (run with --debug for the traceback)"),
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, docker stop), raised where the command is, so that it stops as
    on Ctrl-C: temporary files removed, the previous output left as it was."""


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM raise Terminated; the handler it replaces (None off the main thread,
    where signals cannot be caught). Training installs its own, which saves state first."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise Terminated

    return signal.signal(signal.SIGTERM, stop)


def colour_wanted(out: TextIO) -> bool:
    """Whether to colour what goes to `out`: a terminal, and NO_COLOR not set to something."""
    return out.isatty() and not os.environ.get("NO_COLOR")


def interactive(input: Path | None) -> bool:
    """Reading a terminal: translate line by line and flush each result at once."""
    return input is None and sys.stdin.isatty()
