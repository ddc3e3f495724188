"""Additive attention's energies in BiLSTM training: the compiled kernel, and the keys' gradient
made once for all decoder steps (#16).

Every teacher-forced decoder step scores the same keys K = W1 H (N, S, A) with its own query
q_t = W2 s_t: e_t = vᵀ tanh(K + q_t). Left to autograd, each step makes and keeps the (N, S, A)
tanh, and its backward makes an (N, S, A) gradient of K and adds it into a running sum. Here
(`additive_kernel.c`) a step's forward reads K once and keeps nothing of that size; its backward
makes only q_t's gradient and records (q_t, g_t), the gradient of its energies; and when autograd
reaches K, the gradients of K and v are made once from all steps' records, as `memory_reads.py`
does for the states. The same function and gradients, up to rounding: the kernel adds K and q_t
and takes tanh in fp32 where torch's bf16 operations round each result to bf16.

Only for bf16 keys on a CPU with AVX-512 where the kernel is built, with A a multiple of 16;
elsewhere, and in decoding, `torch_energies` computes them with torch's operations (ops.py
picks the path). The kernel's entry points are the operators nmt::additive_energies* (kernels.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def takes(keys: Tensor) -> bool:
    """Whether the kernel, where built, scores these keys: bf16 (N, S, A) on a CPU, A a multiple of 16."""
    return (
        keys.dtype == torch.bfloat16
        and keys.device.type == "cpu"
        and keys.dim() == 3
        and keys.size(2) % 16 == 0
    )


def torch_energies(query: Tensor, keys: Tensor, v: Tensor) -> Tensor:
    """e (N, S) = vᵀ tanh(keys + query) by torch's operations: query (N, A), keys (N, S, A), v (A,)."""
    # v as a vector product: a matrix-vector product, not an (N, S, A) x (A, 1) matmul
    q = query.unsqueeze(1)
    if keys.dtype == torch.bfloat16:
        # torch's bf16 tanh runs at a fifth of its bf16 sigmoid's speed on CPUs, and this
        # (N, S, A) one at every decoder step is the largest: vᵀ tanh(u) = 2vᵀ σ(2u) - Σv
        return torch.add(q * 2, keys, alpha=2).sigmoid_() @ (v * 2) - v.sum()
    return torch.tanh_(keys + q) @ v


def energies(keys: Tensor, query: Tensor, v: Tensor) -> Tensor:
    """e (N, S) fp32 = vᵀ tanh(keys + query) by the kernel, keys (N, S, A) and query (N, A) bf16, v (A,)."""
    from nmt_cli.accel import kernels  # registering the operators: only where they run

    return kernels.additive_energies(keys, query, v.float())


class StepQueries:
    """What each step's backward leaves for the keys' gradient: (q_t, g_t)."""

    def __init__(self) -> None:
        self.queries: list[Tensor] = []  # q_t, (N, A) bf16
        self.grads: list[Tensor] = []  # g_t, the gradient of e_t, (N, S) fp32

    def record(self, query: Tensor, grad: Tensor) -> None:
        self.queries.append(query)
        self.grads.append(grad)

    def keys_grads(self, keys: Tensor, v: Tensor) -> tuple[Tensor, Tensor] | None:
        """The gradients of keys (N, S, A) and v (A,), fp32, over every recorded step; None
        when no step's energies had a gradient."""
        if not self.grads:
            return None
        queries = torch.stack(self.queries)
        grads = torch.stack(self.grads)
        self.queries, self.grads = [], []  # keep nothing alive past the backward pass
        from nmt_cli.accel import kernels

        dk, dv = kernels.energies_keys_grads(keys, queries, grads, v.float())
        return dk, dv


class _SharedKeys(torch.autograd.Function):
    """Identity on the keys and v; its backward runs after every step's and makes their gradients."""

    @staticmethod
    def forward(ctx: Any, keys: Tensor, v: Tensor, steps: StepQueries) -> tuple[Tensor, Tensor]:
        ctx.steps = steps
        ctx.save_for_backward(keys, v)
        ctx.set_materialize_grads(False)  # the steps pass None: no zero tensors to allocate
        return keys.view_as(keys), v.view_as(v)

    @staticmethod
    def backward(ctx: Any, grad_keys: Tensor | None, grad_v: Tensor | None) -> tuple[Tensor | None, ...]:
        keys, v = ctx.saved_tensors
        made = ctx.steps.keys_grads(keys, v)
        if made is None:
            return grad_keys, grad_v, None
        dk, dv = made[0].to(keys.dtype), made[1].to(v.dtype)
        return (dk if grad_keys is None else dk + grad_keys), (dv if grad_v is None else dv + grad_v), None


class _Energies(torch.autograd.Function):
    """One step's e = vᵀ tanh(keys + q); backward makes q's gradient and records (q, g)."""

    @staticmethod
    def forward(ctx: Any, query: Tensor, keys: Tensor, v: Tensor, steps: StepQueries) -> Tensor:
        query = query.contiguous()
        ctx.save_for_backward(query, keys, v)
        ctx.steps = steps
        return energies(keys, query, v)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None, None]:
        query, keys, v = ctx.saved_tensors
        grad = grad.float().contiguous()
        ctx.steps.record(query, grad)
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        from nmt_cli.accel import kernels

        dq = kernels.energies_query_grad(keys, query, v.float(), grad)
        return dq.to(query.dtype), None, None, None


class SummedEnergies:
    """One batch's additive energies by the kernel, the keys' gradient made once for all steps."""

    def __init__(self, keys: Tensor, v: Tensor) -> None:
        self._steps = StepQueries()
        self.keys, self._v = _SharedKeys.apply(keys, v, self._steps)

    def energies(self, query: Tensor, keys: Tensor) -> Tensor:
        """e (N, S) fp32 for the projected query (N, A); `keys` must be `self.keys`."""
        if keys is not self.keys:
            raise ValueError("SummedEnergies scores only the keys it was made for")
        return _Energies.apply(query.to(keys.dtype), keys, self._v, self._steps)
