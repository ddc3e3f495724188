"""Model directories: atomic saving and safe loading (`torch.load(weights_only=True)`).

A model directory holds config.json (every setting, languages, library versions), model.pt
(best weights with their ModelConfig), last.pt (full training state), the SentencePiece
model(s) and the training log. Every file is written to a temporary name and renamed, so a
kill mid-save leaves the previous version intact.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmt_cli.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, ModelConfig
from nmt_cli.data import Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.model import build_model

FORMAT_VERSION = 1
CONFIG, WEIGHTS, STATE, JOINT_SPM = "config.json", "model.pt", "last.pt", "spm.model"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; model files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda p: torch.save(obj, p))


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


def save_weights(path: Path, model: nn.Module, cfg: ModelConfig, half: bool = False) -> None:
    """Weights and the ModelConfig that rebuilds them; `half` stores fp16 to halve the size.

    Tied weights (one embedding used for source, target and output) are stored once:
    torch.save keeps shared tensors shared, so each is converted once and reused.
    """
    converted: dict[tuple[int, torch.Size], torch.Tensor] = {}

    def convert(v: torch.Tensor) -> torch.Tensor:
        if not (half and v.is_floating_point()):
            return v
        key = (v.data_ptr(), v.shape)
        if key not in converted:
            converted[key] = v.half()
        return converted[key]

    state = {k: convert(v) for k, v in model.state_dict().items()}
    save_torch(path, {"format_version": FORMAT_VERSION, "model_config": cfg.to_dict(), "state_dict": state})


def safe_load(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """torch.load with weights_only=True, turning any failure into one clear NMTError."""
    if not path.is_file():
        raise NMTError(f"file not found: {path}")
    try:
        obj = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise NMTError(f"{path} is not an nmt-cli checkpoint or is corrupt ({type(e).__name__})") from e
    if not isinstance(obj, dict) or "format_version" not in obj:
        raise NMTError(f"{path} is not an nmt-cli checkpoint")
    if obj["format_version"] != FORMAT_VERSION:
        raise NMTError(
            f"{path} has checkpoint format {obj['format_version']}, this nmt-cli reads {FORMAT_VERSION}"
        )
    return obj


@dataclass
class LoadedModel:
    model: Any  # an nn.Module implementing the Seq2Seq interface of model.py
    tokenizer: Tokenizer
    config: dict[str, Any]  # the model directory's config.json
    model_dir: Path


def load_model(
    model_dir: str | Path, device: torch.device | str = "cpu", weights: str = WEIGHTS
) -> LoadedModel:
    """Rebuild a model, in eval mode and fp32, from its directory alone."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise NMTError(f"model directory not found: {model_dir}")
    config_path = model_dir / CONFIG
    if not config_path.is_file():
        raise NMTError(f"{model_dir} is not an nmt-cli model directory (no {CONFIG})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NMTError(f"{config_path} is corrupt ({e})") from e
    obj = safe_load(model_dir / weights, device)
    cfg = ModelConfig.from_dict(obj["model_config"])
    model = build_model(cfg)
    try:
        model.load_state_dict(obj["state_dict"])  # copies into the fp32 parameters, converting fp16
    except RuntimeError as e:
        raise NMTError(f"{model_dir / weights} does not match its model configuration") from e
    spm = config.get("spm", {})
    tokenizer = Tokenizer(model_dir / spm.get("src", JOINT_SPM), model_dir / spm.get("tgt", JOINT_SPM))
    model.to(device).eval()
    return LoadedModel(model, tokenizer, config, model_dir)
