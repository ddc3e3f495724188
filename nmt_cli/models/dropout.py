"""Dropout (Srivastava et al., 2014) with masks that are cheap to make on CPUs.

torch's CPU dropout draws one float per element through `bernoulli_` and keeps the mask for
backward. Here each element gets 15 random bits, four elements per 64-bit word, and is kept iff
they are >= round(p * 2**15), so the drop rate is p rounded to 1/32768. The words come from a
counter-based generator (SplitMix64 over a counter) keyed by one draw of torch's seeded
generator per mask: where the install built `dropout_kernel.c` (native.py), bits, mask and
product are made in one pass, and backward makes the same mask again from the key instead of
keeping it. Elsewhere `keep_mask` makes the same words with torch's integer operations, so that
training gives the same numbers with or without the compiled kernel. Other devices keep torch's
own kernel.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt_cli.accel import native

_LEVELS = 1 << 15
# integer types of the same width as each float type, in which a mask is scaled (see `_scaled`)
_PATTERN = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def _signed(u: int) -> int:
    """A 64-bit unsigned constant as the int64 with the same bits."""
    return u - (1 << 64) if u >= 1 << 63 else u


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MIX = (_signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB))


def draw_key() -> int:
    """One 63-bit key from torch's seeded CPU generator: each mask's words are a function of it,
    so seeds, checkpoints and resumption govern masks as they govern every other draw."""
    return int(torch.empty((), dtype=torch.int64).random_())


def _shift_right(z: Tensor, bits: int) -> Tensor:
    """z >> bits as unsigned 64-bit integers (torch shifts int64 arithmetically)."""
    return z.bitwise_right_shift(bits).bitwise_and_((1 << (64 - bits)) - 1)


def splitmix_words(key: int, count: int, device: torch.device) -> Tensor:
    """Words 0..count-1 keyed by `key`: word j is SplitMix64's mix of key + (j+1) * golden, the
    j-th output of SplitMix64 (Steele et al., 2014) seeded with key; int64 products wrap as the C
    kernel's uint64 ones do."""
    z = torch.arange(1, count + 1, dtype=torch.int64, device=device).mul_(_GOLDEN).add_(key)
    z = z.bitwise_xor_(_shift_right(z, 30)).mul_(_MIX[0])
    z = z.bitwise_xor_(_shift_right(z, 27)).mul_(_MIX[1])
    return z.bitwise_xor_(_shift_right(z, 31))


def drop_threshold(p: float) -> int:
    """An element is kept iff its 15 random bits are >= this; p' = threshold / 2**15 ~ p."""
    return min(round(p * _LEVELS), _LEVELS - 1)


def keep_mask(shape: torch.Size, p: float, key: int, device: torch.device) -> tuple[Tensor, float]:
    """(int16 mask, 1 keeps and 0 drops each element with probability p', p') where p' ~ p:
    element i reads the 16-bit lane i % 4 of word i // 4."""
    n = shape.numel()
    bits = splitmix_words(key, (n + 3) // 4, device).view(torch.int16)[:n] & (_LEVELS - 1)
    threshold = drop_threshold(p)
    # bits >= threshold as 0/1 in integer arithmetic: comparisons that make a bool tensor, and
    # anything that multiplies by one, take slow mixed-dtype kernels on CPUs
    keep = bits.sub_(threshold).bitwise_right_shift_(15).add_(1)
    return keep.view(shape), threshold / _LEVELS


@functools.cache
def scale_bits(scale: float, dtype: torch.dtype) -> int:
    """The bit pattern of `scale` rounded to bf16, fp16 or fp32, as an integer: what the compiled
    kernel and `_scaled` multiply a 0/1 mask by. A positive float's sign bit is 0, so the
    pattern is the same read as a signed or an unsigned integer."""
    return int(torch.tensor(scale, dtype=dtype).view(_PATTERN[dtype]).item())


def _scaled(keep: Tensor, scale: float, dtype: torch.dtype) -> Tensor:
    """keep (0/1 integers) times `scale`, in `dtype`. For bf16, fp16 and fp32 it is made as the
    bit pattern of `scale` or of 0 by one integer product (in place for bf16 and fp16), which
    saves the pass that converts the mask to floats: the same values (4M-element bf16 mask and
    product: 4.6 -> 4.0 ms)."""
    pattern_type = _PATTERN.get(dtype)
    if pattern_type is None:
        return keep.to(dtype).mul_(scale)
    return keep.to(pattern_type).mul_(scale_bits(scale, dtype)).view(dtype)


def _scale(p: float) -> float:
    """1 / (1 - p') for the p' that `drop_threshold(p)` keeps."""
    return 1.0 / (1.0 - drop_threshold(p) / _LEVELS)


class _CompiledDropout(torch.autograd.Function):
    """x * mask by the compiled kernel, which keeps nothing for backward but the key: backward
    multiplies the gradient by the same mask, made again."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, p: float, key: int) -> Tensor:
        ctx.p, ctx.key = p, key
        return native.masked_product(x, key, drop_threshold(p), scale_bits(_scale(p), x.dtype))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        grad = grad.contiguous()
        if not native.supports(grad):  # a gradient of another dtype: the same mask from torch
            keep, _ = keep_mask(grad.shape, ctx.p, ctx.key, grad.device)
            return grad * _scaled(keep, _scale(ctx.p), grad.dtype), None, None
        bits = scale_bits(_scale(ctx.p), grad.dtype)
        return native.masked_product(grad, ctx.key, drop_threshold(ctx.p), bits), None, None


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), in training only."""
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    key = draw_key()
    if native.supports(x):
        return _CompiledDropout.apply(x, p, key)
    keep, _ = keep_mask(x.shape, p, key, x.device)
    # one mask in x's dtype, scaled: the forward and backward products are same-dtype kernels
    return x * _scaled(keep, _scale(p), x.dtype)


class _CompiledReluDropout(torch.autograd.Function):
    """dropout(relu(x)) in one pass of the compiled kernel; backward reads only the output, which
    the next layer keeps anyway: grad times the scale where it is > 0 (x was positive and kept),
    so neither relu's output nor a mask is kept. A NaN activation passes no gradient."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, p: float, key: int) -> Tensor:
        y = native.masked_product(x, key, drop_threshold(p), scale_bits(_scale(p), x.dtype), relu=True)
        ctx.save_for_backward(y)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        # autograd hands backward a gradient of the output's dtype: bf16, as `relu_dropout` asks
        (y,) = ctx.saved_tensors
        return native.relu_dropout_grad(y, grad.contiguous(), scale_bits(_scale(ctx.p), y.dtype)), None, None


def relu_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """dropout(relu(x), p, training), with the same masks and values as the two apart; in bf16
    CPU training one pass of the compiled kernel each way (the Transformer's feed-forward)."""
    if training and 0.0 < p < 1.0 and x.dtype == torch.bfloat16 and native.supports(x):
        return _CompiledReluDropout.apply(x, p, draw_key())
    return dropout(F.relu(x), p, training)


class Dropout(nn.Module):
    """Drop-in for nn.Dropout that uses `dropout` above; with `relu`, relu then dropout
    (`relu_dropout`)."""

    def __init__(self, p: float, relu: bool = False) -> None:
        super().__init__()
        self.p = p
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        if self.relu:
            return relu_dropout(x, self.p, self.training)
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, relu=True" if self.relu else f"p={self.p}"
