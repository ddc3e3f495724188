"""The compiled dropout kernel (`dropout_kernel.c`), where the install could build it.

`pip install` builds it with the machine's C compiler (setup.py); where there is none, or the
library cannot be loaded, dropout uses torch's operations, which give the same masks and
products. `NMT_NATIVE=0` in the environment switches it off.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os

import torch
from torch import Tensor

KERNEL_RANGE = "nmt::dropout_kernel"  # how `nmt bench --profile` sees the kernel's calls
_DTYPES = {torch.bfloat16: 0, torch.float32: 1}  # the kernel's code for each dtype it takes


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded kernel, or None where it was not built, cannot load, or is switched off."""
    if os.environ.get("NMT_NATIVE", "1") == "0":
        return None
    spec = importlib.util.find_spec("nmt_cli._dropout_kernel")
    if spec is None or spec.origin is None:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
    except OSError:
        return None
    lib.nmt_dropout.restype = ctypes.c_int
    lib.nmt_dropout.argtypes = [
        ctypes.c_int,  # dtype
        ctypes.c_uint64,  # key of the random words
        ctypes.c_void_p,  # x
        ctypes.c_void_p,  # y
        ctypes.c_int64,  # elements
        ctypes.c_int,  # threshold
        ctypes.c_uint32,  # the scale's bit pattern
        ctypes.c_int,  # 1: relu before the mask
        ctypes.c_int,  # 1: the AVX-512 path where the CPU has it
    ]
    lib.nmt_dropout_simd.restype = ctypes.c_int
    lib.nmt_relu_dropout_grad.restype = None
    # y, grad, out, elements, the scale's bit pattern, simd
    lib.nmt_relu_dropout_grad.argtypes = [ctypes.c_void_p] * 3 + [
        ctypes.c_int64,
        ctypes.c_uint32,
        ctypes.c_int,
    ]
    return lib


def dropout_path() -> str:
    """Which path CPU dropout takes on this machine: what `nmt bench` reports."""
    if fast():
        return "compiled kernel (AVX-512)"
    if library() is None:
        return "torch operations (no compiled kernel)"
    return "torch operations (no AVX-512 on this CPU)"


@functools.cache
def fast() -> bool:
    """Whether the kernel is loaded and this CPU takes its AVX-512 path. Its plain C path
    (the reference, for tests) is no faster than torch's operations, which dropout uses then."""
    lib = library()
    return lib is not None and bool(lib.nmt_dropout_simd())


def _takes(x: Tensor) -> bool:
    """Whether x is a tensor the kernel can read: contiguous, bf16 or fp32, on the CPU."""
    return x.dtype in _DTYPES and x.device.type == "cpu" and x.is_contiguous()


def supports(x: Tensor) -> bool:
    """Whether dropout hands x to the kernel: the kernel is `fast` and `_takes` x."""
    return _takes(x) and fast()


def masked_product(
    x: Tensor, key: int, threshold: int, scale_bits: int, simd: bool = True, relu: bool = False
) -> Tensor:
    """x (or relu(x), with `relu`) times the dropout mask keyed by `key` (see dropout_kernel.c):
    the scale whose bit pattern in x's dtype is `scale_bits` where element i's 15 random bits
    are >= `threshold`, else 0; `simd` False takes the plain C path."""
    lib = library()
    if lib is None or not _takes(x):
        raise ValueError("masked_product: no compiled kernel, or a tensor it cannot take")
    y = torch.empty_like(x)
    if not x.numel():
        return y
    with torch.profiler.record_function(KERNEL_RANGE):
        lib.nmt_dropout(
            _DTYPES[x.dtype],
            key,
            x.data_ptr(),
            y.data_ptr(),
            x.numel(),
            threshold,
            scale_bits,
            int(relu),
            int(simd),
        )
    return y


def relu_dropout_grad(y: Tensor, grad: Tensor, scale_bits: int, simd: bool = True) -> Tensor:
    """The gradient of relu then dropout, from its bf16 output y: grad times the scale (bits
    `scale_bits`) where y > 0, else 0."""
    lib = library()
    if (
        lib is None
        or y.dtype != torch.bfloat16
        or grad.dtype != torch.bfloat16
        or not _takes(y)
        or not _takes(grad)
    ):
        raise ValueError("relu_dropout_grad: no compiled kernel, or tensors it cannot take")
    if y.shape != grad.shape:
        raise ValueError(f"relu_dropout_grad: y {tuple(y.shape)} and grad {tuple(grad.shape)} differ")
    out = torch.empty_like(grad)
    if grad.numel():
        with torch.profiler.record_function(KERNEL_RANGE):
            lib.nmt_relu_dropout_grad(
                y.data_ptr(), grad.data_ptr(), out.data_ptr(), grad.numel(), scale_bits, int(simd)
            )
    return out
