"""Which settings a resumed run may change, and which it takes from the run it resumes: a run
continues with its own model and data settings, so that its weights stay those of one run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from nmt_cli.errors import NMTError

log = logging.getLogger("nmt_cli")

# Settings a resumed run may change: budgets, validation rhythm, and where it runs.
MAY_CHANGE = frozenset(
    {"max_epochs", "max_steps", "max_minutes", "valid_every", "valid_beam", "patience"}
    | {"device", "precision", "threads", "output", "log_every", "dist_timeout"}
)
# Corpus paths may change (data moves between machines); a warning says so.
MOVABLE = frozenset({"train", "valid"})
# Model fields derived from the data (the vocabulary), not chosen on the command line.
DERIVED = frozenset({"vocab_size", "src_vocab_size", "joint_vocab"})


def option(cfg: Any, name: str) -> str:
    """The `nmt train` flag of the config field `name`, as its `config.option` declaration
    names it (cli/train_options.py makes the typer option from the same metadata)."""
    meta: Mapping[str, Any] = next((f.metadata for f in dataclasses.fields(cfg) if f.name == name), {})
    long = [flag for flag in meta.get("flags", ()) if flag.startswith("--")]
    return long[0] if long else "--" + name.replace("_", "-")


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
                moved.append(f"{option(cfg, name)} {value} (the run began on {stored[name]})")
            elif name not in MAY_CHANGE:
                changes.append(f"{option(cfg, name)} {stored[name]} there, {value} now")
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
