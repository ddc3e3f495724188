"""Output files and streams: written through a temporary file and renamed into place, or straight
to a pipe or device; and input read in windows."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from nmt_cli.errors import NMTError
from nmt_cli.io.files import describe_os_error, os_errors_as_words, refuse_same_file, require_inputs
from nmt_cli.io.lines import bytes_read, iter_raw_lines, open_binary
from nmt_cli.io.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.io.lines import read_lines as read_lines
from nmt_cli.io.streams import is_closed, standard_stream


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


class TextStream:
    """The lines of a plain or gzipped UTF-8 file, one at a time, under the line rule of lines.py.

    Memory stays at one line whatever the file size; `position` is the bytes read from disk
    (compressed bytes for gzip), for progress bars. Invalid UTF-8 or gzip is an NMTError.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NMTError(f"file not found: {self.path}")
        self._position = 0

    @property
    def position(self) -> int:
        return self._position

    def __iter__(self) -> Iterator[str]:
        n = 0
        try:
            with open_binary(self.path) as f:
                for line in iter_raw_lines(f, str(self.path)):
                    n += 1
                    self._position = bytes_read(f)
                    yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NMTError(f"{self.path}: line {n} is not valid UTF-8 ({e.reason})") from e
        except (OSError, EOFError) as e:
            raise NMTError(f"{self.path}: cannot read ({e})") from e


def windows(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Yield consecutive chunks of at most `size` lines, so long inputs stream in bounded memory."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
