"""The compiled kernels as torch custom operators (`torch.library`, namespace `nmt`).

Each operator checks its inputs before the C code sees a pointer (native.py: dtypes, shapes,
contiguity; torch's errors: ValueError), has a fake (meta)
implementation so that tracing and `torch.library.opcheck` see its output without running it,
and, where it has a gradient, a registered backward:

    nmt::masked_product(x, key, threshold, scale_bits, relu, simd) -> y      dropout_kernel.c
    nmt::relu_dropout_grad(y, grad, scale_bits, simd) -> dx                   dropout_kernel.c
    nmt::additive_energies(keys, query, v) -> e                               additive_kernel.c
    nmt::additive_energies_query_grad(keys, query, v, grad) -> dq             additive_kernel.c
    nmt::additive_energies_keys_grads(keys, queries, grads, v) -> (dk, dv)    additive_kernel.c

Importing this module registers them; ops.py, the seam the models call, decides when they run.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nmt_cli.accel import native


@torch.library.custom_op("nmt::masked_product", mutates_args=())
def masked_product(
    x: Tensor, key: int, threshold: int, scale_bits: int, relu: bool = False, simd: bool = True
) -> Tensor:
    """x (relu(x) with `relu`) times the dropout mask keyed by `key` (native.masked_product);
    with `relu` bf16 only, as its backward kernel reads bf16."""
    if relu and x.dtype != torch.bfloat16:
        raise ValueError(f"masked_product: relu takes bf16, not {x.dtype}")
    return native.masked_product(x, key, threshold, scale_bits, simd=simd, relu=relu)


@masked_product.register_fake
def _(x: Tensor, key: int, threshold: int, scale_bits: int, relu: bool = False, simd: bool = True) -> Tensor:
    return torch.empty_like(x)


def _masked_product_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    _, ctx.key, ctx.threshold, ctx.scale_bits, ctx.relu, ctx.simd = inputs
    # relu: the output says where x was positive and kept; a plain mask is made again from the key
    if ctx.relu:
        ctx.save_for_backward(output)


def _masked_product_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    grad = grad.contiguous()
    if ctx.relu:
        (y,) = ctx.saved_tensors
        dx = relu_dropout_grad(y, grad, ctx.scale_bits, ctx.simd)
    else:
        dx = masked_product(grad, ctx.key, ctx.threshold, ctx.scale_bits, False, ctx.simd)
    return dx, None, None, None, None, None


masked_product.register_autograd(_masked_product_backward, setup_context=_masked_product_context)


@torch.library.custom_op("nmt::relu_dropout_grad", mutates_args=())
def relu_dropout_grad(y: Tensor, grad: Tensor, scale_bits: int, simd: bool = True) -> Tensor:
    """The gradient of relu then dropout from its bf16 output y (native.relu_dropout_grad)."""
    return native.relu_dropout_grad(y, grad, scale_bits, simd=simd)


@relu_dropout_grad.register_fake
def _(y: Tensor, grad: Tensor, scale_bits: int, simd: bool = True) -> Tensor:
    torch._check(y.shape == grad.shape, lambda: "relu_dropout_grad: y and grad differ in shape")
    return torch.empty_like(grad)


@torch.library.custom_op("nmt::additive_energies", mutates_args=())
def additive_energies(keys: Tensor, query: Tensor, v: Tensor) -> Tensor:
    """e (N, S) fp32 = vᵀ tanh(keys + query): keys (N, S, A) and query (N, A) bf16, v (A,) fp32."""
    return native.energies(keys, query, v)


@additive_energies.register_fake
def _(keys: Tensor, query: Tensor, v: Tensor) -> Tensor:
    torch._check(keys.dim() == 3, lambda: "additive_energies: keys are not (N, S, A)")
    return keys.new_empty(keys.shape[:2], dtype=torch.float32)


def _energies_context(ctx: Any, inputs: tuple[Tensor, Tensor, Tensor], output: Tensor) -> None:
    ctx.save_for_backward(*inputs)


def _energies_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    keys, query, v = ctx.saved_tensors
    grad = grad.float().contiguous()
    need_keys, need_query, need_v = ctx.needs_input_grad
    dq = energies_query_grad(keys, query, v, grad).to(query.dtype) if need_query else None
    dk: Tensor | None = None
    dv: Tensor | None = None
    if need_keys or need_v:  # one step's share: the kernel over T = 1
        dk, dv = energies_keys_grads(keys, query.unsqueeze(0), grad.unsqueeze(0), v)
    return (
        dk.to(keys.dtype) if need_keys and dk is not None else None,
        dq,
        dv.to(v.dtype) if need_v and dv is not None else None,
    )


additive_energies.register_autograd(_energies_backward, setup_context=_energies_context)


@torch.library.custom_op("nmt::additive_energies_query_grad", mutates_args=())
def energies_query_grad(keys: Tensor, query: Tensor, v: Tensor, grad: Tensor) -> Tensor:
    """dq (N, A) fp32, the query's gradient of one step's energies from their gradient (N, S)."""
    return native.energies_query_grad(keys, query, v, grad)


@energies_query_grad.register_fake
def _(keys: Tensor, query: Tensor, v: Tensor, grad: Tensor) -> Tensor:
    return query.new_empty(query.shape, dtype=torch.float32)


@torch.library.custom_op("nmt::additive_energies_keys_grads", mutates_args=())
def energies_keys_grads(keys: Tensor, queries: Tensor, grads: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """The gradients (fp32) of keys (N, S, A) and v (A,) over T steps' queries (T, N, A) and
    energy gradients (T, N, S)."""
    return native.energies_keys_grads(keys, queries, grads, v)


@energies_keys_grads.register_fake
def _(keys: Tensor, queries: Tensor, grads: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    return keys.new_empty(keys.shape, dtype=torch.float32), v.new_empty(v.shape, dtype=torch.float32)
