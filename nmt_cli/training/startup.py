"""How a training run starts: its data prepared (or found prepared), its model built fresh,
from a fine-tuning source (--init-from) or from last.pt, and, for a resumed run, the optimizer,
schedule, random streams and loop position exactly as they were saved.

Under torchrun process 0 prepares first and the others then map the same shards; each process
keeps a random stream of its own (dropout differs per process, as it would on one big batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.data.prepare import Prepared, prepare_data
from nmt_cli.data.tokenizer import spm_files
from nmt_cli.io.atomic import copy_file
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import distributed, finetune, run_state
from nmt_cli.training.report import Reporter


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


def restore(state: dict[str, Any], optimizer: Any, scheduler: Any, scaler: Any, seed: int) -> Progress:
    """Continue a resumed run: optimizer, schedule, loss scaler and random streams as last.pt
    holds them, and the position the loop had reached."""
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    restore_rng(state, seed)
    return Progress(**state["progress"])


def prepare(
    model_cfg: ModelConfig,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    resume: bool,
    reporter: Reporter,
    start: finetune.Start = finetune.SCRATCH,
) -> tuple[nn.Module, Prepared, dict[str, Any] | None]:
    """Prepare the data (or find it prepared) and build (or restore) the model.

    A fresh run copies the SentencePiece model(s) of the preparation into the model directory,
    or those of `start` (fine-tuning, --vocab-from), and loads `start`'s weights if it has any;
    a resumed run encodes with the copy it already has, so its shards are found again.
    """
    model_dir = Path(train_cfg.output)
    model_dir.mkdir(parents=True, exist_ok=True)
    saved = run_state.load_training_state(model_dir) if resume else None
    data_dir = Path(data_cfg.data_dir) if data_cfg.data_dir else model_dir / "data"
    tokenizer_dir = model_dir if saved is not None else None
    if saved is None and start.spm_from is not None:  # fine-tuning keeps its vocabulary
        if distributed.is_main():
            finetune.copy_tokenizer(start.spm_from, start.spm, model_dir)
        tokenizer_dir = model_dir
    # Process 0 prepares the data (or finds it prepared); the others then find it and map the
    # same shards, which the page cache holds once for all of them.
    with distributed.main_first():
        data = prepare_data(
            data_cfg, data_dir, train_cfg.seed, train_cfg.threads, tokenizer_dir, reporter.preparing
        )
        if data.spm_dir is not None and distributed.is_main():
            for name in sorted(set(spm_files(data_cfg.joint_vocab).values())):
                copy_file(data.spm_dir / name, model_dir / name)
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
    elif start.weights_from is not None:
        model.load_state_dict(finetune.weights(start.weights_from))
    return model, data, saved.state if saved is not None else None
