"""The one line rule of every command: only `\\n` ends a line, and a `\\r` right before it is
dropped (Windows files). Any other `\\r`, U+2028, U+0085 or NUL stays inside its line, so N
lines in give N lines out; `data.normalize` turns such characters into spaces for the model.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from nmt_cli.errors import NMTError


def strip_line_end(raw: bytes) -> bytes:
    """`b"x\\r\\n"` -> `b"x"`, `b"x\\n"` -> `b"x"`; other bytes (a second `\\r` too) stay."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def iter_raw_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of a binary stream split on `\\n` only; a last line without `\\n` counts too."""
    for raw in stream:  # binary iteration splits on b"\n" and nothing else
        yield strip_line_end(raw)


def require_readable(path: Path) -> None:
    """A missing path or a directory is an NMTError. A named pipe counts as a file, so that
    `-i <(zcat corpus.gz)` reads as it does in other Unix tools."""
    if path.is_dir():
        raise NMTError(f"{path} is a directory, not a file")
    if not path.exists():
        raise NMTError(f"file not found: {path}")


def open_binary(path: str | Path) -> BinaryIO:
    """A plain or gzipped file (or named pipe) opened for reading bytes; see `require_readable`."""
    path = Path(path)
    require_readable(path)
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # type: ignore[return-value]
    except OSError as e:
        raise NMTError(f"cannot read {path}: {e.strerror or e}") from e


def decoded_lines(stream: BinaryIO, errors: str = "replace") -> Iterator[str]:
    """Decoded lines of a stream; `errors="replace"` turns invalid UTF-8 into U+FFFD."""
    for raw in iter_raw_lines(stream):
        yield raw.decode("utf-8", errors=errors)


def input_lines(path: Path | None) -> Iterator[str]:
    """Lines of a file (plain or .gz) or of stdin (None or "-"), invalid UTF-8 replaced."""
    if path is None or str(path) == "-":
        yield from decoded_lines(stdin_binary())
        return
    with open_binary(path) as f:
        try:
            yield from decoded_lines(f)
        except (OSError, EOFError) as e:
            raise NMTError(f"{path}: cannot read ({e})") from e


def stdin_binary() -> BinaryIO:
    """stdin as bytes (test runners may give a text stream without a buffer)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BytesIO(sys.stdin.read().encode("utf-8"))


def read_lines(path: str | Path, errors: str = "strict") -> list[str]:
    """All lines of a file under the line rule; invalid gzip is an NMTError, and so is invalid
    UTF-8 unless `errors="replace"` (text to translate, read as `nmt translate` reads it)."""
    lines: list[str] = []
    with open_binary(path) as f:
        try:
            for raw in iter_raw_lines(f):
                lines.append(raw.decode("utf-8", errors=errors))
        except UnicodeDecodeError as e:
            raise NMTError(f"{path}: line {len(lines) + 1} is not valid UTF-8 ({e.reason})") from e
        except (OSError, EOFError) as e:
            raise NMTError(f"{path}: cannot read ({e})") from e
    return lines


def one_line(text: str) -> str:
    """`text` made safe to write as one output line: no `\\n` or `\\r` inside it."""
    return text.replace("\r", " ").replace("\n", " ")
