"""Training as plain functions: teacher forcing with label-smoothed cross-entropy, Adam,
gradient clipping, a learning-rate schedule, validation by BLEU, checkpoints, resumption.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn

from nmt_cli import checkpoint
from nmt_cli.config import PAD_ID, DataConfig, DecodeConfig, ModelConfig, TrainConfig
from nmt_cli.corpus import CorpusStats, ParallelSet, load_corpora, spm_files
from nmt_cli.data import Batch, Tokenizer, collate, token_batches
from nmt_cli.errors import NMTError
from nmt_cli.model import Seq2Seq, build_model, count_parameters
from nmt_cli.precision import autocast, resolve_device, resolve_precision
from nmt_cli.search import translate

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


class Reporter(Protocol):
    """How training shows progress; the CLI passes a rich one, Python callers may pass none."""

    def start(self, info: dict[str, Any]) -> None: ...
    def step(self, stats: StepStats) -> None: ...
    def validation(self, v: Validation) -> None: ...
    def stop(self) -> None: ...


class LogReporter:
    """Progress through the `nmt_cli` logger only."""

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


def loss_fn(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over real target tokens."""
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        target.reshape(-1),
        ignore_index=PAD_ID,
        label_smoothing=smoothing,
        reduction="sum",
    )


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """Plateau halving on validation BLEU, or linear warmup then inverse square root decay."""
    if cfg.lr_schedule == "inverse-sqrt":
        warmup = max(1, cfg.warmup_steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, math.sqrt(warmup / (s + 1)))
        )
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=2)


def epoch_batches(data: ParallelSet, batch_tokens: int, seed: int, epoch: int) -> list[list[int]]:
    """Deterministic per (seed, epoch), so a resumed run replays the same order."""
    return token_batches(data.lengths(), batch_tokens, random.Random(seed * 100003 + epoch))


def to_device(batch: Batch, device: torch.device) -> Batch:
    return Batch(
        batch.src.to(device),
        batch.src_mask.to(device),
        batch.tgt_in.to(device),
        batch.tgt_out.to(device),
        batch.n_src_tokens,
        batch.n_tgt_tokens,
    )


@torch.no_grad()
def validation_loss(model: nn.Module, data: ParallelSet, device: torch.device, precision: str) -> float:
    """Per-token cross-entropy (no smoothing) of the validation set under teacher forcing."""
    total, tokens = 0.0, 0
    for idx in token_batches(data.lengths(), 4096):
        batch = to_device(collate([data.src_ids[i] for i in idx], [data.tgt_ids[i] for i in idx]), device)
        with autocast(device, precision):
            logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
        total += float(loss_fn(logits, batch.tgt_out, 0.0))
        tokens += batch.n_tgt_tokens
    return total / max(tokens, 1)


def validate(
    model: nn.Module,
    tokenizer: Tokenizer,
    data: ParallelSet,
    device: torch.device,
    precision: str,
    beam: int,
) -> tuple[float, float]:
    """(loss, BLEU) on the validation set; BLEU of greedy (or beam) translations by sacreBLEU."""
    import sacrebleu

    model.eval()
    loss = validation_loss(model, data, device, precision)
    with autocast(device, precision):
        decode = DecodeConfig(beam_size=beam, batch_size=200)
        out = translate(cast(Seq2Seq, model), tokenizer, data.src_lines, decode, device)
    bleu = sacrebleu.corpus_bleu([t.text for t in out], [data.tgt_lines]).score
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


def save_state(path: Path, model: nn.Module, optimizer: Any, scheduler: Any, progress: Progress) -> None:
    checkpoint.save_torch(
        path,
        {
            "format_version": checkpoint.FORMAT_VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "progress": asdict(progress),
        },
    )


def write_config(
    model_dir: Path,
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    extra: dict[str, Any],
) -> None:
    checkpoint.save_json(
        model_dir / checkpoint.CONFIG,
        {
            "format_version": checkpoint.FORMAT_VERSION,
            "src_lang": data_cfg.src_lang,
            "tgt_lang": data_cfg.tgt_lang,
            "model": model_cfg.to_dict(),
            "data": asdict(data_cfg),
            "train": asdict(train_cfg),
            "spm": spm_files(model_dir, data_cfg.joint_vocab),
            "special_ids": checkpoint.special_ids(),
            "versions": checkpoint.library_versions(),
            **extra,
        },
    )


def prepare(
    model_cfg: ModelConfig, data_cfg: DataConfig, train_cfg: TrainConfig, resume: bool
) -> tuple[nn.Module, Tokenizer, ParallelSet, ParallelSet, CorpusStats, ModelConfig, dict[str, Any] | None]:
    """Load data and build (or restore) the model for a fresh or resumed run."""
    model_dir = Path(train_cfg.output)
    model_dir.mkdir(parents=True, exist_ok=True)
    state = None
    tokenizer = None
    if resume:
        state = checkpoint.safe_load(model_dir / checkpoint.STATE)
        saved = json.loads((model_dir / checkpoint.CONFIG).read_text(encoding="utf-8"))
        model_cfg = ModelConfig.from_dict(saved["model"])
        files = saved["spm"]
        tokenizer = Tokenizer(model_dir / files["src"], model_dir / files["tgt"])
    train, valid, tok, stats = load_corpora(data_cfg, model_dir, train_cfg.seed, tokenizer)
    if not resume:
        model_cfg = ModelConfig(
            **{
                **model_cfg.to_dict(),
                "vocab_size": tok.tgt_vocab_size,
                "src_vocab_size": tok.src_vocab_size,
                "joint_vocab": data_cfg.joint_vocab,
            }
        )
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if state is not None:
        model.load_state_dict(state["model"])
    return model, tok, train, valid, stats, model_cfg, state


def train(
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a model into `train_cfg.output`; with `resume`, continue from its last.pt."""
    reporter = reporter or LogReporter()
    if train_cfg.threads > 0:
        torch.set_num_threads(train_cfg.threads)
    device = resolve_device(train_cfg.device)
    precision = resolve_precision(train_cfg.precision, device)
    model, tok, train_set, valid_set, stats, model_cfg, state = prepare(
        model_cfg, data_cfg, train_cfg, resume
    )
    model.to(device).train()
    model_dir = Path(train_cfg.output)
    betas = (0.9, 0.98) if model_cfg.arch == "transformer" else (0.9, 0.999)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr, betas=betas)
    scheduler = make_scheduler(optimizer, train_cfg)
    progress = Progress()
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        progress = Progress(**state["progress"])
    n_params = count_parameters(model)
    write_config(model_dir, model_cfg, data_cfg, train_cfg, {"parameters": n_params})
    reporter.start(
        {
            "arch": model_cfg.arch,
            "parameters": n_params,
            "device": str(device),
            "precision": precision,
            "train_pairs": stats.train_pairs,
            "skipped_empty": stats.skipped_empty,
            "dropped_long": stats.dropped_long,
            "valid": stats.valid_source,
            "valid_pairs": stats.valid_pairs,
            "vocab_size": model_cfg.vocab_size,
            "resumed_at_step": progress.step if state else None,
        }
    )
    loop = _Loop(
        model,
        tok,
        optimizer,
        scheduler,
        train_set,
        valid_set,
        train_cfg,
        device,
        precision,
        progress,
        reporter,
        data_cfg.batch_tokens,
    )
    stopped_by = loop.run()
    return TrainResult(
        model_dir,
        progress.step,
        progress.epoch,
        progress.best_bleu,
        stopped_by,
        [Validation(**h) for h in progress.history],
        loop.elapsed(),
    )


class _Loop:
    """The training loop's state in one place, so each phase is a short method."""

    def __init__(
        self,
        model: nn.Module,
        tok: Tokenizer,
        optimizer: Any,
        scheduler: Any,
        train_set: ParallelSet,
        valid_set: ParallelSet,
        cfg: TrainConfig,
        device: torch.device,
        precision: str,
        progress: Progress,
        reporter: Reporter,
        batch_tokens: int,
    ) -> None:
        self.batch_tokens = batch_tokens
        self.model, self.tok, self.optimizer, self.scheduler = model, tok, optimizer, scheduler
        self.train_set, self.valid_set, self.cfg = train_set, valid_set, cfg
        self.device, self.precision, self.p, self.reporter = device, precision, progress, reporter
        self.dir = Path(cfg.output)
        self.start = time.monotonic() - progress.elapsed
        self.log_file = self.dir / "train.log.jsonl"

    def elapsed(self) -> float:
        """Training seconds, including those of earlier runs this one resumed."""
        return time.monotonic() - self.start

    def save(self) -> None:
        self.p.elapsed = self.elapsed()
        save_state(self.dir / checkpoint.STATE, self.model, self.optimizer, self.scheduler, self.p)

    def log(self, record: dict[str, Any]) -> None:
        with open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def budget_spent(self) -> str | None:
        if self.cfg.max_steps and self.p.step >= self.cfg.max_steps:
            return "max-steps"
        if self.cfg.max_minutes and self.elapsed() >= 60 * self.cfg.max_minutes:
            return "max-minutes"
        if self.p.epoch >= self.cfg.max_epochs:
            return "max-epochs"
        return None

    def batches(self) -> Iterator[Batch]:
        """Batches from the current position on, across epochs."""
        while True:
            order = epoch_batches(self.train_set, self.batch_tokens, self.cfg.seed, self.p.epoch)
            for i in range(self.p.batch_in_epoch, len(order)):
                idx = order[i]
                self.p.batch_in_epoch = i + 1
                yield collate(
                    [self.train_set.src_ids[j] for j in idx],
                    [self.train_set.tgt_ids[j] for j in idx],
                )
            self.p.epoch += 1
            self.p.batch_in_epoch = 0
            if self.p.epoch >= self.cfg.max_epochs:
                return

    def train_step(self, batches: Iterator[Batch]) -> tuple[float, int] | None:
        """One optimizer update over `accumulate` batches; (loss per token, tokens) or None at the end."""
        total, tokens, n_tgt = 0.0, 0, 0
        for _ in range(self.cfg.accumulate):
            batch = next(batches, None)
            if batch is None:
                break
            batch = to_device(batch, self.device)
            with autocast(self.device, self.precision):
                logits, _ = self.model(batch.src, batch.src_mask, batch.tgt_in)
            loss = loss_fn(logits, batch.tgt_out, self.cfg.label_smoothing)
            (loss / (batch.n_tgt_tokens * self.cfg.accumulate)).backward()
            total += float(loss.detach())
            n_tgt += batch.n_tgt_tokens
            tokens += batch.n_src_tokens + batch.n_tgt_tokens
        if n_tgt == 0:
            return None
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.p.step += 1
        if self.cfg.lr_schedule == "inverse-sqrt":
            self.scheduler.step()
        return total / n_tgt, tokens

    def run_validation(self) -> None:
        loss, bleu = validate(
            self.model, self.tok, self.valid_set, self.device, self.precision, self.cfg.valid_beam
        )
        is_best = bleu > self.p.best_bleu
        if is_best:
            self.p.best_bleu, self.p.bad_validations = bleu, 0
            checkpoint.save_weights(self.dir / checkpoint.WEIGHTS, self.model, self.model.cfg)  # type: ignore[arg-type]
        else:
            self.p.bad_validations += 1
        if self.cfg.lr_schedule == "plateau":
            self.scheduler.step(bleu)
        v = Validation(
            self.p.step,
            self.p.epoch,
            loss,
            math.exp(min(loss, 50)),
            bleu,
            self.lr(),
            self.elapsed(),
            is_best,
        )
        self.p.history.append(asdict(v))
        self.log({"event": "valid", **asdict(v)})
        self.reporter.validation(v)
        self.save()

    def run(self) -> str:
        batches = self.batches()
        window_tokens, window_start = 0, time.monotonic()
        last_valid = self.p.step if self.p.history else -1
        stopped_by: str | None = self.budget_spent()
        with StopFlag() as flag:
            while stopped_by is None:
                result = self.train_step(batches)
                if result is None:
                    stopped_by = "max-epochs"
                    break
                loss, tokens = result
                window_tokens += tokens
                if self.p.step % 20 == 0 or self.p.step == 1:
                    rate = window_tokens / max(time.monotonic() - window_start, 1e-9)
                    stats = StepStats(
                        self.p.step,
                        self.p.epoch,
                        loss,
                        self.lr(),
                        rate,
                        self.elapsed(),
                        self.p.best_bleu,
                    )
                    self.reporter.step(stats)
                    if self.p.step % 20 == 0:
                        self.log({"event": "step", **asdict(stats)})
                    window_tokens, window_start = 0, time.monotonic()
                if flag.raised:
                    stopped_by = "interrupt"
                    break
                if self.p.step % self.cfg.valid_every == 0:
                    self.run_validation()
                    last_valid = self.p.step
                    if self.p.bad_validations >= self.cfg.patience:
                        stopped_by = "patience"
                        break
                stopped_by = self.budget_spent()
            if stopped_by != "interrupt" and last_valid != self.p.step and self.p.step > 0:
                self.run_validation()
        if stopped_by == "interrupt":
            self.save()
        self.reporter.stop()
        if stopped_by != "interrupt" and not (self.dir / checkpoint.WEIGHTS).is_file():
            raise NMTError("training stopped before its first validation: no model.pt was written")
        return stopped_by
