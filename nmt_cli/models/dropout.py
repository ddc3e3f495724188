"""Dropout (Srivastava et al., 2014) as a module: zero each element with probability p and scale
the rest by 1/(1-p), in training only. The masks and the compiled kernel are the acceleration's
(accel/dropout.py, reached through accel/ops.py)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """`ops.dropout`, reached only in training: decoding never imports the acceleration."""
    if not training or p <= 0.0:
        return x
    from nmt_cli.accel.ops import dropout as masked

    return masked(x, p, training)


class Dropout(nn.Module):
    """Drop-in for nn.Dropout that uses `ops.dropout`; with `relu`, relu then dropout
    (`ops.relu_dropout`)."""

    def __init__(self, p: float, relu: bool = False) -> None:
        super().__init__()
        self.p = p
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p <= 0.0:
            return F.relu(x) if self.relu else x
        if self.relu:
            from nmt_cli.accel.ops import relu_dropout

            return relu_dropout(x, self.p, self.training)
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, relu=True" if self.relu else f"p={self.p}"
