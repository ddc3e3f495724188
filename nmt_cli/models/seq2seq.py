"""The interface both architectures implement, and the one place that picks between them.

Search, training and alignment call only these methods and properties; they never ask which
model they drive. Memory and state objects know how to `select(idx)` their rows, which
reorders beams and drops finished sentences; memory also knows how to `repeat(k)` itself for
k beams per sentence.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from nmt_cli.config import DEFAULT_ATTENTION, AttentionChoice, ModelConfig


class Selectable(Protocol):
    def select(self, idx: Tensor) -> Selectable: ...


class Memory(Protocol):
    def select(self, idx: Tensor) -> Memory: ...

    def repeat(self, k: int) -> Memory:
        """The memory for k consecutive decoder rows per sentence (beam search)."""
        ...


class Seq2Seq(Protocol):
    cfg: ModelConfig
    decode_budget: int  # default source subwords x beam size per decoding batch
    adam_betas: tuple[float, float]  # the optimizer moments this architecture trains with
    output: nn.Linear  # features (.., O) -> logits (.., V)

    def encode(self, src: Tensor, src_mask: Tensor) -> Memory:
        """src (N, S), mask (N, S) -> encoder memory."""
        ...

    def init_state(self, memory: Memory) -> Selectable:
        """The decoder state before the first target token."""
        ...

    def decode_step(
        self,
        prev: Tensor,
        memory: Memory,
        state: Selectable,
        attention: AttentionChoice = DEFAULT_ATTENTION,
    ) -> tuple[Tensor, Selectable, Tensor]:
        """prev (N,) -> logits (N, V), next state, the chosen attention over the source (N, S)."""
        ...

    def check_attention(self, choice: AttentionChoice) -> None:
        """Raise NMTError if this model has no such attention layer or head."""
        ...

    def __call__(
        self,
        src: Tensor,
        src_mask: Tensor,
        tgt_in: Tensor,
        need_attention: bool = False,
        attention: AttentionChoice = DEFAULT_ATTENTION,
        project: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits (N, T, V) or, with `project=False`, the features (N, T, O) that
        `output` turns into them (training fuses that layer with its loss); and, when asked, the
        chosen attention (N, T, S)."""
        ...


def build_model(cfg: ModelConfig) -> nn.Module:
    """The architecture named by `cfg.arch`."""
    if cfg.arch == "rnn":
        from nmt_cli.models.rnn import RNNSeq2Seq

        return RNNSeq2Seq(cfg)
    if cfg.arch == "transformer":
        from nmt_cli.models.transformer import TransformerSeq2Seq

        return TransformerSeq2Seq(cfg)
    raise ValueError(f"unknown architecture: {cfg.arch}")


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
