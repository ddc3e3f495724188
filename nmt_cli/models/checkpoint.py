"""Model directories: atomic saving and safe loading (`torch.load(weights_only=True)`).

A model directory holds config.json (every setting, languages, library versions), model.pt
(best weights with their ModelConfig), last.pt (full training state, run_state.py), the SentencePiece
model(s) and the training log. Every file is written to a temporary name and renamed (atomic.py),
so a kill mid-save leaves the previous version intact. This module is the one place that knows
these formats: training saves and resumes through it, decoding loads through it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmt_cli.config import ModelConfig
from nmt_cli.data.tokenizer import Tokenizer, spm_files
from nmt_cli.errors import NMTError
from nmt_cli.models.config_check import check_model_settings
from nmt_cli.models.seq2seq import build_model

FORMAT_VERSION = 1
CONFIG, WEIGHTS, STATE, JOINT_SPM = "config.json", "model.pt", "last.pt", "spm.model"
EXPORT_INFO = "nmt-export.json"  # written by `nmt export` into a CTranslate2 model directory
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "de-en"


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
    obj = {"format_version": FORMAT_VERSION, "model_config": cfg.to_dict(), "state_dict": state}
    vocab = vocab_fingerprint(path.parent, cfg)
    if vocab is not None:
        obj["vocab"] = vocab
    from nmt_cli.io.atomic import save_torch  # writing is training's: decoding never loads it

    save_torch(path, obj)


def vocab_fingerprint(model_dir: Path, cfg: ModelConfig) -> dict[str, str] | None:
    """SHA-256 of the directory's SentencePiece model(s), by side (None where they are absent),
    stored with the weights: two runs' SentencePiece models can have the same number of pieces
    and still map them to different ids, which the embeddings' sizes cannot tell."""
    paths = {side: model_dir / name for side, name in spm_files(cfg.joint_vocab).items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {side: hashlib.sha256(p.read_bytes()).hexdigest() for side, p in paths.items()}


def check_vocab(obj: dict[str, Any], weights_path: Path, model_dir: Path, cfg: ModelConfig) -> None:
    """Refuse weights trained with other SentencePiece models than the directory holds (weights
    saved before nmt-cli recorded the fingerprint are not checked)."""
    saved = obj.get("vocab")
    if not isinstance(saved, dict):
        return
    here = vocab_fingerprint(model_dir, cfg) or {}
    files = spm_files(cfg.joint_vocab)
    for side, digest in saved.items():
        if side in files and here.get(side) != digest:
            raise NMTError(
                f"{weights_path} was trained with another SentencePiece model than "
                f"{model_dir / files[side]}: the directory mixes files of different models"
            )


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
    model: Any  # an nn.Module implementing the Seq2Seq interface of seq2seq.py
    tokenizer: Tokenizer
    config: dict[str, Any]  # the model directory's config.json
    model_dir: Path


def load_model(
    model_dir: str | Path, device: torch.device | str = "cpu", weights: str = WEIGHTS
) -> LoadedModel:
    """Rebuild a model, in eval mode and fp32, from its directory alone.

    Every file has its fixed name inside the directory (nothing in config.json may point
    elsewhere), and config.json, the weights and the SentencePiece vocabularies must agree:
    a mixed-up directory is refused here, not mid-translation.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise NMTError(f"model directory not found: {model_dir}")
    if Path(weights).name != weights:
        raise NMTError(f"weights must be a file name inside the model directory, not {weights!r}")
    config = read_config(model_dir)
    if weights == WEIGHTS and not (model_dir / weights).is_file():
        raise NMTError(f"{model_dir} is not an nmt-cli model directory (it has {CONFIG} but no {WEIGHTS})")
    if config.get("model") is not None:
        check_model_settings(config["model"], model_dir / CONFIG)  # before the weights are read
    obj = safe_load(model_dir / weights, device)
    if not isinstance(obj.get("model_config"), dict):
        raise NMTError(f"{model_dir / weights} holds no model configuration")
    cfg = check_model_settings(obj["model_config"], model_dir / weights)
    check_config_agrees(config.get("model"), obj["model_config"], model_dir / CONFIG, model_dir / weights)
    model = build_model(cfg)
    try:
        model.load_state_dict(obj["state_dict"])  # copies into the fp32 parameters, converting fp16
    except (RuntimeError, TypeError, AttributeError) as e:
        raise NMTError(f"{model_dir / weights} does not match its model configuration") from e
    tokenizer = load_tokenizer(model_dir, config.get("spm"), cfg)
    check_vocab(obj, model_dir / weights, model_dir, cfg)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, config, model_dir)


def read_config(model_dir: Path, option: str = "") -> dict[str, Any]:
    """config.json as a dict; anything else (null, a list, broken JSON, another tool's config,
    another format version) is refused, naming `option` (e.g. --init-from) where one led here."""
    where = f"{option} {model_dir}" if option else str(model_dir)
    config_path = model_dir / CONFIG
    if not config_path.is_file():
        raise NMTError(f"{where} is not an nmt-cli model directory (no {CONFIG})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NMTError(f"{config_path} is corrupt ({e})") from e
    if not isinstance(config, dict):
        raise NMTError(f"{config_path} is corrupt (not a JSON object)")
    if "format_version" not in config:
        if (model_dir / EXPORT_INFO).is_file():
            raise NMTError(
                f"{where} is a CTranslate2 export (nmt export), which runs in ctranslate2, not in nmt: "
                f"see {model_dir / 'README.md'}, or give nmt the model it was exported from"
                + exported_from(model_dir)
            )
        raise NMTError(f"{where} is not an nmt-cli model directory ({config_path} is another tool's)")
    if config["format_version"] != FORMAT_VERSION:
        raise NMTError(
            f"{config_path} has format {config['format_version']}, this nmt-cli reads {FORMAT_VERSION}"
        )
    _check_entries(config, config_path)
    return config


def _check_entries(config: dict[str, Any], config_path: Path) -> None:
    """The entries beside the model settings that decoding reads: languages are text, "data"
    and "spm" are objects (a hand-edited file fails here in words, not as an AttributeError)."""
    data, spm = config.get("data") or {}, config.get("spm") or {}  # null: the defaults
    if not isinstance(data, dict):
        raise NMTError(f'{config_path} is corrupt: its "data" entry is not an object')
    if not (isinstance(spm, dict) and all(isinstance(v, str) for v in spm.values())):
        raise NMTError(f'{config_path} is corrupt: its "spm" entry is not an object of file names')
    languages = {"src_lang": config.get("src_lang"), "tgt_lang": config.get("tgt_lang")}
    languages |= {f"data.{k}": data.get(k) for k in ("src_lang", "tgt_lang")}
    for name, value in languages.items():
        if value is not None and not isinstance(value, str):
            raise NMTError(f"{config_path} is corrupt: {name} must be a language code, not {value!r:.40}")


def exported_from(export_dir: Path) -> str:
    """ " (DIR)", the nmt model a CTranslate2 export names as its source, or "" if unreadable."""
    try:
        source = json.loads((export_dir / EXPORT_INFO).read_text(encoding="utf-8")).get("source_model")
    except (OSError, ValueError, AttributeError):
        return ""
    return f" ({source})" if isinstance(source, str) and source else ""


def model_settings(config: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """config.json's "model" entry, which averaging and fine-tuning start from."""
    model = config.get("model")
    if not isinstance(model, dict):
        raise NMTError(f'{model_dir / CONFIG} is corrupt (its "model" entry is not an object)')
    check_model_settings(model, model_dir / CONFIG)
    return model


def check_config_agrees(stated: Any, stored: dict[str, Any], config_path: Path, weights_path: Path) -> None:
    """Refuse a config.json whose model settings differ from those saved with the weights."""
    if stated is None:
        return
    if not isinstance(stated, dict):
        raise NMTError(f'{config_path} is corrupt (its "model" entry is not an object)')
    differ = [
        f"{k} {json.dumps(stated[k])} there, {json.dumps(stored[k])} in the weights"
        for k in stored
        if k in stated and stated[k] != stored[k]
    ]
    if differ:
        raise NMTError(
            f"{config_path} does not describe {weights_path} ({'; '.join(differ)}): "
            "the directory mixes files of different models"
        )


def load_tokenizer(model_dir: Path, stated: Any, cfg: ModelConfig) -> Tokenizer:
    """The SentencePiece model(s) under their fixed names, checked against the embeddings' sizes."""
    files = spm_files(cfg.joint_vocab)
    if stated is not None and stated != files:
        raise NMTError(
            f"{model_dir / CONFIG} names SentencePiece files {stated!r}: a model directory's files "
            f"have fixed names ({', '.join(sorted(set(files.values())))}) and nothing may point elsewhere"
        )
    tokenizer = Tokenizer(model_dir / files["src"], model_dir / files["tgt"])
    for side, name, have, want in (
        ("source", files["src"], tokenizer.src_vocab_size, cfg.src_vocab_size),
        ("target", files["tgt"], tokenizer.tgt_vocab_size, cfg.vocab_size),
    ):
        if have != want:
            raise NMTError(
                f"{model_dir / name} has {have} pieces but the weights' {side} vocabulary has {want}: "
                "it belongs to another model"
            )
    return tokenizer
