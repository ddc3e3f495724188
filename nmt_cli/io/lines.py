"""The one line rule of every command: only `\\n` ends a line, and a `\\r` right before it is
dropped (Windows files). Any other `\\r`, U+2028, U+0085 or NUL stays inside its line, so N
lines in give N lines out; `data.normalize` turns such characters into spaces for the model.

Every text input is read here, so that these hold for all of them: a line is at most
MAX_LINE_BYTES long (memory stays bounded whatever the input, `/dev/zero` included); a leading
UTF-8 byte order mark is not text; gzip is recognised by its magic bytes, whatever the file's
name; UTF-16 and UTF-32 files (recognised by their byte order mark) are refused in words.
"""

from __future__ import annotations

import gzip
import io
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import AnyStr, BinaryIO

from nmt_cli.errors import NMTError

MAX_LINE_BYTES = 4 * 1024 * 1024  # documented in docs/guarantees.md
UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 LE/BE; UTF-32 LE starts with FF FE too


def strip_line_end(raw: AnyStr) -> AnyStr:
    """`"x\\r\\n"` -> `"x"`, `"x\\n"` -> `"x"`, as bytes or text; other characters (a second
    `\\r` too) stay."""
    if raw[-1:] in (b"\n", "\n"):
        raw = raw[:-1]
        if raw[-1:] in (b"\r", "\r"):
            raw = raw[:-1]
    return raw


def iter_raw_lines(stream: BinaryIO, name: str = "input", keep_ends: bool = False) -> Iterator[bytes]:
    """Lines of a binary stream split on `\\n` only (a last line without `\\n` counts too), the
    first without its UTF-8 byte order mark, with their line ends where `keep_ends`; a line over
    MAX_LINE_BYTES is an NMTError, read no further than the limit."""
    n = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        n += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise NMTError(
                f"{name}: line {n} is longer than {MAX_LINE_BYTES // 2**20} MiB, the longest line nmt "
                "reads (is it a text file?)"
            )
        if n == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
            if not raw:
                return  # a file that holds a BOM and nothing else has no lines
        yield raw if keep_ends else strip_line_end(raw)


def require_readable(path: Path) -> None:
    """A missing path or a directory is an NMTError. A named pipe counts as a file, so that
    `-i <(zcat corpus.gz)` reads as it does in other Unix tools."""
    if path.is_dir():
        raise NMTError(f"{path} is a directory, not a file")
    if not path.exists():
        raise NMTError(f"file not found: {path}")


def peekable(stream: BinaryIO) -> io.BufferedReader:
    """`stream` with `peek`, so that its first bytes can be looked at without consuming them
    (a pipe cannot seek back)."""
    if isinstance(stream, io.BufferedReader | gzip.GzipFile):
        return stream  # type: ignore[return-value,unused-ignore]
    return io.BufferedReader(stream)  # type: ignore[arg-type]


def sniffed(stream: BinaryIO, name: str, gz_name: bool = False) -> BinaryIO:
    """`stream`, decompressed if it is gzip; UTF-16/32 text is refused (its BOM says what it is),
    and so is a file named .gz (`gz_name`) that is not gzip."""
    buffered = peekable(stream)
    head = buffered.peek(4)[:4]
    if gz_name and not head.startswith(GZIP_MAGIC):
        raise NMTError(f"cannot read {name}: its name ends in .gz but it is not gzip-compressed")
    if head.startswith(GZIP_MAGIC):
        unzipped = gzip.GzipFile(fileobj=buffered, mode="rb")
        unzipped.myfileobj = buffered  # type: ignore[assignment]  # closed with it, as gzip.open does
        return sniffed(unzipped, name)  # type: ignore[arg-type]
    if head.startswith(WIDE_BOMS):
        raise NMTError(
            f"{name} is UTF-16 or UTF-32 text (it starts with a byte order mark); nmt reads UTF-8: "
            f"convert it first, e.g. iconv -f UTF-16 -t UTF-8 {name} > {name}.utf8"
        )
    return buffered


def open_binary(path: str | Path) -> BinaryIO:
    """A plain or gzipped file (or named pipe) opened for reading bytes; see `require_readable`
    and `sniffed`."""
    path = Path(path)
    require_readable(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115  (returned open, closed by the caller)
    except OSError as e:
        raise NMTError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        return sniffed(raw, str(path), path.suffix == ".gz")
    except BaseException as e:
        raw.close()
        if isinstance(e, OSError | EOFError):
            raise NMTError(f"{path}: cannot read ({e})") from e
        raise


def bytes_read(stream: BinaryIO) -> int:
    """How far into the file on disk `stream` has read (compressed bytes for gzip): for progress."""
    inner = getattr(stream, "myfileobj", None) or stream
    try:
        return int(inner.tell())
    except (OSError, ValueError):
        return 0


def decoded_lines(
    stream: BinaryIO, errors: str = "replace", name: str = "input", keep_ends: bool = False
) -> Iterator[str]:
    """Decoded lines of a stream; `errors="replace"` turns invalid UTF-8 into U+FFFD, with one
    warning that names the first such line (the translation of mojibake is mojibake)."""
    warned = False
    for n, raw in enumerate(iter_raw_lines(stream, name, keep_ends), 1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            if errors != "replace":
                raise
            if not warned:
                logging.getLogger("nmt_cli").warning(
                    "%s: line %d is not valid UTF-8 (is it Latin-1?); its invalid bytes are read as U+FFFD",
                    name, n,
                )  # fmt: skip
                warned = True
            yield raw.decode("utf-8", errors="replace")


def input_lines(path: Path | None, keep_ends: bool = False) -> Iterator[str]:
    """Lines of a file (plain or gzip) or of stdin (None or "-"), invalid UTF-8 replaced; with
    `keep_ends` each with its own line end ("\\n", "\\r\\n" or none), so that joined they are the
    text exactly (a document)."""
    if path is None or str(path) == "-":
        yield from decoded_lines(sniffed(stdin_binary(), "stdin"), name="stdin", keep_ends=keep_ends)
        return
    with open_binary(path) as f:
        try:
            yield from decoded_lines(f, name=str(path), keep_ends=keep_ends)
        except (OSError, EOFError) as e:
            raise NMTError(f"{path}: cannot read ({e})") from e


def stdin_binary() -> BinaryIO:
    """stdin as bytes (test runners may give a text stream without a buffer); a closed stdin
    (`<&-`) is an NMTError."""
    if sys.stdin is None or getattr(sys.stdin, "closed_by_shell", False):
        raise NMTError("stdin is closed (<&-): give the input with -i FILE or through a pipe")
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
            for raw in iter_raw_lines(f, str(path)):
                lines.append(raw.decode("utf-8", errors=errors))
        except UnicodeDecodeError as e:
            raise NMTError(f"{path}: line {len(lines) + 1} is not valid UTF-8 ({e.reason})") from e
        except (OSError, EOFError) as e:
            raise NMTError(f"{path}: cannot read ({e})") from e
    return lines


def one_line(text: str) -> str:
    """`text` made safe to write as one output line: no `\\n` or `\\r` inside it."""
    return text.replace("\r", " ").replace("\n", " ")


# Line breaks that json.dumps(ensure_ascii=False) leaves as they are and str.splitlines() splits
# at: a JSON-lines reader in Python would see two records.
_JSON_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_line(value: object) -> str:
    """`value` as one line of JSON (UTF-8 text kept readable, every line break escaped)."""
    import json

    return json.dumps(value, ensure_ascii=False).translate(_JSON_BREAKS)


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
