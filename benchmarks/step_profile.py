"""Where a training update spends its time: a torch.profiler breakdown of `step.train_step`, the
FLOPs it performs, and the share of the CPU's measured matrix-product peak that it reaches.

Used by `python -m benchmarks --profile` and by the training-speed part of `python -m benchmarks`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.in_memory import encode_set
from nmt_cli.accel.native import KERNEL_RANGE
from nmt_cli.data import batching
from nmt_cli.data.batch import Batch, collate
from nmt_cli.data.parallel import read_parallel
from nmt_cli.device import resolve_precision
from nmt_cli.models.checkpoint import load_model
from nmt_cli.training import step
from nmt_cli.training.allocator import keep_freed_memory

MULTI30K = Path(__file__).resolve().parent.parent / "data" / "multi30k" / "train"


@dataclass(frozen=True)
class OpTime:
    name: str  # an aten operator, e.g. aten::mm, or the compiled dropout kernel (KERNEL_RANGE)
    ms_per_update: float  # its own CPU time, children excluded
    share: float  # of all operators' own time
    calls_per_update: float


def multi30k_batches_ids(
    model_dir: Path, count: int, batch_tokens: int = 4096, pairs: int = 6000
) -> list[tuple[list[list[int]], list[list[int]]]]:
    """`count` training batches of Multi30k's first `pairs` pairs in the model's subwords, as
    (source ids, target ids) lists: what `collate` takes."""
    loaded = load_model(model_dir)
    src, tgt = read_parallel(str(MULTI30K), "de", "en")
    data = encode_set(loaded.tokenizer, src[:pairs], tgt[:pairs])
    lengths = np.asarray(data.lengths()) + 1  # what a padded batch pays for, EOS or BOS included
    order = batching.token_batches(np.arange(len(lengths)), lengths, batch_tokens, np.random.default_rng(0))
    order = order[:count]
    return [([list(data.src_ids[j]) for j in idx], [list(data.tgt_ids[j]) for j in idx]) for idx in order]


def multi30k_batches(model_dir: Path, count: int, batch_tokens: int = 4096) -> list[Batch]:
    """The same, collated."""
    return [collate(src, tgt) for src, tgt in multi30k_batches_ids(model_dir, count, batch_tokens)]


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, runs: int = 5) -> float:
    """The best of `runs` square products: what the matrix units reach on this machine."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def update_flops(model: torch.nn.Module, batch: Batch, precision: str) -> int:
    """FLOPs of one update on `batch` (forward and backward), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with FlopCounterMode(display=False) as counter:
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    return int(counter.get_total_flops())


def train_throughput(model_dir: Path, steps: int, warmup: int) -> dict[str, float | str]:
    """Source+target tokens/s of `steps` updates after `warmup`, at the default precision, with
    the allocator setting training uses; and the share of the matrix-product peak reached."""
    keep_freed_memory()
    model = load_model(model_dir).model.train()
    batches = multi30k_batches(model_dir, warmup + steps)
    precision = resolve_precision("auto", torch.device("cpu"))
    opt = step.make_optimizer(model, 1e-4)
    tokens, start = 0, 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            tokens, start = 0, time.perf_counter()
        result = step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
        tokens += result.tokens
    seconds = time.perf_counter() - start
    sample = batches[-1]
    flops_per_token = update_flops(model, sample, precision) / (sample.n_src_tokens + sample.n_tgt_tokens)
    peak = matmul_peak_gflops(torch.bfloat16 if precision == "bf16" else torch.float32)
    achieved = tokens / seconds * flops_per_token / 1e9
    return {
        "tokens_per_s": tokens / seconds,
        "precision": precision,
        "gflops": achieved,
        "peak_gflops": peak,
        "peak_fraction": achieved / peak,
    }


PHASES = ("forward", "output layer + loss", "backward", "optimizer")  # step.train_step's labels

# Operator families, by aten name; the rest is "elementwise and reductions".
CATEGORIES: dict[str, tuple[str, ...]] = {
    "matrix products": ("mm", "addmm", "bmm", "addmv_", "addmv", "baddbmm", "matmul", "linear"),
    "softmax (attention, vocabulary)": ("_softmax", "_softmax_backward_data", "_log_softmax"),
    "casts fp32<->bf16, copies": ("copy_", "_to_copy", "to", "clone", "contiguous"),
    # the compiled kernel's calls, or the same masks in torch's operations
    "dropout masks": (
        KERNEL_RANGE,
        "random_",
        "bitwise_and",
        "bitwise_and_",
        "bitwise_xor_",
        "bitwise_right_shift_",
        "bitwise_right_shift",
    ),
    "layer norm": ("native_layer_norm", "native_layer_norm_backward"),
    "LSTM gates, tanh": ("sigmoid", "sigmoid_", "tanh", "tanh_", "sigmoid_backward", "tanh_backward"),
    "gather, scatter, cat, embedding": (
        "gather",
        "scatter_add_",
        "index_select",
        "embedding_dense_backward",
        "cat",
        "stack",
        "masked_fill_",
        "_pack_padded_sequence",
        "_pad_packed_sequence",
    ),
    "optimizer (fused Adam, clipping)": (
        "_fused_adam_",
        "linalg_vector_norm",
        "_foreach_norm",
        "_foreach_mul_",
    ),
    "allocation": ("empty", "empty_strided", "empty_like", "zeros", "zero_", "fill_", "resize_"),
}


@dataclass(frozen=True)
class UpdateProfile:
    ops: list[OpTime]  # the top operators by own time
    categories: list[OpTime]  # every operator, by family (CATEGORIES)
    phases: list[OpTime]  # forward, output layer + loss, backward, optimizer: wall time, children included
    unprofiled_ms: float  # one update's wall time without the profiler, which slows small operators


def category(op: str) -> str:
    name = op.removeprefix("aten::")
    return next((c for c, names in CATEGORIES.items() if name in names), "elementwise and reductions")


def profile_update(model_dir: Path, steps: int = 4, warmup: int = 3, top: int = 15) -> UpdateProfile:
    """Where `steps` updates spend their time, after `warmup` untimed ones: by phase of
    `step.train_step`, by operator family and by operator (own CPU time, children excluded)."""
    from torch.profiler import ProfilerActivity, profile

    keep_freed_memory()
    model = load_model(model_dir).model.train()
    batches = multi30k_batches(model_dir, warmup + steps)
    precision = resolve_precision("auto", torch.device("cpu"))
    opt = step.make_optimizer(model, 1e-4)
    for batch in batches[:warmup]:
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    start = time.perf_counter()
    for batch in batches[warmup:]:
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    unprofiled = (time.perf_counter() - start) / steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches[warmup:]:
            step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision=precision)
    averages = prof.key_averages()
    events = [e for e in averages if e.key.startswith("aten::") or e.key == KERNEL_RANGE]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: -e.self_cpu_time_total)
    ops = [
        OpTime(e.key, e.self_cpu_time_total / 1e3 / steps, e.self_cpu_time_total / total, e.count / steps)
        for e in events
    ]
    families: dict[str, list[OpTime]] = {}
    for op in ops:
        families.setdefault(category(op.name), []).append(op)
    categories = sorted(
        (
            OpTime(
                name,
                sum(o.ms_per_update for o in members),
                sum(o.share for o in members),
                sum(o.calls_per_update for o in members),
            )
            for name, members in families.items()
        ),
        key=lambda o: -o.ms_per_update,
    )
    labelled = {e.key: e for e in averages if e.key in PHASES}
    wall = sum(e.cpu_time_total for e in labelled.values()) or 1.0
    phases = [
        OpTime(name, e.cpu_time_total / 1e3 / steps, e.cpu_time_total / wall, e.count / steps)
        for name in PHASES
        if (e := labelled.get(name)) is not None
    ]
    return UpdateProfile(ops[:top], categories, phases, unprofiled)
