"""Output files and streams: written through a temporary file and renamed into place, or straight
to a pipe or device; and input read in windows."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from nmt_cli.errors import NMTError
from nmt_cli.io.files import describe_os_error, os_errors_as_words, refuse_same_file, require_inputs
from nmt_cli.io.lines import input_lines as input_lines  # re-exported: the one line rule
from nmt_cli.io.lines import read_lines as read_lines
from nmt_cli.io.lines import strip_line_end

if TYPE_CHECKING:
    pass


@contextlib.contextmanager
def open_output(
    path: Path | None, inputs: Sequence[tuple[str, Path | None]] = (), option: str = "-o"
) -> Iterator[TextIO]:
    """A UTF-8 file to write, or stdout for None or "-", once the `inputs` (option, path; "-" is
    stdin) exist and none of them is that same file; failure is one clear NMTError.

    A file is written under a temporary name beside it and renamed over it when the block ends
    without error, so a command that fails or is interrupted half-way leaves the previous file
    as it was. A file with other hard links gets the finished output copied into it instead, so
    that every name sees it. An existing pipe or device (not a regular file) is written directly.
    """
    require_inputs(inputs)
    refuse_same_file(path, option, inputs)
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)  # write through a link
    if target.exists() and not target.is_file():
        with os_errors_as_words("writing", path), open(target, "w", encoding="utf-8", newline="\n") as direct:
            yield direct
        return
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    with os_errors_as_words("opening", path):
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os_errors_as_words("writing", path):
            with open(fd, "w", encoding="utf-8", newline="\n") as f:
                yield f
            os.chmod(tmp, mode)
            if target.exists() and target.stat().st_nlink > 1:
                _copy_into_linked(tmp, target)
            else:
                os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_into_linked(tmp: Path, target: Path) -> None:
    """Write `tmp`'s bytes into a hard-linked `target` itself (a rename would leave its other
    names on the old content); if that fails, the whole output is kept under a name beside it."""
    try:
        shutil.copyfile(tmp, target)
    except OSError as e:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.", suffix=".new")
        os.close(fd)
        kept = Path(name)
        os.replace(tmp, kept)
        raise NMTError(f"{describe_os_error(e, 'writing', target)}; the whole output is in {kept}") from e


class TextStream:
    """The lines of a plain or gzipped UTF-8 file, one at a time, under the line rule of lines.py.

    Memory stays at one line whatever the file size; `position` is the bytes read from disk
    (compressed bytes for .gz), for progress bars. Invalid UTF-8 or gzip is an NMTError.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NMTError(f"file not found: {self.path}")
        self._raw: BinaryIO | None = None

    @property
    def position(self) -> int:
        return self._raw.tell() if self._raw is not None and not self._raw.closed else 0

    def __iter__(self) -> Iterator[str]:
        n = 0
        try:
            with open(self.path, "rb") as raw:
                self._raw = raw
                with gzip.open(raw, "rb") if self.path.suffix == ".gz" else contextlib.nullcontext(raw) as f:
                    for line in f:
                        n += 1
                        yield strip_line_end(line).decode("utf-8")
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
