"""What parts of a training update cost, timed rather than profiled (#16).

Each part is swapped, in one process, for a stand-in that costs almost nothing, and every batch
is updated twice, once with the part and once with the stand-in, in alternating order, so that
the machine's drift falls on both alike. A part's cost is the time the swap saves. This exists
because torch.profiler's shares overstate operators that run on both threads (see README,
"Training speed: where an update's time goes"). The stand-ins change what is computed, so the
model trains differently while they are in: the figures are for time only.

    .venv/bin/python scripts/part_costs.py --arch transformer --part dropout --steps 20

Not part of `nmt`: a maintainer's tool for deciding what is worth making faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch
from ab_train_speed import SIZES
from torch import Tensor

from benchmarks.step_profile import multi30k_batches_ids
from nmt_cli.accel import dropout as masks
from nmt_cli.accel import ops
from nmt_cli.config import PAD_ID, Arch, model_config
from nmt_cli.data.batch import collate
from nmt_cli.device import resolve_precision
from nmt_cli.models import attention, transformer_layers
from nmt_cli.models import dropout as dropout_module
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import loss, step
from nmt_cli.training.allocator import keep_freed_memory

ROOT = Path(__file__).resolve().parent.parent
Swap = Callable[[bool], None]  # True: the stand-in; False: the real part


def _no_dropout() -> Swap:
    """Every dropout (masks and products) is the identity."""
    real, real_tf = dropout_module.dropout, transformer_layers.dropout

    def identity(x: Tensor, p: float, training: bool) -> Tensor:
        return x

    def swap(on: bool) -> None:
        dropout_module.dropout = identity if on else real
        transformer_layers.dropout = identity if on else real_tf

    return swap


def _pooled_random_numbers() -> Swap:
    """Dropout masks by torch's operations (as without the compiled kernel), from random words
    copied out of a pre-drawn pool: the cost of making them with torch's integer operations."""
    real = masks.splitmix_words
    pool = real(1, 1 << 24, torch.device("cpu"))
    no_kernel = replace(ops.compiled(), dropout=False)

    def pooled(key: int, count: int, device: torch.device) -> Tensor:
        return pool[:count].clone() if count <= pool.numel() else real(key, count, device)

    def swap(on: bool) -> None:
        # both sides take torch's operations; the script ends after measuring
        ops.compiled = lambda: no_kernel  # the seam decides on this
        masks.splitmix_words = pooled if on else real

    return swap


def _dot_for_additive() -> Swap:
    """Additive attention's tanh(keys + W2 query) · v over every source position becomes a dot
    product of the keys with W2 query: the same projections, none of the elementwise work."""
    real = attention.AdditiveScore.forward

    def dot(self: attention.AdditiveScore, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, self.W2(query).unsqueeze(2)).squeeze(2)

    def swap(on: bool) -> None:
        attention.AdditiveScore.forward = dot if on else real  # type: ignore[method-assign]

    return swap


def _torch_for(kernel: str) -> Callable[[], Swap]:
    """One compiled kernel (`dropout` or `energies`) replaced by torch's operations, as
    where it was not built; the stand-in is the kernel (accel/ops.py), so the cost is the time
    the kernel saves. Both compute the same function (dropout: the same numbers; the
    energies: the same up to rounding)."""

    def make() -> Swap:
        real = ops.compiled()
        no_kernel = replace(real, **{kernel: False})

        def swap(on: bool) -> None:
            ops.compiled = lambda: real if on else no_kernel

        return swap

    return make


def _relu_dropout_apart() -> Swap:
    """The feed-forward layers' relu and dropout as two operations, as before they were fused;
    the stand-in is the fused pass (`dropout.relu_dropout`), so the cost is what fusing saves.
    Both give the same numbers."""
    from nmt_cli.accel import ops

    fused = ops.relu_dropout

    def apart(x: Tensor, p: float, training: bool) -> Tensor:
        return ops.dropout(torch.relu(x), p, training)

    def swap(on: bool) -> None:
        ops.relu_dropout = fused if on else apart

    return swap


def _loss_on_padding() -> Swap:
    """The output layer and loss over every target position, padding included, as before they
    skipped padding; the stand-in is `loss.output_loss`, so the cost is what skipping saves.
    Both give the same loss and gradients, up to the order of fp32 sums."""
    skipping = step.output_loss

    def every_row(hidden: Tensor, output: torch.nn.Linear, target: Tensor, smoothing: float) -> Tensor:
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else output.weight.dtype
        flat = hidden.reshape(-1, hidden.size(-1))
        fused = loss._LinearSmoothedCrossEntropy.apply
        return fused(flat, output.weight, output.bias, target.reshape(-1), smoothing, PAD_ID, dtype)

    def swap(on: bool) -> None:
        step.output_loss = skipping if on else every_row

    return swap


PARTS: dict[str, Callable[[], Swap]] = {
    "loss-on-padding": _loss_on_padding,
    "torch-dropout-ops": _torch_for("dropout"),
    "torch-energies-ops": _torch_for("energies"),
    "relu-dropout-apart": _relu_dropout_apart,
    "dropout": _no_dropout,
    "random-numbers": _pooled_random_numbers,
    "additive-attention": _dot_for_additive,
}


def measure(arch: str, part: str, steps: int, warmup: int, threads: int) -> tuple[list[float], list[float]]:
    """(ms per update with the part, ms with its stand-in), batch by batch, over the same batches."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    keep_freed_memory()
    ids = multi30k_batches_ids(ROOT / "models" / "de-en", warmup + steps, pairs=29000)
    batches = [collate(src, tgt) for src, tgt in ids]
    sizes = cast(dict[str, Any], SIZES[arch])
    model = build_model(model_config(cast(Arch, arch), **sizes)).train()
    opt = step.make_optimizer(model, 1e-4)
    precision = resolve_precision("auto", torch.device("cpu"))
    swap = PARTS[part]()
    times: dict[bool, list[float]] = {False: [], True: []}
    for i, batch in enumerate(batches):
        for stand_in in (False, True) if i % 2 else (True, False):
            swap(stand_in)
            start = time.perf_counter()
            step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
            if i >= warmup:
                times[stand_in].append(time.perf_counter() - start)
    swap(False)
    return [1000 * t for t in times[False]], [1000 * t for t in times[True]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=sorted(SIZES), required=True)
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with_part, without = measure(args.arch, args.part, args.steps, args.warmup, args.threads)
    mean_with, mean_without = statistics.fmean(with_part), statistics.fmean(without)
    saved = mean_with - mean_without
    # each batch is updated both ways back to back: their differences are paired
    paired = [a - b for a, b in zip(with_part, without, strict=True)]
    wins = sum(d > 0 for d in paired)
    print(
        f"{args.arch} {args.part}: {mean_with:.1f} ms per update with it, {mean_without:.1f} without; "
        f"it costs {saved:.1f} ms ({100 * saved / mean_with:.1f}%); paired difference median "
        f"{statistics.median(paired):.1f} ms, the stand-in faster on {wins} of {len(paired)} batches"
    )


if __name__ == "__main__":
    main()
