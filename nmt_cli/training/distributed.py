"""Data-parallel training under torchrun (PyTorch DistributedDataParallel): who this process is,
and the few collectives the training loop needs.

Everything that differs between one process and many lives here, so the loop reads the same
for both: with one process every function below is a cheap no-op (`all_reduce_sum` returns its
input, `is_main()` is True). Rank 0 alone prints, writes files and validates; the others learn
its decisions through `broadcast_floats`. Round-robin sharding of a global batch order follows
fairseq's sharded iterators: every rank sees the same order and the same number of updates.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from nmt_cli.config import PAD_ID
from nmt_cli.data.batch import Batch, collate
from nmt_cli.errors import NMTError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among torchrun's workers (one process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1


def world_from_env(env: Mapping[str, str] = os.environ) -> World:
    """Read torchrun's RANK, LOCAL_RANK and WORLD_SIZE; without them, a world of one."""
    if "WORLD_SIZE" not in env:
        return World()
    try:
        world = World(int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0")), int(env["WORLD_SIZE"]))
    except ValueError as e:
        raise NMTError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers ({e})") from e
    if world.size < 1 or not 0 <= world.rank < world.size:
        raise NMTError(f"RANK={world.rank} is not within WORLD_SIZE={world.size}")
    return world


def active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, the one process that prints, writes the model directory and validates."""
    return rank() == 0


def init(device_name: str = "auto", timeout_minutes: float = 30.0) -> torch.device:
    """Join torchrun's process group (once) and return this rank's device.

    NCCL with `cuda:LOCAL_RANK` when CUDA is there and wanted, gloo on CPUs. The timeout bounds
    how long a rank waits in a collective for one that hung: then it fails with an error
    instead of waiting forever. It must exceed rank 0's longest solo work (SentencePiece
    training, a validation with BLEU decoding).
    """
    from nmt_cli.device import resolve_device

    world = world_from_env()
    if world.size == 1:
        return resolve_device(device_name)
    use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
    if device_name.startswith("cuda:"):
        raise NMTError("under torchrun each rank uses cuda:LOCAL_RANK: pass --device cuda or auto")
    if device_name == "cuda" and not use_cuda:
        raise NMTError("--device cuda was asked for, but no CUDA device is available")
    if use_cuda:
        torch.cuda.set_device(world.local_rank)
    global _timeout_s
    _timeout_s = 60 * timeout_minutes
    if not active():
        try:
            dist.init_process_group(
                "nccl" if use_cuda else "gloo", timeout=timedelta(minutes=timeout_minutes)
            )
        except (RuntimeError, ValueError) as e:
            raise NMTError(f"rank {world.rank}: cannot join the other training processes ({e})") from e
    return torch.device("cuda", world.local_rank) if use_cuda else resolve_device("cpu")


def shutdown() -> None:
    if active():
        dist.destroy_process_group()


_timeout_s = 1800.0


def _give_up() -> None:
    """The deadline's end: say so in one line and exit 1 from any thread."""
    sys.stderr.write(
        f"error: rank {rank()}: lost contact with the other training processes; one of them "
        f"stopped or hung (no answer within {_timeout_s / 60:g} min)\n"
    )
    sys.stderr.flush()
    os._exit(1)


@contextlib.contextmanager
def deadline() -> Iterator[None]:
    """Around work that waits for the other ranks: past the timeout, exit with one clear line.

    gloo usually raises when a peer stops answering, but it can also abort the whole process
    from one of its own threads (SIGABRT, a C++ message); this timer fires a little earlier, so
    a hung peer always ends in the same one-line error and exit status 1."""
    if not active():
        yield
        return
    timer = threading.Timer(0.9 * _timeout_s, _give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _collective(fn: Callable[[], T]) -> T:
    """Run a collective, turning a lost or hung peer into one clear error."""
    try:
        with deadline():
            return fn()
    except RuntimeError as e:
        raise lost_peer(e) from e


def lost_peer(e: BaseException) -> NMTError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return NMTError(
        f"rank {rank()}: lost contact with the other training processes; one of them stopped "
        f"or hung ({first[:200]})"
    )


# What gloo, NCCL and c10d say when a peer is gone or silent (gloo raises plain RuntimeErrors).
PEER_FAILURES = ("gloo", "NCCL", "c10d", "Connection closed", "Connection reset", "Timed out", "timeout")


@contextlib.contextmanager
def peers_guard() -> Iterator[None]:
    """Around work that talks to the other ranks inside torch (DDP's gradient all-reduce)."""
    try:
        yield
    except RuntimeError as e:
        if active() and (isinstance(e, dist.DistError) or any(k in str(e) for k in PEER_FAILURES)):
            raise lost_peer(e) from e
        raise


def _tensor_device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def barrier() -> None:
    if active():
        _collective(lambda: dist.barrier())


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Each value summed over all ranks (float64, exact for token counts)."""
    if not active():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=_tensor_device())
    _collective(lambda: dist.all_reduce(t))
    return t.tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when it is True on any (a signal may reach only some of them)."""
    return all_reduce_sum([float(flag)])[0] > 0


def broadcast_floats(values: Sequence[float]) -> list[float]:
    """Rank 0's values on every rank, e.g. the validation results that steer LR and stopping."""
    if not active():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=_tensor_device())
    _collective(lambda: dist.broadcast(t, src=0))
    return t.tolist()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's `obj` (pickled) on every rank, e.g. the settings of the run it resumes."""
    if not active():
        return obj
    box = [obj]
    _collective(lambda: dist.broadcast_object_list(box, src=0))
    return box[0]


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (on every rank), e.g. the random states for last.pt."""
    if not active():
        return [obj]
    out: list[Any] = [None] * size()
    _collective(lambda: dist.all_gather_object(out, obj))
    return out


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (it writes files); the others run it once it is done."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def wrap(model: nn.Module, dev: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` under torchrun; the model itself otherwise.

    The constructor broadcasts rank 0's parameters, so all ranks start identical. Buffers
    (positional encodings) are constants and need no broadcasting at every forward.
    """
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [dev.index] if dev.type == "cuda" else None
    # torch 2.13 renamed broadcast_buffers; older releases only know the old name.
    params = inspect.signature(DistributedDataParallel).parameters
    quiet: dict[str, Any] = {
        "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers": False
    }
    return _collective(lambda: DistributedDataParallel(model, device_ids=ids, **quiet))


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper, for validation and saving (no gradient syncs)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) and active() else model


def no_sync(model: nn.Module, sync: bool) -> contextlib.AbstractContextManager[Any]:
    """Skip DDP's gradient all-reduce on micro-batches before the last of an update."""
    if sync or not active():
        return contextlib.nullcontext()
    return model.no_sync()  # type: ignore[operator]


def share(group: Sequence[T], rank: int, size: int) -> list[T | None]:
    """This rank's micro-batches of one update, dealt round-robin from the global `group`.

    Every rank gets the same number, ceil(len(group) / size); where the group runs short
    (the end of training) a rank gets None, to be run as an `empty_batch`, so that no rank
    waits for another in DDP's all-reduce.
    """
    per_rank = -(-len(group) // size)
    return [group[i * size + rank] if i * size + rank < len(group) else None for i in range(per_rank)]


def empty_batch() -> Batch:
    """A batch without target tokens: its loss is 0 and its gradient zero, yet its backward
    joins DDP's gradient all-reduce like any other (every parameter takes part)."""
    batch = collate([[]], [[]])
    batch.tgt_out.fill_(PAD_ID)
    batch.n_tgt_tokens = 0
    return batch
