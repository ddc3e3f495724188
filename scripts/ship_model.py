"""Copy a trained model directory into models/ the way it ships: config, SentencePiece model(s)
and weights stored in half precision (loaded back as fp32; the model cards measure that this
costs no BLEU). Training state (last.pt, logs, prepared data, kept checkpoints) stays behind.

    python scripts/ship_model.py runs/gen-de-en/avg models/de-en
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from nmt_cli.config import ModelConfig
from nmt_cli.io.atomic import save_json, save_torch
from nmt_cli.models import checkpoint


def halve(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fp16 copies of the floating-point tensors, keeping tensors that share storage (tied
    embeddings) shared, so that they are stored once."""
    done: dict[tuple[int, torch.Size], torch.Tensor] = {}
    out = {}
    for name, tensor in state.items():
        key = (tensor.data_ptr(), tensor.shape)
        if key not in done:
            done[key] = tensor.half() if tensor.is_floating_point() else tensor
        out[name] = done[key]
    return out


def ship(source: Path, dest: Path) -> None:
    config = json.loads((source / checkpoint.CONFIG).read_text(encoding="utf-8"))
    dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(config.get("spm", {}).values()) or {checkpoint.JOINT_SPM}):
        shutil.copyfile(source / name, dest / name)
    obj = checkpoint.safe_load(source / checkpoint.WEIGHTS)
    obj["state_dict"] = halve(obj["state_dict"])
    cfg = ModelConfig.from_dict(obj["model_config"])
    checkpoint.check_vocab(obj, source / checkpoint.WEIGHTS, source, cfg)
    obj["vocab"] = checkpoint.vocab_fingerprint(dest, cfg)  # weights saved before it was recorded
    save_torch(dest / checkpoint.WEIGHTS, obj)
    save_json(dest / checkpoint.CONFIG, config)
    print(f"{dest}: {(dest / checkpoint.WEIGHTS).stat().st_size / 1e6:.1f} MB of weights")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    ship(args.source, args.dest)
