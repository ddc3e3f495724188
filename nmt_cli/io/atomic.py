"""Files and directories written atomically, in one place: the content goes to a temporary name
beside the target, which is then renamed over it, so a kill or a full disk mid-save leaves the
previous version intact, and a failed write is said in words (see files.py), not as a traceback.
Every command that writes a file or a directory (outputs, checkpoints, caches, averaged models,
exports) writes it through this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nmt_cli.errors import NMTError
from nmt_cli.io.files import describe_os_error

FILE_MODE, DIR_MODE = 0o644, 0o755  # mkstemp/mkdtemp make 0600/0700; nmt's files are meant to be shared


def temp_file_beside(path: Path) -> Path:
    """A new empty `.NAME.xxxx.tmp` beside `path` (rundir.is_temporary knows the pattern)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def publish(tmp: Path, path: Path, mode: int = FILE_MODE) -> None:
    """Give the finished temporary file or directory `tmp` its mode and rename it to `path`."""
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def atomic_write(path: Path, write: Callable[[Path], object], mode: int = FILE_MODE) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path`.

    A failed write (disk full, read-only, file too large) removes the temporary file and is
    reported in words; `path` itself keeps its previous version.
    """
    tmp: Path | None = None
    try:
        tmp = temp_file_beside(path)
        write(tmp)
        publish(tmp, path, mode)
    except Exception as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        cause = os_error_in(e)
        if cause is None:
            raise
        kept = "; the previous version is intact" if path.exists() else ""
        if kept and path.suffix == ".pt":
            kept = "; the previous checkpoint is intact"
        raise NMTError(describe_os_error(cause, "writing", path) + kept) from e
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def os_error_in(e: BaseException) -> OSError | None:
    """The OSError behind `e`: torch.save reports a failed write as a RuntimeError whose
    context is the OSError of the file object it wrote to."""
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def copy_file(src: Path, dst: Path) -> None:
    """`src`'s bytes as `dst`, written atomically (SentencePiece models copied between directories)."""
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


@contextlib.contextmanager
def staging_directory(path: Path, name: str | None = None) -> Iterator[Path]:
    """A new temporary directory beside `path` (`.NAME.xxxx.tmp`, or `name`), removed with whatever
    is left in it when the block ends: the caller moves the finished content out (see publish)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if name is None:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    else:
        tmp = path.parent / name
        tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def new_directory(path: Path) -> Iterator[Path]:
    """A directory built under a temporary name beside `path` and renamed to it (over an empty
    one) when the block ends without error: a full disk or a kill leaves no half-made model."""
    with staging_directory(path) as tmp:
        yield tmp
        publish(tmp, path, DIR_MODE)


def save_text(path: Path, text: str) -> None:
    """UTF-8 text with `\\n` line ends, written atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")))


def save_json(path: Path, data: Any) -> None:
    """Indented UTF-8 JSON, written atomically (config.json, meta data)."""
    save_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def save_json_lines(path: Path, records: list[Any]) -> None:
    """One JSON object per line, written atomically (the training log)."""
    save_text(path, "".join(json.dumps(r) + "\n" for r in records))


def save_torch(path: Path, obj: Any) -> None:
    """torch.save, written atomically (model.pt, last.pt, kept checkpoints)."""
    import torch

    def write(tmp: Path) -> None:
        # A Python file object, so a failed write surfaces as an OSError with its errno.
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    atomic_write(path, write)
