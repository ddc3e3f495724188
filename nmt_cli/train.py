"""The training loop as a plain function: batches in a seeded order, one `train_step` per
update, validation by BLEU every `valid_every` updates (best weights to model.pt), the full
state to last.pt, so that an interrupted or killed run resumes exactly where it stopped.

Under torchrun every process runs this same loop on its share of each update (see
`distributed`): process 0 alone reports, validates and writes, and the others follow its
decisions, so the loop reads the same for one process or many.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn

from nmt_cli import batching, checkpoint, distributed, finetune
from nmt_cli.allocator import keep_freed_memory
from nmt_cli.average import keep_checkpoint
from nmt_cli.cache import copy_atomic
from nmt_cli.config import DataConfig, DecodeConfig, ModelConfig, TrainConfig
from nmt_cli.corpus import check_corpus_files, spm_files
from nmt_cli.data import Batch, Tokenizer
from nmt_cli.errors import NMTError
from nmt_cli.loss import shard_loss
from nmt_cli.model import Seq2Seq, build_model, count_parameters
from nmt_cli.modeldir import LOG, claim, trim_log
from nmt_cli.precision import autocast, grad_scaler, resolve_train_precision
from nmt_cli.prepare import Prepared, prepare_data
from nmt_cli.search import translate
from nmt_cli.shards import ShardSet
from nmt_cli.step import make_optimizer, make_scheduler, train_step

log = logging.getLogger("nmt_cli")


@dataclass
class StepStats:
    step: int
    epoch: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed: float
    best_bleu: float


@dataclass
class Validation:
    step: int
    epoch: int
    loss: float
    ppl: float
    bleu: float
    lr: float
    elapsed: float
    is_best: bool


@dataclass
class TrainResult:
    model_dir: Path
    steps: int
    epochs: int
    best_bleu: float
    stopped_by: str  # "max-steps", "max-epochs", "max-minutes", "patience", "interrupt"
    history: list[Validation] = field(default_factory=list)
    elapsed: float = 0.0
    model: nn.Module | None = None  # the weights after the last update (model.pt holds the best)


class Reporter(Protocol):
    """How training shows progress; the CLI passes a rich one, Python callers may pass none."""

    def preparing(self, stage: str, done: int, total: int) -> None: ...
    def start(self, info: dict[str, Any]) -> None: ...
    def step(self, stats: StepStats) -> None: ...
    def validation(self, v: Validation) -> None: ...
    def stop(self) -> None: ...


class LogReporter:
    """Progress through the `nmt_cli` logger only."""

    def preparing(self, stage: str, done: int, total: int) -> None:
        pass

    def start(self, info: dict[str, Any]) -> None:
        log.info("training: %s", info)

    def step(self, stats: StepStats) -> None:
        pass

    def validation(self, v: Validation) -> None:
        log.info(
            "step %d: valid loss %.3f, BLEU %.2f%s",
            v.step,
            v.loss,
            v.bleu,
            " (best)" if v.is_best else "",
        )

    def stop(self) -> None:
        pass


class SilentReporter(LogReporter):
    """For the processes other than 0 under torchrun: process 0 alone reports."""

    def start(self, info: dict[str, Any]) -> None:
        pass

    def validation(self, v: Validation) -> None:
        pass


def rank_seed(seed: int, rank: int) -> int:
    """Dropout seed of a process: rank 0 keeps the run's seed, the others get their own streams."""
    return seed if rank == 0 else seed + 7919 * rank


def restore_rng(state: dict[str, Any], seed: int) -> None:
    """Each process continues its own random stream; one the saved run did not have (resuming
    on more processes) starts a fresh stream from the seed and the step."""
    states = state.get("rank_rng") or [{"cpu": state["torch_rng"]}]
    rank = distributed.rank()
    if rank < len(states):
        torch.set_rng_state(states[rank]["cpu"])
        if "cuda" in states[rank] and torch.cuda.is_available():
            torch.cuda.set_rng_state(states[rank]["cuda"])
    else:
        torch.manual_seed(rank_seed(seed, rank) + state["progress"]["step"])


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
        out = translate(cast(Seq2Seq, model), tokenizer, data.valid_src, decode, device)
    bleu = sacrebleu.corpus_bleu([t.text for t in out], [data.valid_ref]).score
    model.train()
    return loss, bleu


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step, so state is saved."""

    def __init__(self) -> None:
        self.raised: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signals cannot be caught: leave them alone.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


@dataclass
class Progress:
    """Everything needed to resume: where the loop stands and how validation went."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_bleu: float = -1.0
    bad_validations: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0  # training seconds up to the last save, so budgets span resumes


def prepare(
    model_cfg: ModelConfig, data_cfg: DataConfig, train_cfg: TrainConfig, resume: bool, reporter: Reporter
) -> tuple[nn.Module, Prepared, dict[str, Any] | None]:
    """Prepare the data (or find it prepared) and build (or restore) the model.

    A fresh run copies the SentencePiece model(s) of the preparation into the model directory;
    a resumed run encodes with the copy it already has, so its shards are found again.
    """
    model_dir = Path(train_cfg.output)
    model_dir.mkdir(parents=True, exist_ok=True)
    saved = checkpoint.load_training_state(model_dir) if resume else None
    data_dir = Path(data_cfg.data_dir) if data_cfg.data_dir else model_dir / "data"
    tokenizer_dir = model_dir if saved is not None else None
    if saved is None and train_cfg.init_from and distributed.is_main():
        finetune.copy_tokenizer(train_cfg.init_from, model_dir)  # fine-tuning keeps its vocabulary
    if saved is None and train_cfg.init_from:
        tokenizer_dir = model_dir
    # Process 0 prepares the data (or finds it prepared); the others then find it and map the
    # same shards, which the page cache holds once for all of them.
    with distributed.main_first():
        data = prepare_data(
            data_cfg, data_dir, train_cfg.seed, train_cfg.threads, tokenizer_dir, reporter.preparing
        )
        if data.spm_dir is not None and distributed.is_main():
            for name in sorted(set(spm_files(data_cfg.joint_vocab).values())):
                copy_atomic(data.spm_dir / name, model_dir / name)
    tok = data.tokenizer
    if saved is not None:
        model_cfg = saved.model_cfg
    else:
        model_cfg = replace(
            model_cfg,
            vocab_size=tok.tgt_vocab_size,
            src_vocab_size=tok.src_vocab_size,
            joint_vocab=data_cfg.joint_vocab,
        )
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if distributed.rank() > 0:
        torch.manual_seed(rank_seed(train_cfg.seed, distributed.rank()))
    if saved is not None:
        model.load_state_dict(saved.state["model"])
    elif train_cfg.init_from:
        model.load_state_dict(finetune.weights(train_cfg.init_from))
    return model, data, saved.state if saved is not None else None


def shared_tokenizer(model_dir: Path, joint_vocab: bool) -> Tokenizer:
    """The SentencePiece model(s) process 0 trained into `model_dir`."""
    files = spm_files(joint_vocab)
    if not (model_dir / files["src"]).is_file():
        raise NMTError(
            f"rank {distributed.rank()}: {model_dir / files['src']} not found: under torchrun the "
            "output directory must be on a filesystem every process sees"
        )
    return Tokenizer(model_dir / files["src"], model_dir / files["tgt"])


def batches_from(
    progress: Progress,
    data: ShardSet,
    weights: tuple[float, ...],
    batch_tokens: int,
    seed: int,
    max_epochs: int,
) -> Iterator[np.ndarray]:
    """The global batch order (the same in every process), as index arrays, from where
    `progress` stands on, across epochs, advancing it as batches are taken."""
    lengths = data.lengths()  # 4 bytes a pair: all that batching reads
    while progress.epoch < max_epochs:
        order = batching.epoch_batches(lengths, data.sizes, weights, batch_tokens, seed, progress.epoch)
        for i in range(progress.batch_in_epoch, len(order)):
            progress.batch_in_epoch = i + 1
            yield order[i]
        progress.epoch += 1
        progress.batch_in_epoch = 0


def my_share(group: list[np.ndarray], data: ShardSet) -> list[Batch]:
    """This process's batches of an update's global `group` (all of them in one process); as
    many in every process, an empty batch standing in where the data ran out."""
    return [
        distributed.empty_batch() if idx is None else data.batch(idx)
        for idx in distributed.share(group, distributed.rank(), distributed.size())
    ]


def budget_spent(cfg: TrainConfig, progress: Progress, elapsed: float) -> str | None:
    """Which budget, if any, ends the run now."""
    if cfg.max_steps and progress.step >= cfg.max_steps:
        return "max-steps"
    if cfg.max_minutes and elapsed >= 60 * cfg.max_minutes:
        return "max-minutes"
    if progress.epoch >= cfg.max_epochs:
        return "max-epochs"
    return None


def log_event(model_dir: Path, record: dict[str, Any]) -> None:
    """A line of train.log.jsonl, written by process 0 alone."""
    if distributed.is_main():
        with open(model_dir / LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def train(
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a model into `train_cfg.output`; with `resume`, continue from its last.pt; with
    `train_cfg.init_from`, start from that model directory (see finetune.py).

    Under torchrun (RANK, WORLD_SIZE and LOCAL_RANK set) every process calls this: together
    they train one model with DistributedDataParallel.
    """
    cfg, model_dir = train_cfg, Path(train_cfg.output)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = distributed.init(cfg.device, cfg.dist_timeout)
    if device.type == "cpu":
        keep_freed_memory()
    reporter = (reporter or LogReporter()) if distributed.is_main() else SilentReporter()
    precision = resolve_train_precision(cfg.precision, device)
    if cfg.init_from and not resume:
        model_cfg, data_cfg = finetune.configs(cfg.init_from, model_cfg, data_cfg)
    model, data, state = prepare(model_cfg, data_cfg, cfg, resume, reporter)
    model.to(device).train()
    ddp = distributed.wrap(model, device)  # the model itself in one process
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, cfg.lr_schedule, cfg.warmup_steps)
    per_update = scheduler if cfg.lr_schedule == "inverse-sqrt" else None  # plateau: per validation
    scaler = grad_scaler(device, precision)
    progress = Progress()
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        restore_rng(state, cfg.seed)
        progress = Progress(**state["progress"])
    elif train_cfg.init_from and train_cfg.continue_optimizer:
        finetune.restore_optimizer(train_cfg.init_from, optimizer, scheduler, train_cfg)
    if distributed.is_main():
        trim_log(model_dir / LOG, progress.step)
    n_params = count_parameters(model)
    model_cfg = cast(Seq2Seq, model).cfg
    if distributed.is_main():
        checkpoint.write_config(model_dir, model_cfg, data_cfg, cfg, {"parameters": n_params})
    reporter.start(
        {
            "arch": model_cfg.arch,
            "parameters": n_params,
            "device": str(device),
            "precision": precision,
            "train_pairs": len(data.train),
            "skipped_empty": sum(c.skipped_empty for c in data.corpora),
            "dropped_long": sum(c.dropped_long for c in data.corpora),
            "valid": data.valid_source,
            "valid_pairs": len(data.valid),
            "prepared": data,
            "vocab_size": model_cfg.vocab_size,
            "resumed_at_step": progress.step if state else None,
            "processes": distributed.size(),
        }
    )
    started = time.monotonic() - progress.elapsed  # budgets count the time of earlier runs

    def lr() -> float:
        return float(optimizer.param_groups[0]["lr"])

    def clock() -> float:
        """Training seconds by process 0's clock, so that every process stops alike."""
        return distributed.broadcast_floats([time.monotonic() - started])[0]

    def save() -> None:
        progress.elapsed = time.monotonic() - started
        rngs = distributed.gather_objects(checkpoint.rng_state())  # every process's, in rank order
        if distributed.is_main():
            path = model_dir / checkpoint.STATE
            checkpoint.save_training_state(path, model, optimizer, scheduler, scaler, asdict(progress), rngs)

    def validate_and_save() -> None:
        """Process 0 validates; every process takes its loss and BLEU, so LR and patience agree."""
        loss, bleu = 0.0, 0.0
        if distributed.is_main():
            loss, bleu = validate(model, data.tokenizer, data, device, precision, cfg.valid_beam)
        loss, bleu = distributed.broadcast_floats([loss, bleu])
        is_best = bleu > progress.best_bleu
        if is_best:
            progress.best_bleu, progress.bad_validations = bleu, 0
            if distributed.is_main():
                checkpoint.save_weights(model_dir / checkpoint.WEIGHTS, model, model_cfg)
        else:
            progress.bad_validations += 1
        if distributed.is_main():
            keep_checkpoint(model_dir, model, model_cfg, progress.step, cfg.keep_checkpoints)
        if cfg.lr_schedule == "plateau":
            scheduler.step(bleu)
        ppl = math.exp(min(loss, 50))
        v = Validation(
            progress.step, progress.epoch, loss, ppl, bleu, lr(), time.monotonic() - started, is_best
        )
        progress.history.append(asdict(v))
        log_event(model_dir, {"event": "valid", **asdict(v)})
        reporter.validation(v)
        save()

    batches = batches_from(
        progress, data.train, data.weights, data_cfg.batch_tokens, cfg.seed, cfg.max_epochs
    )
    window_tokens, window_start = 0, time.monotonic()
    last_valid = progress.step if progress.history else -1
    stopped_by = budget_spent(cfg, progress, clock())
    with StopFlag() as flag, distributed.peers_guard():
        while stopped_by is None:
            group = list(islice(batches, cfg.accumulate * distributed.size()))
            if not group:
                stopped_by = "max-epochs"
                break
            step = train_step(
                ddp,
                optimizer,
                my_share(group, data.train),
                cfg.label_smoothing,
                cfg.clip_norm,
                precision,
                per_update,
                scaler,
            )
            progress.step += 1
            window_tokens += step.tokens
            if progress.step % cfg.log_every == 0 or progress.step == 1:
                rate = window_tokens / max(time.monotonic() - window_start, 1e-9)
                elapsed = time.monotonic() - started
                step_stats = StepStats(
                    progress.step, progress.epoch, step.loss, lr(), rate, elapsed, progress.best_bleu
                )
                reporter.step(step_stats)
                if progress.step % cfg.log_every == 0:
                    log_event(model_dir, {"event": "step", **asdict(step_stats)})
                window_tokens, window_start = 0, time.monotonic()
            if distributed.any_rank(flag.raised is not None):  # a signal may reach only some
                stopped_by = "interrupt"
                break
            if progress.step % cfg.valid_every == 0:
                validate_and_save()
                last_valid = progress.step
                if progress.bad_validations >= cfg.patience:
                    stopped_by = "patience"
                    break
            stopped_by = budget_spent(cfg, progress, clock())
        if stopped_by != "interrupt" and last_valid != progress.step and progress.step > 0:
            validate_and_save()
        if stopped_by == "interrupt":
            save()
    reporter.stop()
    missing = distributed.is_main() and not (model_dir / checkpoint.WEIGHTS).is_file()
    if stopped_by != "interrupt" and missing:
        raise NMTError("training stopped before its first validation: no model.pt was written")
    history = [Validation(**h) for h in progress.history]
    elapsed = time.monotonic() - started
    return TrainResult(
        model_dir, progress.step, progress.epoch, progress.best_bleu, stopped_by, history, elapsed, model
    )


def train_or_resume(
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    reporter: Reporter | None = None,
    overwrite: bool = False,
    given: Collection[str] | None = None,
) -> TrainResult:
    """What `nmt train` does: resume the run the output directory holds, if any, else start one.

    The directory is locked while training and only nmt's own files are touched (modeldir.py);
    `overwrite` removes them to start afresh. On resume, the settings named in `given` (the
    options the user typed; None: all) must match the stored run's, the others are taken from it.
    Under torchrun process 0 claims the directory and the others take its decision.
    """
    check_corpus_files(data_cfg)
    requested: dict[str, Any] = {"model": model_cfg, "data": data_cfg, "train": train_cfg}
    distributed.init(train_cfg.device, train_cfg.dist_timeout)
    if not distributed.is_main():
        resumed = distributed.broadcast_object(None)
        cfgs = resumed or requested
        return train(cfgs["model"], cfgs["data"], cfgs["train"], reporter, resume=resumed is not None)
    with claim(Path(train_cfg.output), overwrite, requested, given) as resumed:
        distributed.broadcast_object(resumed)
        cfgs = resumed or requested
        return train(cfgs["model"], cfgs["data"], cfgs["train"], reporter, resume=resumed is not None)
