"""How fast a training update could be if only its matrix products took time (#16).

One update of a reference model is run under a dispatch mode that records every matrix
product it makes (forward and backward: `mm`, `addmm`, `bmm`, ... with their shapes, strides and
dtypes). Those products are then replayed alone, on operands of the same layout, in a timed loop:
their sum is the update's *product floor*, what the update would take if everything else (casts,
elementwise work, dropout, the optimizer, Python) cost nothing and the products kept their
shapes. Beside it: the update's own time over the same batches, its FLOPs at the square-product
peak measured on the same cores, and the tokens/s each of those would give.

Given an older commit's tokens/s measured in the same session (`scripts/ab_train_speed.py`),
`old tokens/s × floor speed-up` bounds what any change that keeps the model's arithmetic can reach.

    .venv/bin/python scripts/product_floor.py --arch rnn --steps 10

Not part of `nmt`: a maintainer's tool for deciding what is worth making faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import torch
from ab_train_speed import SIZES
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.step_profile import matmul_peak_gflops, multi30k_batches_ids, update_flops
from nmt_cli.config import Arch, model_config
from nmt_cli.data.batch import Batch, collate
from nmt_cli.device import resolve_precision
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import step
from nmt_cli.training.allocator import keep_freed_memory

ROOT = Path(__file__).resolve().parent.parent
aten = torch.ops.aten
PRODUCTS = {
    aten.mm,
    aten.addmm,
    aten.bmm,
    aten.baddbmm,
    aten.addbmm,
    aten.mv,
    aten.addmv,
    aten.addmv_,
    aten.dot,
}
Spec = tuple[Any, ...]  # ("tensor", size, stride, dtype) or a plain value


def _spec(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.stride(), value.dtype)
    return value


class RecordProducts(TorchDispatchMode):
    """Records each matrix product as (operator, argument specs, keyword specs) and runs it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func.overloadpacket in PRODUCTS:
            self.calls.append((func, tuple(_spec(a) for a in args), {k: _spec(v) for k, v in kwargs.items()}))
        return func(*args, **kwargs)


def _flops(func: Any, args: tuple[Any, ...]) -> int:
    """2·M·N·K of one recorded product (its last two tensor operands)."""
    tensors = [a for a in args if isinstance(a, tuple) and a and a[0] == "tensor"]
    a, b = tensors[-2][1], tensors[-1][1]
    if len(a) == 1:  # dot product
        return 2 * a[0]
    batch = a[0] if len(a) == 3 else 1
    if len(b) == 1:  # matrix-vector
        return 2 * a[-2] * a[-1] * batch
    return 2 * batch * a[-2] * a[-1] * b[-1]


class Replay:
    """The recorded products on operands of the recorded layouts (one buffer per layout)."""

    def __init__(self, calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> None:
        self.buffers: dict[Spec, torch.Tensor] = {}
        self.calls = [
            (func, tuple(self._make(a) for a in args), {k: self._make(v) for k, v in kwargs.items()})
            for func, args, kwargs in calls
        ]

    def _make(self, spec: Any) -> Any:
        if not (isinstance(spec, tuple) and spec and spec[0] == "tensor"):
            return spec
        if spec not in self.buffers:
            _, size, stride, dtype = spec
            buffer = torch.empty_strided(size, stride, dtype=dtype)
            buffer.copy_(torch.randn(size) * 0.1)
            self.buffers[spec] = buffer
        return self.buffers[spec]

    def run(self) -> float:
        start = time.perf_counter()
        for func, args, kwargs in self.calls:
            func(*args, **kwargs)
        return time.perf_counter() - start


def record(
    model: torch.nn.Module, batch: Batch, precision: str
) -> list[tuple[Any, tuple[Any, ...], dict[str, Any]]]:
    """The products of one more update of `model` on `batch` (a real one, with a fresh Adam: the
    weights move, which changes nothing that is timed)."""
    opt = step.make_optimizer(model, 1e-4)
    with RecordProducts() as recorder:
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    return recorder.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=sorted(SIZES), required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    keep_freed_memory()
    ids = multi30k_batches_ids(ROOT / "models" / "de-en", args.warmup + args.steps, pairs=29000)
    batches = [collate(src, tgt) for src, tgt in ids]
    model = build_model(model_config(cast(Arch, args.arch), **cast(dict[str, Any], SIZES[args.arch]))).train()
    precision = resolve_precision("auto", torch.device("cpu"))
    opt = step.make_optimizer(model, 1e-4)

    update_s, floor_s, flops, tokens = [], [], [], []
    by_operator: Counter[str] = Counter()
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
        elapsed = time.perf_counter() - start
        if i < args.warmup:
            continue
        calls = record(model, batch, precision)
        replay = Replay(calls)
        replay.run()
        floor_s.append(min(replay.run() for _ in range(3)))
        update_s.append(elapsed)
        flops.append(update_flops(model, batch, precision))
        tokens.append(batch.n_src_tokens + batch.n_tgt_tokens)
        for func, call_args, _ in calls:
            by_operator[str(func.overloadpacket.__name__)] += _flops(func, call_args)
    peak = matmul_peak_gflops(torch.bfloat16 if precision == "bf16" else torch.float32)
    n, tok = len(update_s), sum(tokens)
    update, floor, ideal = sum(update_s), sum(floor_s), sum(flops) / (peak * 1e9)
    print(f"{args.arch}, {precision}, {args.threads} threads, {n} updates, peak {peak:.0f} GFLOP/s")
    print(f"  update:                {1000 * update / n:7.1f} ms  {tok / update:8,.0f} src+tgt tok/s")
    print(
        f"  products replayed:     {1000 * floor / n:7.1f} ms  {tok / floor:8,.0f} tok/s"
        f"  ({100 * floor / update:.0f}% of the update; ceiling {update / floor:.2f}x)"
    )
    print(
        f"  FLOPs at square peak:  {1000 * ideal / n:7.1f} ms  {tok / ideal:8,.0f} tok/s"
        f"  (ceiling {update / ideal:.2f}x)"
    )
    recorded = sum(by_operator.values())
    shares = ", ".join(f"{k} {100 * v / recorded:.0f}%" for k, v in by_operator.most_common())
    print(
        f"  recorded product FLOPs {recorded / n / 1e9:.1f} G per update; flop counter "
        f"{sum(flops) / n / 1e9:.1f} G; by operator: {shares}"
    )
    median_update, median_floor = statistics.median(update_s), statistics.median(floor_s)
    print(f"  (median update {1000 * median_update:.1f} ms, median floor {1000 * median_floor:.1f} ms)")


if __name__ == "__main__":
    main()
