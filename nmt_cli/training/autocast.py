"""Mixed-precision training: matrix products in bfloat16 (AVX-512 BF16 on recent x86 CPUs,
tensor cores on CUDA) while weights, optimizer state, softmax and losses stay in fp32; GPUs
without bf16 use fp16 autocast with dynamic loss scaling (Micikevicius et al., 2018).
Which precision a run uses is device.py's choice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from nmt_cli.device import resolve_precision
from nmt_cli.errors import NMTError


def resolve_train_precision(name: str, device: torch.device) -> str:
    """As `resolve_precision`, plus fp16 for GPUs without bf16 (V100, T4), trained with a
    gradient scaler (`grad_scaler`) so small gradients do not underflow."""
    if name == "fp16":
        if device.type != "cuda":
            raise NMTError("--precision fp16 is for CUDA GPUs; on CPUs use bf16 or fp32")
        return name
    if name == "auto" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return resolve_precision(name, device)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Dynamic loss scaling for fp16; a pass-through (scale 1, plain step) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 or fp16 autocast for `precision` of that name, a no-op otherwise."""
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield
    else:
        yield
