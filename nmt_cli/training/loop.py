"""The training loop as a plain function: batches in a seeded order, one `train_step` per
update, validation by BLEU every `valid_every` updates (best weights to model.pt), the full
state to last.pt, so that an interrupted or killed run resumes exactly where it stopped.

Under torchrun every process runs this same loop on its share of each update (see
`distributed`): process 0 alone reports, validates and writes, and the others follow its
decisions, so the loop reads the same for one process or many. How a run starts is in
startup.py, validation in validation.py, what it reports in report.py.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.data import batching
from nmt_cli.data.batch import Batch
from nmt_cli.data.corpus import check_corpus_files
from nmt_cli.data.shards import ShardSet
from nmt_cli.errors import NMTError
from nmt_cli.models import checkpoint
from nmt_cli.models.average import keep_checkpoint
from nmt_cli.models.seq2seq import Seq2Seq, count_parameters
from nmt_cli.training import distributed, finetune, run_state
from nmt_cli.training.allocator import keep_freed_memory
from nmt_cli.training.autocast import grad_scaler, resolve_train_precision
from nmt_cli.training.guided import guided_shards
from nmt_cli.training.report import (
    LogReporter,
    Reporter,
    SilentReporter,
    StepStats,
    Validation,
    log_event,
    start_info,
)
from nmt_cli.training.rundir import LOG, claim, trim_log
from nmt_cli.training.startup import Progress, prepare, restore
from nmt_cli.training.step import make_optimizer, make_scheduler, train_step
from nmt_cli.training.stopping import StopFlag, budget_spent
from nmt_cli.training.validation import perplexity, validate_on_main


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


def train(
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    reporter: Reporter | None = None,
    resume: bool = False,
    device: torch.device | None = None,
) -> TrainResult:
    """Train a model into `train_cfg.output`; with `resume`, continue from its last.pt; with
    `train_cfg.init_from`, start from that model directory (see finetune.py).

    Under torchrun (RANK, WORLD_SIZE and LOCAL_RANK set) every process calls this: together
    they train one model with DistributedDataParallel. `device`: the one `distributed.init`
    gave a caller that joined the processes already (train_or_resume), else joined here.
    """
    cfg, model_dir = train_cfg, Path(train_cfg.output)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if device is None:
        device = distributed.init(cfg.device, cfg.dist_timeout)
    if device.type == "cpu":
        keep_freed_memory()
    reporter = (reporter or LogReporter()) if distributed.is_main() else SilentReporter()
    precision = resolve_train_precision(cfg.precision, device)
    start = finetune.SCRATCH
    if not resume:  # fine-tuning and --vocab-from, resolved once
        model_cfg, data_cfg, start = finetune.resolve(model_cfg, data_cfg, cfg)
    model, data, state = prepare(model_cfg, data_cfg, cfg, resume, reporter, start)
    data_dir = Path(data_cfg.data_dir) if data_cfg.data_dir else model_dir / "data"
    with distributed.main_first():  # process 0 aligns the corpus, the others find it cached
        data.train = guided_shards(
            data.train, data.tokenizer, data_dir, cfg.guided_alignment, model_cfg.align_shift
        )
    model.to(device).train()
    ddp = distributed.wrap(model, device)  # the model itself in one process
    optimizer = make_optimizer(model, cfg.lr)
    scheduler = make_scheduler(optimizer, cfg.lr_schedule, cfg.warmup_steps)
    per_update = scheduler if cfg.lr_schedule == "inverse-sqrt" else None  # plateau: per validation
    scaler = grad_scaler(device, precision)
    progress = Progress()
    if state is not None:
        progress = restore(state, optimizer, scheduler, scaler, cfg.seed)
    elif start.optimizer_from is not None:
        finetune.restore_optimizer(start.optimizer_from, optimizer, scheduler)
    if distributed.is_main():
        trim_log(model_dir / LOG, progress.step)
    n_params = count_parameters(model)
    model_cfg = cast(Seq2Seq, model).cfg
    if distributed.is_main():
        run_state.write_config(model_dir, model_cfg, data_cfg, cfg, {"parameters": n_params})
    resumed_at = progress.step if state else None
    info = start_info(
        model_cfg.arch, n_params, vocab_size=model_cfg.vocab_size, device=str(device),
        precision=precision, data=data, resumed_at_step=resumed_at,
    )  # fmt: skip
    reporter.start(info)
    started = time.monotonic() - progress.elapsed  # budgets count the time of earlier runs

    def lr() -> float:
        return float(optimizer.param_groups[0]["lr"])

    def clock() -> float:
        """Training seconds by process 0's clock, so that every process stops alike."""
        return distributed.broadcast_floats([time.monotonic() - started])[0]

    def save() -> None:
        progress.elapsed = time.monotonic() - started
        rngs = distributed.gather_objects(run_state.rng_state())  # every process's, in rank order
        if distributed.is_main():
            path = model_dir / checkpoint.STATE
            run_state.save_training_state(
                path, model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                progress=asdict(progress), rngs=rngs,
            )  # fmt: skip

    def validate_and_save() -> None:
        """Validate; keep the best weights, count validations without progress for patience."""
        loss, bleu = validate_on_main(model, data, device, precision, cfg.valid_beam)
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
        v = Validation(
            progress.step,
            progress.epoch,
            loss,
            perplexity(loss),
            bleu,
            lr(),
            time.monotonic() - started,
            is_best,
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
            with distributed.deadline():  # its gradient all-reduce waits for the other ranks
                step = train_step(
                    ddp,
                    optimizer,
                    my_share(group, data.train),
                    label_smoothing=cfg.label_smoothing,
                    clip_norm=cfg.clip_norm,
                    precision=precision,
                    scheduler=per_update,
                    scaler=scaler,
                    alignment_weight=cfg.alignment_weight,
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

    The directory is locked while training and only nmt's own files are touched (rundir.py);
    `overwrite` removes them to start afresh. On resume, the settings named in `given` (the
    options the user typed; None: all) must match the stored run's, the others are taken from it.
    Under torchrun process 0 claims the directory and the others take its decision.
    """
    check_corpus_files(data_cfg)
    requested: dict[str, Any] = {"model": model_cfg, "data": data_cfg, "train": train_cfg}
    device = distributed.init(train_cfg.device, train_cfg.dist_timeout)

    def run(resumed: dict[str, Any] | None) -> TrainResult:
        cfgs = resumed or requested
        return train(cfgs["model"], cfgs["data"], cfgs["train"], reporter, resumed is not None, device)

    if not distributed.is_main():
        return run(distributed.broadcast_object(None))
    with claim(Path(train_cfg.output), overwrite, requested, given) as resumed:
        distributed.broadcast_object(resumed)
        return run(resumed)
