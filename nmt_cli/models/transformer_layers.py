"""The Transformer's blocks, named as in the paper (Vaswani et al., 2017; the Annotated
Transformer): sinusoidal positions, multi-head attention that can return its weights, the
position-wise feed-forward layer, residual sublayers (pre- or post-norm), and the encoder and
decoder layers, whose self-attention extends a time-major key/value cache when decoding.
transformer.py wires them into the encoder-decoder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt_cli.config import ModelConfig
from nmt_cli.models.dropout import Dropout, dropout

KV = tuple[Tensor, Tensor]  # keys and values, each (N, heads, L, d_k); time-major in decoding caches


def extend_cache(cache: Tensor, order: Tensor | None, new: Tensor) -> Tensor:
    """cache (T, N', heads, d_k) with rows `order` (all if None), then new (N, heads, 1, d_k)."""
    rows = new.size(0) if order is None else order.numel()
    out = cache.new_empty(cache.size(0) + 1, rows, *cache.shape[2:])
    if order is None:
        out[:-1].copy_(cache)
    else:
        torch.index_select(cache, 1, order, out=out[:-1])
    out[-1] = new[:, :, 0]
    return out


def sinusoids(length: int, dim: int) -> Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    position = torch.arange(length, dtype=torch.float).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over `heads` subspaces; weights only when asked."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.d_k, self.dropout = heads, d_model // heads, dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, x: Tensor) -> Tensor:
        # (N, L, D) -> (N, heads, L, d_k)
        return x.view(x.size(0), x.size(1), self.heads, self.d_k).transpose(1, 2)

    def project_kv(self, x: Tensor) -> KV:
        k, v = self.kv_proj(x).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: Tensor,
        kv: KV,
        mask: Tensor | None,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """x (N, Tq, D) attends to kv; mask broadcasts to (N, heads, Tq, Tk), True = attend."""
        q = self._split(self.q_proj(x))
        k, v = kv
        weights = None
        # CPU training takes the explicit path: with bf16 autocast, SDPA's forward and backward
        # took 6x as long (a 4,096-token batch, attention dropout or not), and the explicit
        # path's dropout mask comes from dropout.py. Decoding keeps SDPA (as fast here, and saved
        # models translate and align as they did: tests/test_compat.py).
        if need_weights or (self.training and q.device.type == "cpu"):
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)
            if causal:
                mask = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool, device=q.device).tril()
            if mask is not None:
                scores = scores.masked_fill(~mask, -math.inf)
            probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
            out = dropout(probs, self.dropout, self.training) @ v
            weights = probs if need_weights else None
        else:
            p = self.dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)
        out = out.transpose(1, 2).reshape(x.size(0), x.size(1), -1)
        return self.out_proj(out), weights


class FeedForward(nn.Module):
    def __init__(self, d_model: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        # relu and dropout as one pass; the Identity keeps the weights' saved names (net.0, net.3)
        self.net = nn.Sequential(
            nn.Linear(d_model, ff_dim), Dropout(dropout, relu=True), nn.Identity(), nn.Linear(ff_dim, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Residual(nn.Module):
    """x + Dropout(f(LN(x))) in pre-norm, LN(x + Dropout(f(x))) in post-norm."""

    def __init__(self, d_model: int, dropout: float, post_norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.post_norm = post_norm

    def pre(self, x: Tensor) -> Tensor:
        return x if self.post_norm else self.norm(x)

    def post(self, x: Tensor, y: Tensor) -> Tensor:
        out = x + self.dropout(y)
        return self.norm(out) if self.post_norm else out


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.heads, cfg.attn_dropout)
        self.ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout)
        self.res1 = Residual(cfg.d_model, cfg.dropout, cfg.post_norm)
        self.res2 = Residual(cfg.d_model, cfg.dropout, cfg.post_norm)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.res1.pre(x)
        x = self.res1.post(x, self.self_attn(h, self.self_attn.project_kv(h), mask)[0])
        return self.res2.post(x, self.ff(self.res2.pre(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.heads, cfg.attn_dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.heads, cfg.attn_dropout)
        self.ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout)
        self.res1 = Residual(cfg.d_model, cfg.dropout, cfg.post_norm)
        self.res2 = Residual(cfg.d_model, cfg.dropout, cfg.post_norm)
        self.res3 = Residual(cfg.d_model, cfg.dropout, cfg.post_norm)

    def forward(
        self,
        x: Tensor,
        cache: KV | None,
        order: Tensor | None,
        cross_kv: KV,
        src_mask: Tensor,
        need_weights: bool,
        beams: int = 1,
    ) -> tuple[Tensor, KV, Tensor | None]:
        """x (N, T, D) -> output, self-attention keys/values up to x, cross-attention weights.

        Without a cache, x is the whole target prefix and self-attention is causal (training);
        with one (time-major, rows `order` of it), x is the next position and attends to the
        cached prefix plus itself, and the returned keys/values are the extended cache. With
        `beams` > 1 (then T = 1), the N rows are N/beams sentences' beams, and cross_kv and
        src_mask have one row per sentence.
        """
        h = self.res1.pre(x)
        k, v = self.self_attn.project_kv(h)
        if cache is not None:
            k, v = extend_cache(cache[0], order, k), extend_cache(cache[1], order, v)
            kv = (k.permute(1, 2, 0, 3), v.permute(1, 2, 0, 3))  # (N, heads, T, d_k) views
        else:
            kv = (k, v)
        x = self.res1.post(x, self.self_attn(h, kv, None, causal=cache is None)[0])
        rows = x.size(0)
        q = self.res2.pre(x)
        if beams > 1:  # each sentence's beams become that sentence's queries
            q = q.view(rows // beams, beams, -1)
        out, weights = self.cross_attn(q, cross_kv, src_mask, need_weights=need_weights)
        if beams > 1:  # and back to one row per beam
            out = out.view(rows, 1, -1)
            if weights is not None:  # (n, heads, beams, S) -> (rows, heads, 1, S)
                weights = weights.transpose(1, 2).reshape(rows, -1, 1, weights.size(-1))
        x = self.res2.post(x, out)
        return self.res3.post(x, self.ff(self.res3.pre(x))), (k, v), weights
