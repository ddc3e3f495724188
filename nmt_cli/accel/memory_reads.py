"""The decoder's reads of the encoder states in training, their gradient made once (#16).

Every teacher-forced step of the RNN decoder reads the same encoder states H (N, S, D):
context_t = a_t H. Left to autograd, each step's backward makes its own (N, S, D) gradient of H,
the outer product a_tᵀ g_t, and adds it into a running sum: two passes over the states per
target position, a tenth of a BiLSTM update on a CPU whose matrix units make the products
cheap. Here each step's backward only records (a_t, g_t), and when autograd reaches H its
gradient is made once, Σ_t a_tᵀ g_t = Aᵀ G, one batched product over all steps. The same
function and gradients; only the order of the sums differs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class StepReads:
    """What each step's read of the states needs for the states' gradient: (a_t, g_t)."""

    def __init__(self) -> None:
        self.weights: list[Tensor] = []  # a_t, (N, S)
        self.grads: list[Tensor] = []  # g_t, the gradient of context_t, (N, D)

    def record(self, weights: Tensor, grad: Tensor) -> None:
        self.weights.append(weights)
        self.grads.append(grad)

    def states_grad(self) -> Tensor | None:
        """Σ_t a_tᵀ g_t as one (N, S, T) x (N, T, D) product; None when no read had a gradient."""
        if not self.grads:
            return None
        weights = torch.stack(self.weights, dim=2)
        grads = torch.stack(self.grads, dim=1).to(weights.dtype)
        self.weights, self.grads = [], []  # keep nothing alive past the backward pass
        return torch.bmm(weights, grads)


class _SharedStates(torch.autograd.Function):
    """Identity on the states; its backward runs after every read's and sums their gradient."""

    @staticmethod
    def forward(ctx: Any, states: Tensor, reads: StepReads) -> Tensor:
        ctx.reads = reads
        ctx.set_materialize_grads(False)  # the reads pass None: no zero tensor to allocate
        return states.view_as(states)

    @staticmethod
    def backward(ctx: Any, grad: Tensor | None) -> tuple[Tensor | None, None]:
        summed = ctx.reads.states_grad()
        if grad is None:
            return summed, None
        if summed is None:
            return grad, None
        return grad + summed, None


class _Read(torch.autograd.Function):
    """context = a H for one step; backward records (a, g) in place of making H's gradient."""

    @staticmethod
    def forward(ctx: Any, weights: Tensor, states: Tensor, reads: StepReads) -> Tensor:
        ctx.save_for_backward(weights, states)
        ctx.reads = reads
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None]:
        weights, states = ctx.saved_tensors
        ctx.reads.record(weights, grad)
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return torch.bmm(states, grad.unsqueeze(2).to(states.dtype)).squeeze(2), None, None


class SummedReads:
    """Reads of one batch's encoder states whose gradient is made once for all steps."""

    def __init__(self, states: Tensor) -> None:
        self._reads = StepReads()
        self.states = _SharedStates.apply(states, self._reads)

    def read(self, weights: Tensor, states: Tensor) -> Tensor:
        """context (N, D) = weights (N, S) · states (N, S, D); `states` must be `self.states`."""
        if states is not self.states:
            raise ValueError("SummedReads.read reads only the states it was made for")
        return _Read.apply(weights, states, self._reads)


def plain_read(weights: Tensor, states: Tensor) -> Tensor:
    """context (N, D) = weights (N, S) · states (N, S, D), as autograd differentiates it."""
    return torch.bmm(weights.unsqueeze(1), states).squeeze(1)
