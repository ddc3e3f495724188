"""Checkpoint averaging: the element-wise mean of the weights of the last few checkpoints of a
run, which smooths out the noise of the final updates (Vaswani et al., 2017, section 6.1).

Training keeps the weights of its last N validations as ckpt.STEP.pt in the model directory
(`keep_checkpoint`); `average` writes a complete model directory whose model.pt is their mean.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nmt_cli.config import ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.io.atomic import new_directory, save_json, save_torch
from nmt_cli.io.files import os_errors_as_words
from nmt_cli.models import checkpoint

CKPT = re.compile(r"ckpt\.(\d+)\.pt")
# Differ freely: they do not shape the weights (the last two say which attention alignments read).
NOT_ARCHITECTURE = ("dropout", "attn_dropout", "align_layer", "align_head", "align_shift")


def checkpoint_path(model_dir: Path, step: int) -> Path:
    return model_dir / f"ckpt.{step}.pt"


def list_checkpoints(model_dir: Path) -> list[Path]:
    """The kept checkpoints of a model directory, oldest (lowest step) first."""
    found = [(int(m.group(1)), p) for p in model_dir.glob("ckpt.*.pt") if (m := CKPT.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def keep_checkpoint(model_dir: Path, model: nn.Module, cfg: ModelConfig, step: int, keep: int) -> None:
    """Save this validation's weights as ckpt.STEP.pt and delete the oldest beyond `keep`
    (only files of that name, which training wrote)."""
    if keep <= 0:
        return
    checkpoint.save_weights(checkpoint_path(model_dir, step), model, cfg)
    for old in list_checkpoints(model_dir)[:-keep]:
        old.unlink(missing_ok=True)


def architecture(cfg: dict[str, Any]) -> dict[str, Any]:
    """The fields of a saved ModelConfig that decide the shapes and meaning of the weights."""
    return {k: v for k, v in ModelConfig.from_dict(cfg).to_dict().items() if k not in NOT_ARCHITECTURE}


def average_weights(
    paths: Sequence[Path], vocab: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(model config, state dict) whose floating-point tensors are the mean over `paths`.

    Refused in one line unless every checkpoint has the first one's architecture and, where it
    records one, the SentencePiece fingerprint `vocab`. Tensors the first checkpoint shares
    between names (tied embeddings) stay shared in the result.
    """
    if not paths:
        raise NMTError("no checkpoints to average")

    def load(path: Path) -> dict[str, Any]:
        obj = checkpoint.safe_load(path)
        if not isinstance(obj.get("state_dict"), dict) or not isinstance(obj.get("model_config"), dict):
            raise NMTError(f"{path} holds no model weights (a training state? average model.pt or ckpt.N.pt)")
        if vocab is not None and obj.get("vocab", vocab) != vocab:
            raise NMTError(f"{path} was trained with other SentencePiece models than the directory holds")
        return obj

    first = load(paths[0])
    sums: dict[str, Tensor] = {
        k: v.double() if v.is_floating_point() else v for k, v in first["state_dict"].items()
    }
    for path in paths[1:]:
        obj = load(path)
        if architecture(obj["model_config"]) != architecture(first["model_config"]):
            raise NMTError(f"cannot average {paths[0]} and {path}: their model architectures differ")
        state = obj["state_dict"]
        if state.keys() != sums.keys() or any(state[k].shape != sums[k].shape for k in sums):
            raise NMTError(f"cannot average {paths[0]} and {path}: their weights do not match")
        for k, v in state.items():
            if v.is_floating_point():
                sums[k] = sums[k] + v.double()
    shared: dict[tuple[int, torch.Size], Tensor] = {}
    averaged = {}
    for k, v in first["state_dict"].items():
        key = (v.data_ptr(), v.shape)
        if key not in shared:
            shared[key] = (sums[k] / len(paths)).to(v.dtype) if v.is_floating_point() else v
        averaged[k] = shared[key]
    return first["model_config"], averaged


def resolve(model_dir: Path, last: int | None, files: Sequence[str]) -> list[Path]:
    """The checkpoints to average: the `last` kept ones of `model_dir`, or `files` (paths, or
    names inside `model_dir`)."""
    if (last is None) == (not files):
        given = "both" if last is not None else "neither"
        raise NMTError(f"give --last N or the checkpoint files (--checkpoints A B ...): {given} given")
    if last is not None:
        kept = list_checkpoints(model_dir)
        if last < 1 or len(kept) < last:
            raise NMTError(
                f"{model_dir} keeps {len(kept)} checkpoints, fewer than --last {last} "
                "(train with --keep-checkpoints N to keep them)"
            )
        return kept[-last:]
    paths = [Path(f) if Path(f).is_file() else model_dir / f for f in files]
    for p in paths:
        if not p.is_file():
            raise NMTError(f"checkpoint not found: {p}")
    seen: dict[Path, str] = {}
    for name, p in zip(files, paths):
        if p.resolve() in seen:  # a mean that counts one checkpoint twice is rarely meant
            raise NMTError(f"checkpoint {name} is listed twice (also as {seen[p.resolve()]}): list each once")
        seen[p.resolve()] = name
    return paths


def average(
    model_dir: str | Path, output: str | Path, last: int | None = None, files: Sequence[str] = ()
) -> Path:
    """Write `output`, a model directory like `model_dir` (config, SentencePiece models) whose
    model.pt holds the mean of the chosen checkpoints. `output` must be new or empty."""
    model_dir, output = Path(model_dir), Path(output)
    config = checkpoint.read_config(model_dir)
    if output.exists() and not output.is_dir():
        raise NMTError(f"{output} is a file: -o names a new model directory")
    if output.exists() and any(output.iterdir()):
        raise NMTError(f"{output} already exists and is not empty: choose a new output directory")
    paths = resolve(model_dir, last, files)
    settings = checkpoint.model_settings(config, model_dir)
    cfg = ModelConfig.from_dict(settings)
    model_cfg, state = average_weights(paths, checkpoint.vocab_fingerprint(model_dir, cfg))
    if architecture(settings) != architecture(model_cfg):
        raise NMTError(f"the checkpoints' architecture differs from {model_dir / checkpoint.CONFIG}'s")
    config["averaged_from"] = [str(p) for p in paths]
    weights = {"format_version": checkpoint.FORMAT_VERSION, "model_config": model_cfg, "state_dict": state}
    spm = sorted(set(config.get("spm", {"src": checkpoint.JOINT_SPM}).values()))
    with os_errors_as_words("writing", output), new_directory(output) as building:
        for name in spm:
            shutil.copyfile(model_dir / name, building / name)
        save_json(building / checkpoint.CONFIG, config)
        vocab = checkpoint.vocab_fingerprint(building, cfg)
        if vocab is not None:
            weights["vocab"] = vocab
        save_torch(building / checkpoint.WEIGHTS, weights)
    return output
