"""The one seam between the models and CPU-training acceleration: the functions the model,
attention and loss code call, each deciding here whether a compiled operator (kernels.py) or
torch's operations run. Which kernels this process has is decided once (`compiled`); the
rest is whether a tensor is one the kernel takes. Both paths compute the same function: the
same numbers for dropout, the same up to rounding for the loss and additive energies.

Teacher-forced BiLSTM training reads the same encoder memory at every decoder step; there
`shared_states` and `shared_additive_keys` mark the memory so that `attention_read` and
`additive_energies` make its gradients once for all steps (memory_reads.py,
additive_energies.py). Unmarked tensors, as in decoding, take autograd's plain path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt_cli.accel import additive_energies as energies_paths
from nmt_cli.accel import dropout as masks
from nmt_cli.accel import native
from nmt_cli.accel.lstm_layer import bilstm
from nmt_cli.accel.memory_reads import SummedReads, plain_read

_SHARED = "_nmt_shared_by_steps"  # the attribute that marks a memory tensor shared by all steps


@dataclass(frozen=True)
class Compiled:
    """Which compiled kernels run in this process: loaded, and on a CPU with AVX-512."""

    dropout: bool
    energies: bool


def compiled() -> Compiled:
    """Decided once per process, on first use (`NMT_NATIVE=0` switches all off; native.py)."""
    return _detected()


@functools.cache
def _detected() -> Compiled:
    return Compiled(native.fast(), native.energies_library() is not None)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), in training only;
    on a CPU with the masks of accel/dropout.py, elsewhere torch's own kernel."""
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    key = masks.draw_key()
    if native.takes(x) and compiled().dropout:
        return masks.compiled_dropout(x, p, key)
    return masks.torch_dropout(x, p, key)


def relu_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """dropout(relu(x), p, training), with the same masks and values as the two apart; in bf16
    CPU training one pass of the compiled kernel each way (the Transformer's feed-forward)."""
    if training and 0.0 < p < 1.0 and x.dtype == torch.bfloat16 and native.takes(x) and compiled().dropout:
        return masks.compiled_relu_dropout(x, p, masks.draw_key())
    return dropout(F.relu(x), p, training)


def encoder_lstm(
    lstm: nn.LSTM, x: Tensor, src_mask: Tensor, dropout: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """The encoder's bidirectional LSTM over x (B, S, E), padding left out: states (B, S, H)
    and the final (h, c). In CPU training `bilstm` (lstm_layer.py), the same function with
    its backward by hand; elsewhere torch's LSTM over packed sequences (cuDNN's on a GPU)."""
    if torch.is_grad_enabled() and lstm.weight_hh_l0.requires_grad and x.device.type == "cpu":
        return bilstm(lstm, to_autocast_dtype(x), src_mask.sum(1), dropout)
    lengths = src_mask.sum(1).cpu()
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    states, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return states, h_n, c_n


def shared_states(states: Tensor) -> Tensor:
    """The encoder states (N, S, D) as every teacher-forced decoder step reads them: the same
    values, their gradient made once from all steps' reads (memory_reads.py)."""
    reads = SummedReads(states)
    setattr(reads.states, _SHARED, reads)
    return reads.states


def attention_read(weights: Tensor, states: Tensor) -> Tensor:
    """context (N, D) = Σ_i a_i h_i, weights (N, S) and states (N, S, D)."""
    reads = getattr(states, _SHARED, None)
    if isinstance(reads, SummedReads):
        return reads.read(weights, states)
    return plain_read(weights, states)


def shared_additive_keys(keys: Tensor, v: Tensor) -> Tensor:
    """Additive attention's keys W1 h (N, S, A) as every teacher-forced decoder step scores them
    against v (A,): where the compiled kernel takes them, each step's energies by the kernel and
    the gradients of keys and v made once from all steps (additive_energies.py); else the keys."""
    if not (energies_paths.takes(keys) and compiled().energies):
        return keys
    summed = energies_paths.SummedEnergies(keys, v)
    setattr(summed.keys, _SHARED, summed)
    return summed.keys


def additive_energies(query: Tensor, keys: Tensor, v: Tensor) -> Tensor:
    """e (N, S) = vᵀ tanh(keys + query) for the projected query W2 s (N, A) and keys (N, S, A);
    for keys from `shared_additive_keys`, v must be the one they were shared with."""
    summed = getattr(keys, _SHARED, None)
    if isinstance(summed, energies_paths.SummedEnergies):
        return summed.energies(query, keys)
    return energies_paths.torch_energies(query, keys, v)


def to_autocast_dtype(x: Tensor) -> Tensor:
    """x in autocast's low precision where autocast is on for x's device, else x itself.

    For an activation that every step of a loop multiplies (the BiLSTM decoder's encoder states
    and target embeddings): autocast caches the casts of leaf weights only, so it would cast such
    a tensor again at each step, and in backward cast and accumulate its gradient as often.
    """
    device = x.device.type
    if not x.is_floating_point() or not torch.is_autocast_enabled(device):
        return x
    return x.to(torch.get_autocast_dtype(device))
