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
from torch import Tensor, nn

from nmt_cli.config import ARCH_DEFAULTS, DEFAULT_ATTENTION, PAD_ID, AttentionChoice, ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.dropout import Dropout
from nmt_cli.models.transformer_layers import KV, DecoderLayer, EncoderLayer, sinusoids


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


class TransformerSeq2Seq(nn.Module):
    """Encoder-decoder behind the Seq2Seq interface of seq2seq.py."""

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

    def _align_weights(self, weights: Tensor, choice: AttentionChoice) -> Tensor:
        # (N, heads, T, S) -> (N, T, S): the chosen head, else the model's (guided) align head,
        # else the mean over heads
        head = self.cfg.align_head if choice.head is None else choice.head
        return weights.mean(1) if head is None else weights[:, head]

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
