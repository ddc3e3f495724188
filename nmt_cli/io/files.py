"""Files the user named: never read and written at once, written only when complete, and OS
failures said in words."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import require_readable
from nmt_cli.io.streams import is_closed, standard_stream


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


def stdout_file() -> tuple[int, int] | None:
    """(device, inode) of standard output when it is a regular file (`> out`, `>> in.de`), else
    None: a terminal or pipe is no input's file, though a terminal is stdin's too."""
    try:
        st = os.fstat(1)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def refuse_same_file(
    output: Path | None, output_option: str, inputs: Sequence[tuple[str, Path | None]]
) -> None:
    """Refuse an output file that is also one of the inputs: opening it for writing would empty
    the input before it is read, and appending to it would feed the command its own output
    forever. `output` None or "-" is stdout, refused only when it is a regular file. `inputs`
    pairs an option with its path ("-": stdin; None: not given)."""
    to_stdout = output is None or str(output) == "-"
    out_id = stdout_file() if to_stdout else file_identity(output)
    if out_id is None:
        return
    for option, path in inputs:
        if file_identity(path) == out_id:
            source = "stdin" if str(path) == "-" else f"{option} {path}"
            named = "stdout" if to_stdout else f"{output_option} {output}"
            raise NMTError(
                f"{named} is the same file as {source}: writing it would destroy the input "
                "(or, appended to, feed it forever); write to another file"
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


@contextlib.contextmanager
def open_output(
    path: Path | None, inputs: Sequence[tuple[str, Path | None]] = (), option: str = "-o"
) -> Iterator[TextIO]:
    """A UTF-8 file to write, or stdout for None or "-" (and /dev/stdout, /dev/stderr), once the
    `inputs` (option, path; "-" is stdin) exist and none of them is that same file; failure is
    one clear NMTError.

    A file is written under a temporary name beside it and renamed over it when the block ends
    without error, so a command that fails or is interrupted half-way leaves the previous file
    as it was. A file with other hard links gets the finished output copied into it instead, so
    that every name sees it (see `_copy_into_linked`). An existing pipe or device (not a regular
    file) is written directly.
    """
    require_inputs(inputs)
    refuse_same_file(path, option, inputs)
    stream = standard_stream("-" if path is None else str(path))
    if stream is not None:
        if is_closed(stream):
            stream.write("x")  # raises the NMTError that says which stream is closed
        yield stream  # type: ignore[misc]
        stream.flush()
        return
    assert path is not None
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)  # write through a link
    if Path(path).exists() and not Path(path).is_file():
        with os_errors_as_words("writing", path), open(path, "w", encoding="utf-8", newline="\n") as direct:
            yield direct
        return
    from nmt_cli.io.atomic import publish, temp_file_beside  # a file, not stdout

    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    with os_errors_as_words("opening", path):
        tmp = temp_file_beside(target)
    try:
        with os_errors_as_words("writing", path):
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                yield f
            if target.exists() and target.stat().st_nlink > 1:
                _copy_into_linked(tmp, target)
            else:
                publish(tmp, target, mode)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_into_linked(tmp: Path, target: Path) -> None:
    """Write `tmp`'s bytes into a hard-linked `target` itself (a rename would leave its other
    names on the old content). The space is reserved first (posix_fallocate), so a full disk
    fails before the old content is touched; then the whole output is kept beside the target,
    under a name the error gives, and every name of the old file is intact."""
    size = tmp.stat().st_size
    fd = os.open(target, os.O_WRONLY)
    try:
        try:
            if size > os.fstat(fd).st_size:
                os.posix_fallocate(fd, 0, size)
        except OSError as e:
            raise _kept_beside(tmp, target, e) from e
        with open(tmp, "rb") as src, open(fd, "wb", closefd=False) as dst:
            shutil.copyfileobj(src, dst)
            dst.truncate(size)
    finally:
        os.close(fd)


def _kept_beside(tmp: Path, target: Path, e: OSError) -> NMTError:
    """Move the finished output next to `target` and say where, with why it was not written."""
    from nmt_cli.io.atomic import publish

    kept = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.new")
    publish(tmp, kept)
    reason = describe_os_error(e, "writing", target)
    if e.errno in (errno.EOPNOTSUPP, errno.EINVAL):
        reason = f"{target} has other hard links and its file system cannot reserve space for it"
    return NMTError(f"{reason}; every name of the previous file is intact and the whole output is in {kept}")
