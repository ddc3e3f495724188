"""The preparation cache: one directory per (input files, SentencePiece model, settings).

A directory is named after a hash of everything its contents depend on, so a changed input
file (path, size or modification time), vocabulary or cleaning setting simply misses the
cache: nothing is ever reused stale. It is built under a temporary name and renamed once its
meta.json (written last) is in place, so an interrupted preparation (Ctrl-C, kill -9, a full
disk) leaves nothing that a later run would trust; a later run removes such leftovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt_cli.io.atomic import DIR_MODE, publish, save_json, staging_directory

FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"
TMP_NAME = re.compile(r"^\.tmp-.+-(\d+)-[0-9a-f]{8}$")


@dataclass(frozen=True)
class Entry:
    """A complete cache directory, its meta.json, and whether this run found it already built."""

    path: Path
    meta: dict[str, Any]
    reused: bool


def file_signature(path: Path) -> dict[str, Any]:
    """What identifies an input file without reading it: absolute path, size, modification time."""
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_digest(path: Path) -> str:
    """SHA-256 of a (small) file's bytes: SentencePiece models are keyed by content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    """A short stable hash of everything a cached directory depends on."""
    text = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def entry_dir(data_dir: Path, name: str, key: str) -> Path:
    return data_dir / f"{name}-{key}"


def read_meta(directory: Path) -> dict[str, Any] | None:
    """The meta.json of a directory, or None when it is missing or unreadable."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def lookup(data_dir: Path, name: str, key: str) -> Entry | None:
    """The complete cached directory for `key` and its meta, or None on a miss."""
    directory = entry_dir(data_dir, name, key)
    meta = read_meta(directory)
    if meta is None or meta.get("key") != key or meta.get("format") != FORMAT_VERSION:
        return None
    return Entry(directory, meta, reused=True)


def build(data_dir: Path, name: str, key: str, make: Callable[[Path], dict[str, Any]]) -> Entry:
    """Run `make(tmp_dir)` (which fills the directory and returns its summary), then publish it.

    meta.json is written last and the directory renamed into place in one step; any failure
    or interrupt removes the temporary directory before it propagates.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(data_dir)
    final = entry_dir(data_dir, name, key)
    staged = f"{TMP_PREFIX}{name}-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with staging_directory(final, staged) as tmp:
        meta = {"format": FORMAT_VERSION, "key": key, **make(tmp)}
        save_json(tmp / "meta.json", meta)
        try:
            publish(tmp, final, DIR_MODE)
        except OSError:
            # Another run published the same entry first: keep theirs, which is identical.
            if lookup(data_dir, name, key) is None:
                raise
        return Entry(final, meta, reused=False)


def get_or_build(data_dir: Path, name: str, key: str, make: Callable[[Path], dict[str, Any]]) -> Entry:
    """The entry for `key`: found complete, or built now by `make` (see build)."""
    return lookup(data_dir, name, key) or build(data_dir, name, key, make)


def remove_leftovers(data_dir: Path) -> None:
    """Delete temporary directories left by preparations that were killed (their process is gone)."""
    for path in data_dir.glob(f"{TMP_PREFIX}*"):
        match = TMP_NAME.match(path.name)
        if match and path.is_dir() and not pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
