"""The compiled kernels through ctypes, where the install could build them: dropout
(`dropout_kernel.c`) and additive attention's energies in BiLSTM training
(`additive_kernel.c`). Each wrapper checks the tensors it is given before the C code sees a
pointer; kernels.py registers them as torch operators.

`pip install` builds them with the machine's C compiler (setup.py); where there is none, or a
library cannot be loaded, torch's operations do the same work: the same dropout masks and
products, the same energies up to rounding. `NMT_NATIVE=0` in the environment
switches all of them off.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os

import torch
from torch import Tensor

KERNEL_RANGE = "nmt::dropout_kernel"  # how `python -m benchmarks --profile` sees the kernel's calls
_DTYPES = {torch.bfloat16: 0, torch.float32: 1}  # the kernel's code for each dtype it takes


def _load(module: str) -> ctypes.CDLL | None:
    """The compiled module `nmt_cli.accel.<module>`, or None where it was not built, cannot load, or
    is switched off."""
    if os.environ.get("NMT_NATIVE", "1") == "0":
        return None
    spec = importlib.util.find_spec(f"nmt_cli.accel.{module}")
    if spec is None or spec.origin is None:
        return None
    try:
        return ctypes.CDLL(spec.origin)
    except OSError:
        return None


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded dropout kernel, or None (see `_load`)."""
    lib = _load("_dropout_kernel")
    if lib is None:
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
    """Which path CPU dropout takes on this machine: what `python -m benchmarks` reports."""
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


def takes(x: Tensor) -> bool:
    """Whether x is a tensor the kernels can read: contiguous, bf16 or fp32, on the CPU."""
    return x.dtype in _DTYPES and x.device.type == "cpu" and x.is_contiguous()


def masked_product(
    x: Tensor, key: int, threshold: int, scale_bits: int, simd: bool = True, relu: bool = False
) -> Tensor:
    """x (or relu(x), with `relu`) times the dropout mask keyed by `key` (see dropout_kernel.c):
    the scale whose bit pattern in x's dtype is `scale_bits` where element i's 15 random bits
    are >= `threshold`, else 0; `simd` False takes the plain C path."""
    lib = library()
    if lib is None or not takes(x):
        raise ValueError("masked_product: no compiled kernel, or a tensor it cannot take")
    if not (0 <= threshold <= 1 << 15 and 0 <= key < 1 << 64 and 0 <= scale_bits < 1 << 32):
        raise ValueError(f"masked_product: key {key}, threshold {threshold} or scale bits out of range")
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
        or not takes(y)
        or not takes(grad)
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


@functools.cache
def energies_library() -> ctypes.CDLL | None:
    """The loaded additive-attention kernel where this CPU has AVX-512, or None (see `_load`)."""
    lib = _load("_additive_kernel")
    if lib is None:
        return None
    lib.nmt_energies_simd.restype = ctypes.c_int
    if not lib.nmt_energies_simd():  # AVX-512 only: without it, nothing else to call
        return None
    n, p = ctypes.c_int64, ctypes.c_void_p
    lib.nmt_energies.restype = None
    lib.nmt_energies.argtypes = [p, p, p, n, n, n, p]  # keys, q, v, N, S, A, e
    lib.nmt_energies_query.restype = None
    lib.nmt_energies_query.argtypes = [p, p, p, p, n, n, n, p]  # keys, q, v, g, N, S, A, dq
    lib.nmt_energies_keys.restype = ctypes.c_int
    lib.nmt_energies_keys.argtypes = [p, p, p, p, n, n, n, n, p, p]  # keys, Q, G, v, T, N, S, A, dk, dv
    return lib


def _check(name: str, t: Tensor, dtype: torch.dtype, shape: tuple[int, ...]) -> Tensor:
    """t as the kernel reads it (contiguous, on the CPU), refused unless of `dtype` and `shape`:
    the kernel trusts its pointers and sizes, so a wrong tensor would read past its memory."""
    if t.dtype != dtype or t.device.type != "cpu" or tuple(t.shape) != shape:
        raise ValueError(
            f"additive kernel: {name} must be {dtype} {shape} on the CPU, "
            f"not {t.dtype} {tuple(t.shape)} on {t.device}"
        )
    return t.contiguous()


def _energies_lib(keys: Tensor) -> ctypes.CDLL:
    """The additive kernel, refused for keys it does not vectorise: bf16 (N, S, A), A % 16 == 0."""
    lib = energies_library()
    if lib is None:
        raise ValueError("additive kernel: not built, or this CPU lacks AVX-512")
    if keys.dim() != 3 or keys.size(2) % 16:
        raise ValueError(
            f"additive kernel: keys must be (N, S, A), A a multiple of 16, not {tuple(keys.shape)}"
        )
    return lib


def energies(keys: Tensor, query: Tensor, v: Tensor) -> Tensor:
    """e (N, S) fp32 = vᵀ tanh(keys + query): keys (N, S, A) and query (N, A) bf16, v (A,) fp32."""
    lib = _energies_lib(keys)
    n, s, a = keys.shape
    keys = _check("keys", keys, torch.bfloat16, (n, s, a))
    query, v = _check("query", query, torch.bfloat16, (n, a)), _check("v", v, torch.float32, (a,))
    out = torch.empty(n, s, dtype=torch.float32)
    lib.nmt_energies(keys.data_ptr(), query.data_ptr(), v.data_ptr(), n, s, a, out.data_ptr())
    return out


def energies_query_grad(keys: Tensor, query: Tensor, v: Tensor, grad: Tensor) -> Tensor:
    """dq (N, A) fp32, the query's gradient of one step's energies from their gradient (N, S) fp32."""
    lib = _energies_lib(keys)
    n, s, a = keys.shape
    keys = _check("keys", keys, torch.bfloat16, (n, s, a))
    query, v = _check("query", query, torch.bfloat16, (n, a)), _check("v", v, torch.float32, (a,))
    grad = _check("grad", grad, torch.float32, (n, s))
    dq = torch.empty(n, a, dtype=torch.float32)
    lib.nmt_energies_query(
        keys.data_ptr(), query.data_ptr(), v.data_ptr(), grad.data_ptr(), n, s, a, dq.data_ptr()
    )
    return dq


def energies_keys_grads(keys: Tensor, queries: Tensor, grads: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """The gradients (fp32) of keys (N, S, A) and v (A,) over T steps' queries (T, N, A) bf16 and
    energy gradients (T, N, S) fp32."""
    lib = _energies_lib(keys)
    n, s, a = keys.shape
    t = queries.size(0) if queries.dim() == 3 else -1
    keys, v = _check("keys", keys, torch.bfloat16, (n, s, a)), _check("v", v, torch.float32, (a,))
    queries = _check("queries", queries, torch.bfloat16, (t, n, a))
    grads = _check("grads", grads, torch.float32, (t, n, s))
    dk = torch.empty(n, s, a, dtype=torch.float32)
    dv = torch.empty(a, dtype=torch.float32)
    args = (keys, queries, grads, v)
    if lib.nmt_energies_keys(*(x.data_ptr() for x in args), t, n, s, a, dk.data_ptr(), dv.data_ptr()):
        raise MemoryError("additive attention's kernel could not allocate its scratch memory")
    return dk, dv
