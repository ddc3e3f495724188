"""Device and numeric precision: CUDA when present, bf16 autocast where the hardware has it.

bf16 autocast runs matrix products in bfloat16 (AVX-512 BF16 on recent x86 CPUs, tensor cores
on CUDA) while weights, optimizer state, softmax and losses stay in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast for `precision == "bf16"`, a no-op otherwise."""
    if precision == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of linear layers and LSTM cells, for CPU inference.

    Weights are stored in int8 and activations quantised on the fly per batch (VNNI kernels on
    recent x86 CPUs); embeddings, attention softmax and layer norms stay in fp32.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its future move
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear, torch.nn.LSTMCell}, dtype=torch.qint8)
