"""Files written atomically: the content goes to a temporary file beside the target, which is
then renamed over it, so a kill or a full disk mid-save leaves the previous version intact, and
a failed write is said in words (see files.py), not as a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nmt_cli.errors import NMTError
from nmt_cli.io.files import describe_os_error


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path`.

    A failed write (disk full, read-only, file too large) removes the temporary file and is
    reported in words; `path` itself keeps its previous version.
    """
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; model files are meant to be shared
        os.replace(tmp, path)
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


def save_json(path: Path, data: Any) -> None:
    """Indented UTF-8 JSON, written atomically (config.json, meta data)."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def save_json_lines(path: Path, records: list[Any]) -> None:
    """One JSON object per line, written atomically (the training log)."""
    text = "".join(json.dumps(r) + "\n" for r in records)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def save_torch(path: Path, obj: Any) -> None:
    """torch.save, written atomically (model.pt, last.pt, kept checkpoints)."""
    import torch

    def write(tmp: Path) -> None:
        # A Python file object, so a failed write surfaces as an OSError with its errno.
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    atomic_write(path, write)
