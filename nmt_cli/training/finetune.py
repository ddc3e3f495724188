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
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from torch import Tensor

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.models import checkpoint
from nmt_cli.models.average import NOT_ARCHITECTURE, architecture

log = logging.getLogger(__name__)


def saved_config(init_dir: str | Path, option: str = "--init-from") -> dict[str, Any]:
    """The config.json of the model directory to start from (named by `option`)."""
    return checkpoint.read_config(Path(init_dir), option)


def saved_settings(init_dir: str | Path, option: str = "--init-from") -> dict[str, Any]:
    """That config.json's "model" entry: the architecture to start from."""
    return checkpoint.model_settings(saved_config(init_dir, option), Path(init_dir))


def model_config(init_dir: str | Path, overrides: dict[str, Any] | None = None) -> ModelConfig:
    """The directory's ModelConfig, with `overrides` (fields a user set explicitly) applied where
    they are regularisation and refused in one line where they contradict the architecture."""
    saved = ModelConfig.from_dict(saved_settings(init_dir))
    for name, value in (overrides or {}).items():
        if name not in NOT_ARCHITECTURE and getattr(saved, name) != value:
            option = "--" + name.replace("_", "-")
            raise NMTError(
                f"{option} {value} contradicts --init-from {init_dir} ({getattr(saved, name)}): "
                "fine-tuning keeps the model's architecture; leave the option out"
            )
    changes = {k: v for k, v in (overrides or {}).items() if k in NOT_ARCHITECTURE}
    return dataclasses.replace(saved, **changes)


def overrides(given: Collection[str], cfg: ModelConfig, saved_arch: str | None) -> dict[str, Any]:
    """The ModelConfig fields of the architecture options `given` (typed by the user), as `cfg`
    has them, with --layers meaning the encoder and decoder layers of a saved Transformer."""
    fields = set(cfg.to_dict())
    names = {n for n in given if n in fields}
    if "layers" in given and saved_arch == "transformer":
        names = (names - {"layers"}) | {"enc_layers", "dec_layers"}
    return {n: getattr(cfg, n) for n in names}


def configs(
    init_dir: str | Path, model_cfg: ModelConfig, data_cfg: DataConfig
) -> tuple[ModelConfig, DataConfig]:
    """Check that `model_cfg` is the directory's architecture; return it and `data_cfg` with the
    directory's vocabulary settings (the SentencePiece models are reused, not retrained)."""
    config = saved_config(init_dir)
    was, now = (config.get("src_lang"), config.get("tgt_lang")), (data_cfg.src_lang, data_cfg.tgt_lang)
    if None not in was and was != now:  # possible with a joint vocabulary, but rarely meant
        log.warning("--init-from %s translates %s→%s; this run trains %s→%s", init_dir, *was, *now)
    saved = checkpoint.model_settings(config, Path(init_dir))
    if architecture(model_cfg.to_dict()) != architecture(saved):
        differ = [k for k, v in architecture(saved).items() if getattr(model_cfg, k) != v]
        raise NMTError(f"the model configuration differs from --init-from {init_dir} in: {', '.join(differ)}")
    return model_cfg, vocabulary(init_dir, data_cfg, "--init-from")


def vocabulary(model_dir: str | Path, data_cfg: DataConfig, option: str = "--vocab-from") -> DataConfig:
    """`data_cfg` with the directory's vocabulary settings, for a run that takes its SentencePiece
    model(s) (fine-tuning, or --vocab-from: members of an ensemble need one vocabulary)."""
    model = ModelConfig.from_dict(saved_settings(model_dir, option))
    return dataclasses.replace(data_cfg, joint_vocab=model.joint_vocab, vocab_size=model.vocab_size)


def copy_tokenizer(init_dir: str | Path, model_dir: Path) -> Tokenizer:
    """Copy the directory's SentencePiece model(s) into `model_dir` and load them from there."""
    files = saved_config(init_dir).get("spm", {"src": checkpoint.JOINT_SPM, "tgt": checkpoint.JOINT_SPM})
    for name in set(files.values()):
        shutil.copyfile(Path(init_dir) / name, model_dir / name)
    return Tokenizer(model_dir / files["src"], model_dir / files["tgt"])


def weights(init_dir: str | Path) -> dict[str, Tensor]:
    """The directory's best weights (model.pt), refused if trained with other SentencePiece
    models than the directory holds."""
    path = Path(init_dir) / checkpoint.WEIGHTS
    obj = checkpoint.safe_load(path)
    checkpoint.check_vocab(obj, path, Path(init_dir), ModelConfig.from_dict(obj["model_config"]))
    return obj["state_dict"]


def restore_optimizer(init_dir: str | Path, optimizer: Any, scheduler: Any, cfg: TrainConfig) -> None:
    """Continue the optimizer and schedule saved in the directory's last.pt (--continue-optimizer)."""
    path = Path(init_dir) / checkpoint.STATE
    if not path.is_file():
        raise NMTError(f"--continue-optimizer needs {path}, the training state, which {init_dir} lacks")
    schedule = saved_config(init_dir).get("train", {}).get("lr_schedule")
    if schedule != cfg.lr_schedule:
        raise NMTError(f"--continue-optimizer needs --lr-schedule {schedule}, the schedule of {init_dir}")
    state = checkpoint.safe_load(path)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
