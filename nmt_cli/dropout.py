"""Dropout (Srivastava et al., 2014) with a mask that is cheap to draw on CPUs.

torch's CPU dropout draws one float per element through `bernoulli_`; in a Transformer training
step that was 14% of the time. Here each element gets 7 random bits, eight elements per int64
word from the same seeded generator, so the drop rate is p rounded to 1/128 (0.1 -> 0.1016,
0.3 -> 0.2969); where that rounding is more than 2% of p (p = 0.05, say) each element gets 15
bits, four to a word, and p is rounded to 1/32768. The scaling uses the rounded rate, so the
expectation is exact. Other devices keep torch's own kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_TOLERANCE = 0.02  # of p: the largest rounding of the drop rate that 7-bit masks may make
# bit patterns of the same width, in which a mask is scaled (see `_scaled`)
_PATTERN = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def _lane_bits(p: float) -> int:
    """Random bits per element: 7 where p rounded to 1/128 stays within 2% of p, else 15."""
    coarse = round(p * 128) / 128
    return 7 if 0.0 < coarse < 1.0 and abs(coarse - p) <= _TOLERANCE * p else 15


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> tuple[Tensor, float]:
    """(int8 or int16 mask, 1 keeps and 0 drops each element with probability p', p') where p' ~ p."""
    bits = _lane_bits(p)
    lane = torch.int8 if bits == 7 else torch.int16
    per_word = 64 // (bits + 1)
    n, levels = shape.numel(), 1 << bits
    words = torch.empty(-(-n // per_word), dtype=torch.int64, device=device).random_()
    # random_() on int64 draws from [0, 2**63): every lane but the top one is uniform over its
    # width and the top one over one bit less, so the low `bits` bits of each lane are uniform.
    draws = words.view(lane)[:n] & (levels - 1)
    threshold = min(round(p * levels), levels - 1)
    # draws >= threshold as 0/1 in integer arithmetic: comparisons that make a bool tensor, and
    # anything that multiplies by one, take slow mixed-dtype kernels on CPUs
    keep = draws.sub_(threshold).bitwise_right_shift_(bits).add_(1)
    return keep.view(shape), threshold / levels


def _scaled(keep: Tensor, scale: float, dtype: torch.dtype) -> Tensor:
    """keep (0/1 integers) times `scale`, in `dtype`: for float types made as the bit pattern of
    `scale` or of 0 by one integer product, in place of a conversion and a float product."""
    pattern_type = _PATTERN.get(dtype)
    if pattern_type is None:
        return keep.to(dtype).mul_(scale)
    pattern = int(torch.tensor(scale, dtype=dtype).view(pattern_type).item())
    return keep.to(pattern_type).mul_(pattern).view(dtype)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), in training only."""
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    keep, p_drawn = keep_mask(x.shape, p, x.device)
    # one mask in x's dtype, scaled: the forward and backward products are same-dtype kernels
    return x * _scaled(keep, 1.0 / (1.0 - p_drawn), x.dtype)


class Dropout(nn.Module):
    """Drop-in for nn.Dropout that uses `dropout` above."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
