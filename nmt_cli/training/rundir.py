"""What `nmt train -o DIR` may do to DIR: write and remove only nmt's own fixed file names, hold
a lock while it trains, and resume only a run with the same model and data settings.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nmt_cli.errors import NMTError
from nmt_cli.io.files import os_errors_as_words

log = logging.getLogger("nmt_cli")

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
        return model_dir / DATA
    raise NMTError("say where to prepare: -o MODEL_DIR (into MODEL_DIR/data) or --data-dir DIR")


def owned(name: str) -> bool:
    """Whether `name` is a file nmt writes in a model directory."""
    return name in OWNED or CHECKPOINT.fullmatch(name) is not None


# Settings a resumed run may change: budgets, validation rhythm, and where it runs.
MAY_CHANGE = frozenset(
    {"max_epochs", "max_steps", "max_minutes", "valid_every", "valid_beam", "patience"}
    | {"device", "precision", "threads", "output", "log_every", "dist_timeout"}
)
# Corpus paths may change (data moves between machines); a warning says so.
MOVABLE = frozenset({"train", "valid"})
# Model fields derived from the data (the vocabulary), not chosen on the command line.
DERIVED = frozenset({"vocab_size", "src_vocab_size", "joint_vocab"})
OPTION_NAMES = {"src_lang": "--src", "tgt_lang": "--tgt"}


def is_temporary(name: str) -> bool:
    """A half-written `.NAME.xxxx.tmp` of atomic.atomic_write, left by a killed process."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    return owned(name[1:-4].rsplit(".", 1)[0])


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
        if not ((owned(n) and nmt_was_here) or is_temporary(n) or n == DATA and (model_dir / n).is_dir())
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
            f"-o {model_dir} holds files nmt did not write ({shown}): nmt train writes only into "
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


def option(field: str) -> str:
    return OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


def was_given(section: str, name: str, given: Collection[str] | None) -> bool:
    """Whether the user set this field (None: a Python caller, whose every field counts)."""
    if section == "model" and name in DERIVED:
        return False
    if given is None:
        return True
    if section == "model" and name in ("enc_layers", "dec_layers"):
        return name in given or "layers" in given
    return name in given


def as_json(value: Any) -> Any:
    """A value as config.json gives it back (tuples become lists), so that stored and
    requested settings compare equal when they are."""
    return json.loads(json.dumps(value))


def resume_settings(
    model_dir: Path, saved: Mapping[str, Any], requested: Mapping[str, Any], given: Collection[str] | None
) -> dict[str, Any]:
    """The settings of a resumed run: each one the user gave must equal the stored run's
    (unless a resume may change it, see MAY_CHANGE); each one not given is the stored run's.

    `requested` maps "model", "data" and "train" to the new run's config dataclasses; `given`
    names the command-line options the user typed. Refuses in one line naming every conflict.
    """
    changes, moved, settled = [], [], {}
    for section, cfg in requested.items():
        stored = saved.get(section)
        stored = stored if isinstance(stored, dict) else {}
        updates = {}
        for name, value in dataclasses.asdict(cfg).items():
            if (
                name not in stored
                or stored[name] == as_json(value)
                or (section == "model" and name in DERIVED)
            ):
                continue
            if not was_given(section, name, given):
                kept = stored[name]
                updates[name] = tuple(kept) if isinstance(kept, list) else kept
            elif name in MOVABLE:
                moved.append(f"{option(name)} {value} (the run began on {stored[name]})")
            elif name not in MAY_CHANGE:
                changes.append(f"{option(name)} {stored[name]} there, {value} now")
        settled[section] = dataclasses.replace(cfg, **updates)
    if changes:
        raise NMTError(
            f"{model_dir} holds a run with other settings "
            f"({'; '.join(changes)}): repeat its settings to resume, pass --overwrite to start "
            "afresh, or choose another -o"
        )
    for text in moved:
        log.warning("resuming on %s", text)
    return settled


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
