"""The standard streams when the shell closed them (`>&-`, `<&-`): Python then sets sys.stdout
(or stdin) to None, and the next file nmt opens would take the free descriptor 1 (or 0). Both are
made safe here: the descriptor is held by /dev/null, and the stream raises an NMTError in words
when used, so that results are never silently lost and the exit code says so.
"""

from __future__ import annotations

import io
import os
import sys

from nmt_cli.errors import NMTError

STANDARD = ((0, "stdin"), (1, "stdout"), (2, "stderr"))


class ClosedStream(io.TextIOBase):
    """Stands for a standard stream the shell closed: any read or write is an NMTError."""

    closed_by_shell = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.stream_name = name

    def _refuse(self) -> NMTError:
        if self.stream_name == "stdin":
            return NMTError("stdin is closed (<&-): give the input with -i FILE or through a pipe")
        return NMTError(f"{self.stream_name} is closed (>&-): the results cannot be written; use -o FILE")

    def write(self, s: str) -> int:
        if not s:
            return 0
        raise self._refuse()

    def read(self, size: int | None = -1) -> str:
        raise self._refuse()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise self._refuse()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation(f"{self.stream_name} is closed")


def _hold(fd: int) -> None:
    """Put /dev/null on descriptor `fd` if it is closed, so that no file nmt opens gets it."""
    try:
        os.fstat(fd)
        return
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def guard_standard_streams() -> None:
    """Replace closed standard streams (None in sys) as the module docstring says; a closed
    stderr discards what is written to it (the exit code still tells a failure)."""
    for fd, name in STANDARD:
        if getattr(sys, name) is None:
            _hold(fd)
            replacement = open(os.devnull, "w") if name == "stderr" else ClosedStream(name)  # noqa: SIM115
            setattr(sys, name, replacement)


def is_closed(stream: object) -> bool:
    """Whether `stream` stands for a standard stream the shell closed."""
    return stream is None or getattr(stream, "closed_by_shell", False)


def standard_stream(path: str) -> io.TextIOBase | None:
    """sys.stdout for "-", /dev/stdout, /dev/fd/1; sys.stderr for /dev/stderr, /dev/fd/2; else
    None. Opening /dev/stdout anew fails for a socket and, through a symlink to
    /proc/self/fd/1, looks like a missing file when it is a pipe; the open stream always works."""
    if path in ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        return sys.stdout  # type: ignore[return-value]
    if path in ("/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"):
        return sys.stderr  # type: ignore[return-value]
    return None
