"""Files the user named: never read and written at once, and OS failures said in words."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import require_readable


def file_identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of an existing file, so that symlinks and hard links compare equal;
    "-" stands for stdin, identified by its descriptor when it is redirected from a file."""
    if path is None:
        return None
    try:
        st = os.fstat(sys.stdin.fileno()) if str(path) == "-" else os.stat(path)
    except (OSError, ValueError, AttributeError):
        return None  # a missing file, or a stdin with no descriptor (a test runner's)
    return st.st_dev, st.st_ino


def refuse_same_file(
    output: Path | None, output_option: str, inputs: Sequence[tuple[str, Path | None]]
) -> None:
    """Refuse an output file that is also one of the inputs: opening it for writing would empty
    the input before it is read. `inputs` pairs an option with its path ("-": stdin; None: not given)."""
    if output is None or str(output) == "-":
        return
    out_id = file_identity(output)
    if out_id is None:
        return
    for option, path in inputs:
        if file_identity(path) == out_id:
            source = "stdin" if str(path) == "-" else f"{option} {path}"
            raise NMTError(
                f"{output_option} {output} is the same file as {source}: writing it would destroy "
                "the input; write to another file"
            )


def directory_inputs(option: str, directories: Sequence[Path]) -> list[tuple[str, Path | None]]:
    """Every file inside `directories` (model directories: weights, SentencePiece models,
    config.json), as (option, path) inputs for `refuse_same_file`: an output must not be a file
    that the command reads, and a model is read too."""
    found: list[tuple[str, Path | None]] = []
    for directory in directories:
        try:
            found += [(option, p) for p in sorted(Path(directory).iterdir()) if p.is_file()]
        except OSError:
            continue  # a missing directory is the loader's to report
    return found


def require_inputs(inputs: Sequence[tuple[str, Path | None]]) -> None:
    """Check that every named input file can be read before any output is opened (a named
    pipe can: see `lines.require_readable`)."""
    for option, path in inputs:
        if path is not None and str(path) != "-":
            try:
                require_readable(Path(path))
            except NMTError as e:
                raise NMTError(f"{option}: {e}") from None


def describe_os_error(e: OSError, doing: str, path: Path | str) -> str:
    """`no space left on device while writing DIR/last.pt`, from an OSError's errno."""
    if e.errno == errno.EISDIR:
        return f"{path} is a directory, not a file, while {doing} it"
    reason = os.strerror(e.errno).lower() if e.errno else str(e)
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = f"{reason} (check the permissions or pick another place)"
    return f"{reason} while {doing} {path}"


@contextmanager
def os_errors_as_words(doing: str, path: Path | str) -> Iterator[None]:
    """Turn an OSError inside the block into one NMTError sentence naming `path`
    (a broken pipe passes through: the CLI ends quietly on it, as Unix tools do)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise NMTError(describe_os_error(e, doing, path)) from e
