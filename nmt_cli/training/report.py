"""What a training run tells the world: a record per logged step and per validation, the summary
it starts with, the Reporter protocol the loop calls (render.RichReporter draws on a terminal,
LogReporter logs), and train.log.jsonl, one JSON line per record.

Under torchrun process 0 alone reports and writes; the other processes get a SilentReporter.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nmt_cli.training import distributed
from nmt_cli.training.rundir import LOG

if TYPE_CHECKING:
    from nmt_cli.data.prepare import Prepared

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


def start_info(
    arch: str,
    parameters: int,
    *,
    vocab_size: int,
    device: str,
    precision: str,
    data: Prepared,
    resumed_at_step: int | None,
) -> dict[str, Any]:
    """What `Reporter.start` is told: the model, where it trains, and what the data holds."""
    return {
        "arch": arch,
        "parameters": parameters,
        "device": device,
        "precision": precision,
        "train_pairs": len(data.train),
        "skipped_empty": sum(c.skipped_empty for c in data.corpora),
        "dropped_long": sum(c.dropped_long for c in data.corpora),
        "valid": data.valid_source,
        "valid_pairs": len(data.valid),
        "prepared": data,
        "vocab_size": vocab_size,
        "resumed_at_step": resumed_at_step,
        "processes": distributed.size(),
    }


def log_event(model_dir: Path, record: dict[str, Any]) -> None:
    """A line of train.log.jsonl, written by process 0 alone."""
    if distributed.is_main():
        with open(model_dir / LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
