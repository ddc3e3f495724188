"""Dropout's masks (Srivastava et al., 2014), cheap to make on CPUs, and its two paths.

torch's CPU dropout draws one float per element through `bernoulli_` and keeps the mask for
backward. Here each element gets 15 random bits, four elements per 64-bit word, and is kept iff
they are >= round(p * 2**15), so the drop rate is p rounded to 1/32768. The words come from a
counter-based generator (SplitMix64 over a counter) keyed by one draw of torch's seeded
generator per mask: the compiled kernel (`nmt::masked_product`, kernels.py) makes bits, mask
and product in one pass, and its backward makes the same mask again from the key instead of
keeping it; `keep_mask` makes the same words with torch's integer operations, so that training
gives the same numbers with or without the kernel. ops.py picks the path.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

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


def torch_dropout(x: Tensor, p: float, key: int) -> Tensor:
    """x times the mask keyed by `key`, by torch's operations; autograd keeps the mask."""
    keep, _ = keep_mask(x.shape, p, key, x.device)
    # one mask in x's dtype, scaled: the forward and backward products are same-dtype kernels
    return x * _scaled(keep, _scale(p), x.dtype)


def compiled_dropout(x: Tensor, p: float, key: int) -> Tensor:
    """The same product by the compiled kernel (x contiguous bf16 or fp32 on the CPU); backward
    keeps nothing but the key."""
    from nmt_cli.accel import kernels

    return kernels.masked_product(x, key, drop_threshold(p), scale_bits(_scale(p), x.dtype))


def compiled_relu_dropout(x: Tensor, p: float, key: int) -> Tensor:
    """dropout(relu(x)) in one pass of the compiled kernel (x contiguous bf16 on the CPU), with the
    masks and values of the two apart. Backward reads only the output, which the next layer keeps
    anyway: the gradient times the scale where it is > 0 (x was positive and kept), so neither
    relu's output nor a mask is kept. A NaN activation passes no gradient."""
    from nmt_cli.accel import kernels

    return kernels.masked_product(x, key, drop_threshold(p), scale_bits(_scale(p), x.dtype), relu=True)
