"""Transformer encoder-decoder (Vaswani et al., 2017) with cached incremental decoding.

Pre-norm by default (post-norm with `post_norm`), sinusoidal positions, embeddings scaled by
√d_model and tied between source, target and output for a joint vocabulary. Attention runs
through `scaled_dot_product_attention`, except in CPU training, where the explicit path is faster;
the cross-attention weights used for alignments are kept only in the layer they are read from
(`align_layer`, by default the penultimate decoder layer, which aligns best in Garg et al.,
2019), averaged over heads or taken from one head: an AttentionChoice passed to `decode_step`
and `forward`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nmt_cli.config import ARCH_DEFAULTS, DEFAULT_ATTENTION, PAD_ID, AttentionChoice, ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.dropout import Dropout, dropout

KV = tuple[Tensor, Tensor]  # keys and values, each (N, heads, L, d_k); time-major in decoding caches


@dataclass
class TransformerMemory:
    """Encoder output with every decoder layer's cross-attention keys/values projected once.

    In beam search each sentence's `beams` decoder rows share one copy, and cross-attention
    treats them as `beams` queries of that sentence: nothing is copied per beam.
    """

    mask: Tensor  # (n, S) True on real tokens, one row per sentence
    cross_kv: list[KV]
    beams: int = 1

    @property
    def rows(self) -> int:
        return self.mask.size(0) * self.beams

    def select(self, idx: Tensor) -> TransformerMemory:
        """Decoder rows `idx`; with beams, whole blocks of a sentence's rows (as beam search drops them)."""
        sent = idx if self.beams == 1 else idx[:: self.beams] // self.beams
        return TransformerMemory(self.mask[sent], [(k[sent], v[sent]) for k, v in self.cross_kv], self.beams)

    def repeat(self, k: int) -> TransformerMemory:
        return TransformerMemory(self.mask, self.cross_kv, self.beams * k)


@dataclass
class TransformerState:
    """Cached self-attention keys/values of the target prefix, per decoder layer.

    The caches are time-major, (T, N, heads, d_k), so that appending a step fills a contiguous
    block. `select` only records which cached row each decoder row continues; the next step
    gathers those rows while copying the cache into its one-longer successor, so reordering
    beams and dropping sentences cost no extra copy.
    """

    self_kv: list[KV]
    step: int
    order: Tensor | None = None

    def select(self, idx: Tensor) -> TransformerState:
        return TransformerState(self.self_kv, self.step, idx if self.order is None else self.order[idx])


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


class TransformerSeq2Seq(nn.Module):
    """Encoder-decoder behind the Seq2Seq interface of model.py."""

    decode_budget = ARCH_DEFAULTS["transformer"].decode_batch_tokens
    adam_betas = ARCH_DEFAULTS["transformer"].adam_betas

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D = cfg.d_model
        self.src_embed = nn.Embedding(cfg.src_vocab_size, D, padding_idx=PAD_ID)
        shared = cfg.tie_embeddings and cfg.joint_vocab
        self.tgt_embed = self.src_embed if shared else nn.Embedding(cfg.vocab_size, D, padding_idx=PAD_ID)
        self.encoder = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.enc_layers)])
        self.decoder = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.dec_layers)])
        self.enc_norm = nn.Identity() if cfg.post_norm else nn.LayerNorm(D)
        self.dec_norm = nn.Identity() if cfg.post_norm else nn.LayerNorm(D)
        self.dropout = Dropout(cfg.dropout)
        self.output = nn.Linear(D, cfg.vocab_size, bias=False)
        self.positions: Tensor
        self.register_buffer("positions", sinusoids(cfg.max_positions, D), persistent=False)
        self._init_weights()
        if cfg.tie_embeddings:
            self.output.weight = self.tgt_embed.weight

    def _init_weights(self) -> None:
        for name, p in self.named_parameters():
            if "embed" in name:
                nn.init.normal_(p, 0.0, self.cfg.d_model**-0.5)
                with torch.no_grad():
                    p[PAD_ID].zero_()
            elif p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _embed(self, embed: nn.Embedding, ids: Tensor, offset: int = 0) -> Tensor:
        length = offset + ids.size(1)
        if length > self.positions.size(0):
            self.positions = sinusoids(2 * length, self.cfg.d_model).to(self.positions.device)
        pos = self.positions[offset:length]
        return self.dropout(embed(ids) * math.sqrt(self.cfg.d_model) + pos)

    def check_attention(self, choice: AttentionChoice) -> None:
        """Refuse a decoder layer or head this model does not have."""
        layers, heads = self.cfg.dec_layers, self.cfg.heads
        if choice.layer is not None and not -layers <= choice.layer < layers:
            raise NMTError(f"--layer {choice.layer} is out of range: the decoder has {layers} layers")
        if choice.head is not None and not 0 <= choice.head < heads:
            raise NMTError(f"--head {choice.head} is out of range: 0 to {heads - 1}")

    def _align_layer(self, choice: AttentionChoice) -> int:
        layer = self.cfg.align_layer if choice.layer is None else choice.layer
        return layer % self.cfg.dec_layers

    @staticmethod
    def _align_weights(weights: Tensor, choice: AttentionChoice) -> Tensor:
        # (N, heads, T, S) -> (N, T, S): mean over heads, or the chosen head
        return weights.mean(1) if choice.head is None else weights[:, choice.head]

    def encode(self, src: Tensor, src_mask: Tensor) -> TransformerMemory:
        x = self._embed(self.src_embed, src)
        mask = src_mask[:, None, None, :]
        for layer in cast(list[EncoderLayer], self.encoder):
            x = layer(x, mask)
        x = self.enc_norm(x)
        return TransformerMemory(
            src_mask, [layer.cross_attn.project_kv(x) for layer in cast(list[DecoderLayer], self.decoder)]
        )

    def init_state(self, memory: TransformerMemory) -> TransformerState:
        n, dev = memory.rows, memory.mask.device
        dtype = memory.cross_kv[0][0].dtype
        empty = torch.zeros(0, n, self.cfg.heads, self.cfg.d_model // self.cfg.heads, device=dev, dtype=dtype)
        return TransformerState([(empty, empty) for _ in self.decoder], 0)

    def decode_step(
        self,
        prev: Tensor,
        memory: TransformerMemory,
        state: TransformerState,
        attention: AttentionChoice = DEFAULT_ATTENTION,
    ) -> tuple[Tensor, TransformerState, Tensor]:
        """prev (N,) -> logits (N, V), state with this step's keys/values cached, attention (N, S)."""
        x = self._embed(self.tgt_embed, prev.unsqueeze(1), offset=state.step)  # (N, 1, D)
        src_mask = memory.mask[:, None, None, :]
        new_kv: list[KV] = []
        attn: Tensor | None = None
        align_layer = self._align_layer(attention)
        for i, layer in enumerate(cast(list[DecoderLayer], self.decoder)):
            need = i == align_layer
            x, kv, weights = layer(
                x, state.self_kv[i], state.order, memory.cross_kv[i], src_mask, need, memory.beams
            )
            new_kv.append(kv)
            if need:
                assert weights is not None
                attn = self._align_weights(weights, attention)[:, 0]
        assert attn is not None
        logits = self.output(self.dec_norm(x)).squeeze(1)
        return logits, TransformerState(new_kv, state.step + 1), attn

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor,
        tgt_in: Tensor,
        need_attention: bool = False,
        attention: AttentionChoice = DEFAULT_ATTENTION,
        project: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits (B, T, V), or with `project=False` the output layer's input
        features (B, T, D); alignment-layer attention (B, T, S) when asked."""
        memory = self.encode(src, src_mask)
        x = self._embed(self.tgt_embed, tgt_in)
        src_mask4 = src_mask[:, None, None, :]
        attn = None
        align_layer = self._align_layer(attention)
        for i, layer in enumerate(cast(list[DecoderLayer], self.decoder)):
            need = need_attention and i == align_layer
            x, _, weights = layer(x, None, None, memory.cross_kv[i], src_mask4, need)
            if weights is not None:
                attn = self._align_weights(weights, attention)
        features = self.dec_norm(x)
        return self.output(features) if project else features, attn
