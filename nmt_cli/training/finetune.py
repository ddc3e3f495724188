"""Fine-tuning: training that starts from a trained model directory instead of from scratch,
typically on a small in-domain corpus (continued training; Luong and Manning, 2015).

The new run takes the directory's architecture, weights and SentencePiece model(s), copied
byte for byte, so the vocabulary stays the same. Only regularisation (dropout) may be set anew;
any other architecture setting that contradicts the directory is refused. The optimizer and
learning-rate schedule start afresh unless asked to continue from the directory's last.pt.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from torch import Tensor

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.io.atomic import copy_file
from nmt_cli.models import checkpoint
from nmt_cli.models.average import NOT_ARCHITECTURE, architecture

log = logging.getLogger(__name__)


def saved_config(init_dir: str | Path, option: str = "--init-from") -> dict[str, Any]:
    """The config.json of the model directory to start from (named by `option`)."""
    return checkpoint.read_config(Path(init_dir), option)


def saved_settings(init_dir: str | Path, option: str = "--init-from") -> dict[str, Any]:
    """That config.json's "model" entry: the architecture to start from."""
    return checkpoint.model_settings(saved_config(init_dir, option), Path(init_dir))


def model_config(
    init_dir: str | Path, overrides: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
) -> ModelConfig:
    """The directory's ModelConfig (from its `settings`, if already read), with `overrides`
    (fields a user set explicitly) applied where they are regularisation and refused in one
    line where they contradict the architecture."""
    saved = ModelConfig.from_dict(saved_settings(init_dir) if settings is None else settings)
    for name, value in (overrides or {}).items():
        if name not in NOT_ARCHITECTURE and getattr(saved, name) != value:
            option = "--" + name.replace("_", "-")
            raise NMTError(
                f"{option} {value} contradicts --init-from {init_dir} ({getattr(saved, name)}): "
                "fine-tuning keeps the model's architecture; leave the option out"
            )
    changes = {k: v for k, v in (overrides or {}).items() if k in NOT_ARCHITECTURE}
    return dataclasses.replace(saved, **changes)


# The SentencePiece file names of a joint vocabulary, for directories that do not list theirs.
JOINT = MappingProxyType({"src": checkpoint.JOINT_SPM, "tgt": checkpoint.JOINT_SPM})


@dataclass(frozen=True)
class Start:
    """How a fresh run begins, resolved once from --init-from or --vocab-from: what startup
    copies and loads, so that nothing after `resolve` reads the source directory's config."""

    spm_from: Path | None = None  # copy this directory's SentencePiece model(s)
    spm: Mapping[str, str] = dataclasses.field(default_factory=lambda: JOINT)  # their names there
    weights_from: Path | None = None  # load this directory's best weights (fine-tuning)
    optimizer_from: Path | None = None  # continue the optimizer and schedule of this last.pt


SCRATCH = Start()  # a run from scratch that trains its own vocabulary


def resolve(
    model_cfg: ModelConfig, data_cfg: DataConfig, train_cfg: TrainConfig
) -> tuple[ModelConfig, DataConfig, Start]:
    """The final configs of a fresh run and where it starts, reading the source's config.json
    once. --vocab-from and --init-from give the directory's vocabulary settings (its
    SentencePiece models are copied, not retrained); --init-from also checks that `model_cfg`
    is the directory's architecture and, with --continue-optimizer, that the schedule matches."""
    source = train_cfg.init_from or train_cfg.vocab_from
    if source is None:
        return model_cfg, data_cfg, SCRATCH
    init_dir, option = Path(source), "--init-from" if train_cfg.init_from else "--vocab-from"
    config = saved_config(init_dir, option)
    saved = checkpoint.model_settings(config, init_dir)
    vocab = ModelConfig.from_dict(saved)
    data_cfg = dataclasses.replace(data_cfg, joint_vocab=vocab.joint_vocab, vocab_size=vocab.vocab_size)
    start = Start(spm_from=init_dir, spm=MappingProxyType(dict(config.get("spm", JOINT))))
    if train_cfg.init_from is None:
        return model_cfg, data_cfg, start
    was, now = (config.get("src_lang"), config.get("tgt_lang")), (data_cfg.src_lang, data_cfg.tgt_lang)
    if None not in was and was != now:  # possible with a joint vocabulary, but rarely meant
        log.warning("--init-from %s translates %s→%s; this run trains %s→%s", init_dir, *was, *now)
    if architecture(model_cfg.to_dict()) != architecture(saved):
        differ = [k for k, v in architecture(saved).items() if getattr(model_cfg, k) != v]
        raise NMTError(f"the model configuration differs from --init-from {init_dir} in: {', '.join(differ)}")
    optimizer = _optimizer_state(init_dir, config, train_cfg) if train_cfg.continue_optimizer else None
    return model_cfg, data_cfg, dataclasses.replace(start, weights_from=init_dir, optimizer_from=optimizer)


def _optimizer_state(init_dir: Path, config: Mapping[str, Any], cfg: TrainConfig) -> Path:
    """The last.pt whose optimizer and schedule --continue-optimizer continues, checked first."""
    path = init_dir / checkpoint.STATE
    if not path.is_file():
        raise NMTError(f"--continue-optimizer needs {path}, the training state, which {init_dir} lacks")
    schedule = config.get("train", {}).get("lr_schedule")
    if schedule != cfg.lr_schedule:
        raise NMTError(f"--continue-optimizer needs --lr-schedule {schedule}, the schedule of {init_dir}")
    return path


def copy_tokenizer(source: Path, spm: Mapping[str, str], model_dir: Path) -> Tokenizer:
    """Copy the SentencePiece model(s) `spm` of `source` into `model_dir` and load them from there."""
    for name in set(spm.values()):
        copy_file(source / name, model_dir / name)  # atomic, as a run's own are
    return Tokenizer(model_dir / spm["src"], model_dir / spm["tgt"])


def weights(init_dir: str | Path) -> dict[str, Tensor]:
    """The directory's best weights (model.pt), refused if trained with other SentencePiece
    models than the directory holds."""
    path = Path(init_dir) / checkpoint.WEIGHTS
    obj = checkpoint.safe_load(path)
    checkpoint.check_vocab(obj, path, Path(init_dir), ModelConfig.from_dict(obj["model_config"]))
    return obj["state_dict"]


def restore_optimizer(path: Path, optimizer: Any, scheduler: Any) -> None:
    """Continue the optimizer and schedule saved in `path` (Start.optimizer_from)."""
    state = checkpoint.safe_load(path)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
