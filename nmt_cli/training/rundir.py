"""What `nmt train -o DIR` may do to DIR: write and remove only nmt's own fixed file names, hold
a lock while it trains, and resume only a run with the same model and data settings.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nmt_cli.errors import NMTError
from nmt_cli.io.files import os_errors_as_words
from nmt_cli.training.resume import resume_settings as resume_settings  # re-exported

LOCK = ".nmt.lock"
LOG = "train.log.jsonl"
# Every name `nmt train` writes in a model directory; --overwrite removes these and nothing else.
OWNED = frozenset(
    {
        "config.json",
        "model.pt",
        "last.pt",
        LOG,
        LOCK,
        *(f"spm{side}.{ext}" for side in ("", ".src", ".tgt") for ext in ("model", "vocab")),
    }
)
# The validated checkpoints that --keep-checkpoints keeps (average.py writes them).
CHECKPOINT = re.compile(r"ckpt\.\d+\.pt")


# Prepared shards (prepare.py) may live in the model directory; --overwrite keeps them, as they
# do not depend on the run, only on the corpus and the vocabulary.
DATA = "data"


def prepared_dir(model_dir: Path | None, data_dir: Path | None) -> Path:
    """Where `nmt prepare` writes: --data-dir, else the model directory's data/, where `nmt
    train -o DIR` without --data-dir finds it."""
    if data_dir is not None:
        return data_dir
    if model_dir is not None:
        check_output_dir(model_dir)  # the directory `nmt train -o` will accept
        return model_dir / DATA
    raise NMTError("say where to prepare: -o MODEL_DIR (into MODEL_DIR/data) or --data-dir DIR")


def owned(name: str) -> bool:
    """Whether `name` is a file nmt writes in a model directory."""
    return name in OWNED or CHECKPOINT.fullmatch(name) is not None


def is_temporary(name: str) -> bool:
    """A half-written `.NAME.xxxx.tmp` of atomic.atomic_write, left by a killed process."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    return owned(name[1:-4].rsplit(".", 1)[0])


# What a run directory may hold besides its own files: directories that nmt wrote, which a
# run never reads, writes or removes. A model directory (`train -o RUN/ft`, `average -o
# RUN/avg`), a CTranslate2 export (`export -o RUN/ct2`), prepared data (RUN/data, or
# `--data-dir RUN`: its cache entries), and the temporary directories these are built in.
EXPORT_INFO = "nmt-export.json"
CACHE_ENTRY = re.compile(r".+-[0-9a-f]{16}")  # data/cache.py: NAME-KEY, with its meta.json
STAGING = re.compile(r"\..+\.tmp|\..+\.export\..+|\.tmp-.+")  # atomic.py, cache.py, older exports


def nmt_directory(path: Path) -> bool:
    """Whether `path` is a directory nmt wrote (see above): the user may keep it in a run."""
    if not path.is_dir() or path.is_symlink():
        return False
    if path.name == DATA or STAGING.fullmatch(path.name):
        return True
    return (
        CACHE_ENTRY.fullmatch(path.name) is not None
        and (path / "meta.json").is_file()
        or read_config(path / "config.json") is not None
        or (path / LOCK).is_file()
        or (path / EXPORT_INFO).is_file()
    )


def foreign_entries(model_dir: Path) -> list[str]:
    """Names in `model_dir` that nmt did not write; its config.json must be nmt's own too.

    A file with one of nmt's names (model.pt, spm.model, ...) is nmt's only where nmt has been:
    the directory holds nmt's config.json or the lock file every run takes before it writes
    anything. Elsewhere it is the user's own file of that name, which training must not replace.
    """
    names = sorted(os.listdir(model_dir))
    config = model_dir / "config.json"
    nmt_config = "config.json" in names and isinstance(read_config(config), dict)
    nmt_was_here = nmt_config or LOCK in names
    foreign = [
        n
        for n in names
        if not ((owned(n) and nmt_was_here) or is_temporary(n) or nmt_directory(model_dir / n))
        and n != "config.json"
    ]
    if "config.json" in names and not nmt_config:
        foreign.append("config.json (not an nmt config)")
    return foreign


def read_config(path: Path) -> dict[str, Any] | None:
    """A model directory's config.json, or None when it is missing, unreadable or not nmt's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "format_version" in data else None


def check_output_dir(model_dir: Path) -> None:
    """Refuse an -o that is a file or a directory holding files nmt did not write."""
    if not model_dir.exists():
        return
    if not model_dir.is_dir():
        raise NMTError(f"-o {model_dir} exists and is not a directory: choose a new or empty directory")
    with os_errors_as_words("reading", model_dir):
        foreign = foreign_entries(model_dir)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise NMTError(
            f"-o {model_dir} holds files nmt did not write ({shown}): nmt writes only into "
            "a new or empty directory or one of its own model directories; choose another -o"
        )


@contextmanager
def locked(model_dir: Path) -> Iterator[None]:
    """Hold an exclusive flock on DIR/.nmt.lock; the OS drops it when the process dies, so a
    killed run never leaves the directory locked."""
    with os_errors_as_words("creating", model_dir):
        model_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(model_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NMTError(
                f"{model_dir} is being written by another nmt train: wait for it to finish, "
                "or choose another -o"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def remove_owned(model_dir: Path, everything: bool) -> None:
    """Remove half-written temporary files, and with `everything` every nmt file but the lock."""
    for name in os.listdir(model_dir):
        if is_temporary(name) or (everything and owned(name) and name != LOCK):
            with os_errors_as_words("removing", model_dir / name):
                (model_dir / name).unlink()


def same_directory(a: Path, b: Path) -> bool:
    """Whether two paths name one directory (by device and inode: links and `..` included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_reading_output(model_dir: Path, train_cfg: Any) -> None:
    """Refuse --init-from or --vocab-from DIR that is -o itself: the run would remove or replace
    the model it reads (--overwrite first deletes it) before reading it."""
    for option in ("init_from", "vocab_from"):
        source = getattr(train_cfg, option, None)
        if source and same_directory(Path(source), model_dir):
            raise NMTError(
                f"--{option.replace('_', '-')} {source} is the output directory -o {model_dir}: "
                "training would write over the model it starts from; choose another -o"
            )


@contextmanager
def claim(
    model_dir: Path,
    overwrite: bool,
    requested: Mapping[str, Any],
    given: Collection[str] | None = None,
) -> Iterator[dict[str, Any] | None]:
    """Take DIR for training, locked while the block runs.

    Yields None for a fresh start, or, to resume, the settings to resume with (see
    resume_settings). Nothing is created or removed until DIR is known to be nmt's own,
    new or empty; --overwrite then removes nmt's own files and nothing else.
    """
    check_output_dir(model_dir)
    refuse_reading_output(model_dir, requested.get("train"))
    with locked(model_dir):
        remove_owned(model_dir, everything=overwrite)
        saved = read_config(model_dir / "config.json")
        if not (model_dir / "last.pt").is_file():
            if saved is not None and not overwrite:
                # a killed first run, or a finished one whose last.pt was deleted: same settings only
                resume_settings(model_dir, saved, requested, None)
            yield None
            return
        if saved is None:
            raise NMTError(
                f"{model_dir} has last.pt but no readable config.json, so its run cannot be resumed: "
                "pass --overwrite to start afresh, or choose another -o"
            )
        yield resume_settings(model_dir, saved, requested, given)


def trim_log(path: Path, step: int) -> None:
    """Keep the training log's records up to `step` (the state a run resumes from), so that
    steps a killed run logged after its last save are not logged twice."""
    from nmt_cli.io.atomic import save_json_lines

    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and int(record.get("step", 0)) <= step:
            kept.append(record)
    save_json_lines(path, kept)
