"""An ensemble of models is one more model: the log-linear combination of its members, i.e. the
mean of their log-probabilities, renormalised (as in fairseq and Marian ensembles).

It implements the Seq2Seq interface of seq2seq.py over tuples of its members' memories and
states, so greedy, beam, n-best, sampling and alignment drive it without knowing it exists.
Members must share the SentencePiece models, so that one source tensor suits them all and
their output distributions are over the same target vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from nmt_cli.config import DEFAULT_ATTENTION, AttentionChoice, ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.checkpoint import JOINT_SPM, LoadedModel
from nmt_cli.models.seq2seq import Seq2Seq


@dataclass
class EnsembleMemory:
    members: tuple[Any, ...]  # each member's own memory

    def select(self, idx: Tensor) -> EnsembleMemory:
        return EnsembleMemory(tuple(m.select(idx) for m in self.members))

    def repeat(self, k: int) -> EnsembleMemory:
        return EnsembleMemory(tuple(m.repeat(k) for m in self.members))


@dataclass
class EnsembleState:
    members: tuple[Any, ...]  # each member's own decoder state

    def select(self, idx: Tensor) -> EnsembleState:
        return EnsembleState(tuple(s.select(idx) for s in self.members))


def mean_log_probs(logits: Sequence[Tensor]) -> Tensor:
    """The mean over members of log_softmax(logits), in fp32 whatever the members' precision."""
    return torch.stack([torch.log_softmax(x.float(), dim=-1) for x in logits]).mean(dim=0)


class Ensemble(nn.Module):
    """Several Seq2Seq models decoded as one; `decode_step` returns mean log-probabilities,
    which search treats as logits (its log_softmax renormalises them)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise NMTError("an ensemble needs at least one model")
        self.members = nn.ModuleList(members)

    @property
    def models(self) -> list[Seq2Seq]:
        return [cast(Seq2Seq, m) for m in self.members]

    @property
    def cfg(self) -> ModelConfig:
        """The first member's configuration (decoding batch budgets follow its architecture)."""
        return self.models[0].cfg

    @property
    def decode_budget(self) -> int:
        """The smallest of the members' decoding budgets: all of them run on every batch."""
        return min(m.decode_budget for m in self.models)

    @property
    def adam_betas(self) -> tuple[float, float]:
        return self.models[0].adam_betas

    def check_attention(self, choice: AttentionChoice) -> None:
        """The chosen layer and head must exist in every member (their attention is averaged)."""
        for m in self.models:
            m.check_attention(choice)

    def encode(self, src: Tensor, src_mask: Tensor) -> EnsembleMemory:
        return EnsembleMemory(tuple(m.encode(src, src_mask) for m in self.models))

    def init_state(self, memory: EnsembleMemory) -> EnsembleState:
        return EnsembleState(tuple(m.init_state(mem) for m, mem in zip(self.models, memory.members)))

    def decode_step(
        self,
        prev: Tensor,
        memory: EnsembleMemory,
        state: EnsembleState,
        attention: AttentionChoice = DEFAULT_ATTENTION,
    ) -> tuple[Tensor, EnsembleState, Tensor]:
        """prev (N,) -> mean log-probabilities (N, V), next states, mean attention (N, S)."""
        members = zip(self.models, memory.members, state.members)
        steps = [m.decode_step(prev, mem, s, attention) for m, mem, s in members]
        weights = torch.stack([a.float() for _, _, a in steps]).mean(dim=0)
        return (
            mean_log_probs([x for x, _, _ in steps]),
            EnsembleState(tuple(s for _, s, _ in steps)),
            weights,
        )

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor,
        tgt_in: Tensor,
        need_attention: bool = False,
        attention: AttentionChoice = DEFAULT_ATTENTION,
        project: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced mean log-probabilities (B, T, V) and, when asked, mean attention (B, T, S).
        An ensemble has no one output layer, so no features (`project=False`): it is not trained."""
        if not project:
            raise ValueError("an ensemble has no single output layer to fuse with a loss")
        outs = [m(src, src_mask, tgt_in, need_attention, attention) for m in self.models]
        maps = [a.float() for _, a in outs if a is not None]
        weights = torch.stack(maps).mean(dim=0) if need_attention else None
        return mean_log_probs([x for x, _ in outs]), weights


def spm_bytes(loaded: LoadedModel) -> tuple[bytes, bytes]:
    """The source and target SentencePiece models of a model directory, as bytes."""
    files = loaded.config.get("spm", {})
    src = loaded.model_dir / files.get("src", JOINT_SPM)
    tgt = loaded.model_dir / files.get("tgt", JOINT_SPM)
    return src.read_bytes(), tgt.read_bytes()


def combine(models: Sequence[LoadedModel]) -> LoadedModel:
    """One LoadedModel for several: itself if alone, else their Ensemble with the first's
    tokenizer, refused in one line unless all share the first's SentencePiece models."""
    if len(models) == 1:
        return models[0]
    first = spm_bytes(models[0])
    for other in models[1:]:
        mine = spm_bytes(other)
        for side, a, b in (("source", first[0], mine[0]), ("target", first[1], mine[1])):
            if a != b:
                raise NMTError(
                    f"cannot ensemble {models[0].model_dir} and {other.model_dir}: "
                    f"their {side} SentencePiece models differ (an ensemble needs one shared vocabulary)"
                )
    ensemble = Ensemble([m.model for m in models]).eval()
    return LoadedModel(ensemble, models[0].tokenizer, models[0].config, models[0].model_dir)


def load_ensemble(model_dirs: Sequence[str], device: torch.device | str = "cpu") -> LoadedModel:
    """Load the model directories (fp32) and combine them: the library form of `translate -m A -m B`."""
    from nmt_cli.models.checkpoint import load_model

    return combine([load_model(d, device) for d in model_dirs])
