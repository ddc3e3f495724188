"""What a training run records besides its weights: config.json (every setting, the languages,
SentencePiece files, special ids and library versions) and last.pt, the full training state
(weights, optimizer, schedule, loss scaler, every process's random state and the loop's
position), read back with the run's SentencePiece models so that an interrupted run resumes
exactly. Reading config.json and model.pt is checkpoint.py's.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, DataConfig, ModelConfig, TrainConfig
from nmt_cli.data.tokenizer import Tokenizer, spm_files
from nmt_cli.io.atomic import save_json, save_torch
from nmt_cli.models.checkpoint import CONFIG, FORMAT_VERSION, STATE, load_tokenizer, read_config, safe_load
from nmt_cli.models.config_check import check_model_settings


def rng_state() -> dict[str, torch.Tensor]:
    """This process's random state: the CPU's, and the current GPU's when training on one."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def save_training_state(
    path: Path,
    model: nn.Module,
    *,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    progress: dict[str, Any],
    rngs: list[dict[str, torch.Tensor]],
) -> None:
    """last.pt: everything a resumed run needs to continue exactly, the random state of every
    process (`rngs`, in rank order) included; `torch_rng` keeps process 0's for older readers."""
    state = {
        "format_version": FORMAT_VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": rngs[0]["cpu"],
        "rank_rng": rngs,
        "progress": progress,
    }
    if scaler.is_enabled():
        state["scaler"] = scaler.state_dict()
    save_torch(path, state)


@dataclass
class TrainingState:
    """A run to resume, as its directory holds it."""

    model_cfg: ModelConfig  # from config.json, with the vocabulary sizes it was built with
    tokenizer: Tokenizer
    state: dict[str, Any]  # last.pt: model, optimizer, scheduler, torch_rng, rank_rng, progress


def load_training_state(model_dir: Path) -> TrainingState:
    """Read last.pt, config.json and the SentencePiece models of an interrupted run."""
    state = safe_load(model_dir / STATE)
    saved = read_config(model_dir)
    cfg = check_model_settings(saved.get("model"), model_dir / CONFIG)
    return TrainingState(cfg, load_tokenizer(model_dir, saved.get("spm"), cfg), state)


def library_versions() -> dict[str, str]:
    import sacrebleu
    import sentencepiece

    from nmt_cli import __version__

    return {
        "nmt_cli": __version__,
        "torch": torch.__version__,
        "sentencepiece": sentencepiece.__version__,
        "sacrebleu": sacrebleu.__version__,
        "python": platform.python_version(),
    }


def special_ids() -> dict[str, int]:
    return {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID}


def write_config(
    model_dir: Path,
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    extra: dict[str, Any],
) -> None:
    """config.json: every setting of the run, the languages, SentencePiece files and versions."""
    save_json(
        model_dir / CONFIG,
        {
            "format_version": FORMAT_VERSION,
            "src_lang": data_cfg.src_lang,
            "tgt_lang": data_cfg.tgt_lang,
            "model": model_cfg.to_dict(),
            "data": asdict(data_cfg),
            "train": asdict(train_cfg),
            "spm": spm_files(data_cfg.joint_vocab),
            "special_ids": special_ids(),
            "versions": library_versions(),
            **extra,
        },
    )
