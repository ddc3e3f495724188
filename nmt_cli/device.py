"""Where a run computes and in which number format: CUDA when present, bf16 where the hardware
multiplies in it natively, else fp32.

Applying the choice is each side's own: training autocasts, and also takes fp16 on GPUs
without bf16 (training/autocast.py); decoding converts the weights once (decoding/precision.py).
"""

from __future__ import annotations

import torch

from nmt_cli.errors import NMTError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NMTError("--device cuda was asked for, but no CUDA device is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise NMTError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when the CPU runs bf16 matrix products natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` is bf16 where the hardware supports it natively, else fp32."""
    if name in ("bf16", "fp32"):
        return name
    if name != "auto":
        raise NMTError(f"unknown precision {name!r}: use auto, bf16 or fp32")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"
