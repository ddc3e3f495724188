"""Validation during training: teacher-forced loss on the whole validation set and BLEU
(sacreBLEU; Papineni et al., 2002) of greedy or small-beam translations of its fixed subset.

BLEU picks the best weights and drives the plateau schedule and patience. Under torchrun
process 0 validates and the others take its figures, so every process decides alike.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from nmt_cli.config import DecodeConfig
from nmt_cli.data.prepare import Prepared
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.decoding.translate import translate
from nmt_cli.errors import NMTError
from nmt_cli.models.seq2seq import Seq2Seq
from nmt_cli.training import distributed
from nmt_cli.training.autocast import autocast
from nmt_cli.training.loss import shard_loss

MAX_LOG_PPL = 50  # an untrained model's loss would overflow exp()


def validate(
    model: nn.Module,
    tokenizer: Tokenizer,
    data: Prepared,
    device: torch.device,
    precision: str,
    beam: int,
) -> tuple[float, float]:
    """(loss on the whole validation set, BLEU on its fixed subset): greedy (or beam)
    translations scored by sacreBLEU."""
    import sacrebleu

    model.eval()
    loss = shard_loss(model, data.valid, device, precision)
    with autocast(device, precision):
        decode = DecodeConfig(beam_size=beam, batch_size=200)
        out = translate(cast(Seq2Seq, model), tokenizer, data.valid_src, decode, device=device)
    bleu = sacrebleu.corpus_bleu([t.text for t in out], [data.valid_ref]).score
    model.train()
    return loss, bleu


def validate_on_main(
    model: nn.Module, data: Prepared, device: torch.device, precision: str, beam: int
) -> tuple[float, float]:
    """`validate` in process 0, its (loss, BLEU) in every process, so LR and patience agree.
    A loss that is not a number ends the run in every process before anything is saved: the
    weights have diverged, and an untrained run's BLEU of 0 would otherwise be a "new best"."""
    loss, bleu = 0.0, 0.0
    if distributed.is_main():
        loss, bleu = validate(model, data.tokenizer, data, device, precision, beam)
    loss, bleu = distributed.broadcast_floats([loss, bleu])
    if not math.isfinite(loss):
        raise NMTError(
            f"training diverged (validation loss {loss}): nothing of this validation was saved and "
            "model.pt, if any, is the best before it; train again with a lower --lr or more --warmup-steps"
        )
    return loss, bleu


def perplexity(loss: float) -> float:
    """exp(loss), capped so that a diverged or untrained run still reports a number."""
    return math.exp(min(loss, MAX_LOG_PPL))
