"""One optimizer update, the only one there is: training, `python -m benchmarks` and the tests all call
`train_step`, so the benchmark times the real update and the tests train with it.

Adam (Kingma & Ba, 2015) with the architecture's betas, gradient-norm clipping, and either
plateau halving on validation BLEU or linear warmup then inverse square root decay (Vaswani
et al., 2017).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn
from torch.profiler import record_function

from nmt_cli.config import Schedule
from nmt_cli.data.batch import Batch
from nmt_cli.models.seq2seq import Seq2Seq
from nmt_cli.training import distributed
from nmt_cli.training.autocast import autocast
from nmt_cli.training.guided import alignment_loss
from nmt_cli.training.loss import output_loss


@dataclass(frozen=True)
class StepResult:
    loss: float  # label-smoothed cross-entropy per target token (of every process, under torchrun)
    tokens: int  # source + target tokens of the update (every process's), for throughput


NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)  # scale() and step() pass straight through


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam with the betas the model's architecture trains with (`model.adam_betas`), fused: one
    kernel for all parameters, 3x faster than the per-tensor loop on CPUs (22.5 -> 7.7 ms per
    step for the reference Transformer on one thread), about 1-2% of an update."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=cast(Seq2Seq, model).adam_betas, fused=True)


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule, warmup_steps: int) -> Any:
    """Plateau halving on validation BLEU, or linear warmup then inverse square root decay."""
    if schedule == "inverse-sqrt":
        warmup = max(1, warmup_steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, math.sqrt(warmup / (s + 1)))
        )
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=2)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[Batch],
    *,
    label_smoothing: float = 0.1,
    clip_norm: float = 1.0,
    precision: str = "fp32",
    scheduler: Any = None,
    scaler: torch.amp.GradScaler = NO_SCALING,
    alignment_weight: float = 0.0,
) -> StepResult:
    """One update from `batches` (gradient accumulation over all of them): forward, loss,
    backward, clip, optimizer step, then `scheduler.step()` for a per-update schedule.

    The output layer runs fused with the loss (`loss.output_loss`), which also makes its
    gradients. The phases are labelled for `torch.profiler` (`python -m benchmarks --profile`).

    The summed loss is divided by the target tokens of the whole update, counted over every
    process under torchrun (whose `batches` are this process's share), so N processes with
    batch B learn like one with batch N·B, as `--accumulate 2` learns like a batch twice as big.
    Under DDP the gradients are exchanged once, after the last batch. `scaler` is fp16's loss
    scaling. Batches that carry a `guide` add `alignment_weight` times the guided-alignment
    loss of the model's align head (guided.py) to the summed loss; the reported loss stays
    the translation's.
    """
    device = next(model.parameters()).device
    output = cast(Seq2Seq, distributed.unwrap(model)).output
    n_tgt, tokens = distributed.all_reduce_sum(
        [sum(b.n_tgt_tokens for b in batches), sum(b.n_src_tokens + b.n_tgt_tokens for b in batches)]
    )
    total = 0.0
    for i, batch in enumerate(batches):
        batch = batch.to(device)
        with distributed.no_sync(model, sync=i == len(batches) - 1):
            with autocast(device, precision):
                guided = batch.guide is not None and alignment_weight > 0
                with record_function("forward"):
                    features, attn = model(batch.src, batch.src_mask, batch.tgt_in, guided, project=False)
                with record_function("output layer + loss"):
                    loss = output_loss(features, output, batch.tgt_out, label_smoothing)
                    objective = loss
                    if guided and attn is not None and batch.guide is not None:
                        objective = loss + alignment_weight * alignment_loss(attn, batch.guide)
            with record_function("backward"):
                # DDP averages the processes' gradients: times their number makes it their sum.
                scaler.scale(objective * distributed.size() / max(n_tgt, 1)).backward()
        total += float(loss.detach())
    with record_function("optimizer"):
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
    if scheduler is not None:
        scheduler.step()
    (total,) = distributed.all_reduce_sum([total])
    return StepResult(total / max(n_tgt, 1), int(tokens))
