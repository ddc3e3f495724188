"""A training recipe: every option of `nmt train` as one frozen dataclass, and the model, data
and training configs it makes, with each architecture's defaults and fine-tuning's constraints.

The library form of `nmt train`: `run_recipe(TrainRecipe(train=("data/x",), src_lang="de",
tgt_lang="en", output=Path("runs/x"), arch="transformer"))`. torch is imported only to train.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nmt_cli.config import (
    Arch,
    DataConfig,
    DecoderKind,
    ModelConfig,
    Schedule,
    Scoring,
    Span,
    TrainConfig,
    TrainPrecision,
    model_config,
    train_config,
)
from nmt_cli.errors import NMTError

if TYPE_CHECKING:
    from nmt_cli.training.loop import Reporter, TrainResult


@dataclass(frozen=True)
class TrainRecipe:
    """What `nmt train` is told, field for option and in --help order; None: the architecture's
    default (or, with `init_from`, the model's)."""

    train: tuple[str, ...]
    src_lang: str
    tgt_lang: str
    output: Path
    valid: str | None = None
    train_weights: tuple[float, ...] | None = None
    data_dir: Path | None = None
    spm_sample: int = DataConfig.spm_sample
    valid_max_sentences: int = DataConfig.valid_max_sentences
    arch: Arch = "rnn"
    attention: Scoring = ModelConfig.attention
    decoder: DecoderKind = ModelConfig.decoder
    attention_span: Span = ModelConfig.attention_span
    window: int = ModelConfig.window
    layers: int | None = None
    embed_dim: int = ModelConfig.embed_dim
    hidden_dim: int = ModelConfig.hidden_dim
    d_model: int = ModelConfig.d_model
    heads: int = ModelConfig.heads
    ff_dim: int = ModelConfig.ff_dim
    enc_layers: int | None = None
    dec_layers: int | None = None
    post_norm: bool = ModelConfig.post_norm
    attn_dropout: float = ModelConfig.attn_dropout
    align_layer: int = ModelConfig.align_layer
    dropout: float | None = None
    tie_embeddings: bool = ModelConfig.tie_embeddings
    vocab_size: int = DataConfig.vocab_size
    joint_vocab: bool = DataConfig.joint_vocab
    max_len: int = DataConfig.max_len
    batch_tokens: int = DataConfig.batch_tokens
    lr: float = TrainConfig.lr
    lr_schedule: Schedule | None = None
    warmup_steps: int = TrainConfig.warmup_steps
    label_smoothing: float = TrainConfig.label_smoothing
    clip_norm: float = TrainConfig.clip_norm
    accumulate: int = TrainConfig.accumulate
    valid_every: int = TrainConfig.valid_every
    patience: int = TrainConfig.patience
    max_epochs: int = TrainConfig.max_epochs
    max_steps: int = TrainConfig.max_steps
    max_minutes: float = TrainConfig.max_minutes
    seed: int = TrainConfig.seed
    device: str = TrainConfig.device
    precision: TrainPrecision = TrainConfig.precision
    threads: int = TrainConfig.threads
    log_every: int = TrainConfig.log_every
    dist_timeout: float = TrainConfig.dist_timeout
    overwrite: bool = False  # start afresh even if `output` holds a run to resume
    keep_checkpoints: int = TrainConfig.keep_checkpoints
    init_from: Path | None = None
    vocab_from: Path | None = None
    continue_optimizer: bool = TrainConfig.continue_optimizer


MODEL_FIELDS = (
    "dropout", "tie_embeddings", "layers", "embed_dim", "hidden_dim", "attention", "decoder",
    "attention_span", "window", "d_model", "heads", "ff_dim", "enc_layers", "dec_layers",
    "attn_dropout", "post_norm", "align_layer",
)  # fmt: skip
TRAIN_FIELDS = (
    "lr", "lr_schedule", "warmup_steps", "label_smoothing", "clip_norm", "accumulate", "valid_every",
    "patience", "max_epochs", "max_steps", "max_minutes", "seed", "device", "precision", "threads",
    "log_every", "dist_timeout", "keep_checkpoints", "continue_optimizer",
)  # fmt: skip


def changed(recipe: TrainRecipe) -> set[str]:
    """The fields that differ from their defaults: what a Python caller set, standing in for the
    options a user typed."""
    return {
        f.name
        for f in dataclasses.fields(recipe)
        if f.default is dataclasses.MISSING or getattr(recipe, f.name) != f.default
    }


def configs(
    recipe: TrainRecipe, given: Collection[str] | None = None
) -> tuple[ModelConfig, DataConfig, TrainConfig]:
    """The configs `recipe` trains with. With `init_from`, the architecture and vocabulary are
    the model directory's, and the options in `given` (None: those `changed`) that contradict
    them are refused in one line."""
    given = changed(recipe) if given is None else given
    if recipe.continue_optimizer and recipe.init_from is None:
        raise NMTError("--continue-optimizer goes with --init-from DIR")
    if recipe.vocab_from is not None and recipe.init_from is not None:
        raise NMTError("--init-from DIR already takes DIR's SentencePiece model: leave out --vocab-from")
    saved_arch = _saved_arch(recipe.init_from)
    if saved_arch is not None and "arch" in given and recipe.arch != saved_arch:
        raise NMTError(
            f"--arch {recipe.arch} contradicts {recipe.init_from}, a {saved_arch} model: leave it out"
        )
    arch = saved_arch or recipe.arch
    model_cfg = model_config(arch, **{n: getattr(recipe, n) for n in MODEL_FIELDS})
    data_cfg = DataConfig(
        train=recipe.train, src_lang=recipe.src_lang, tgt_lang=recipe.tgt_lang, valid=recipe.valid,
        vocab_size=recipe.vocab_size, joint_vocab=recipe.joint_vocab, max_len=recipe.max_len,
        batch_tokens=recipe.batch_tokens, train_weights=tuple(recipe.train_weights or ()),
        spm_sample=recipe.spm_sample, valid_max_sentences=recipe.valid_max_sentences,
        data_dir=str(recipe.data_dir) if recipe.data_dir else None,
    )  # fmt: skip
    train_cfg = train_config(arch, str(recipe.output), **{n: getattr(recipe, n) for n in TRAIN_FIELDS})
    if recipe.vocab_from is not None:
        train_cfg = dataclasses.replace(train_cfg, vocab_from=str(recipe.vocab_from))
    taken = recipe.init_from is not None or recipe.vocab_from is not None
    if taken and {"vocab_size", "joint_vocab"} & set(given):
        option = "--init-from" if recipe.init_from is not None else "--vocab-from"
        raise NMTError(f"--vocab-size and --joint-vocab come from {option} DIR: leave them out")
    if recipe.init_from is not None:
        from nmt_cli.training import finetune

        train_cfg = dataclasses.replace(train_cfg, init_from=str(recipe.init_from))
        model_cfg = finetune.model_config(recipe.init_from, finetune.overrides(given, model_cfg, saved_arch))
    check_model(model_cfg, given)
    return model_cfg, data_cfg, train_cfg


def check_model(cfg: ModelConfig, given: Collection[str]) -> None:
    """Refuse, in one line naming the options, sizes that each pass alone but cannot build the
    model together: before any data is prepared, not as a torch error after it. The default
    align layer (-2) is left to wrap round on a 1-layer decoder; one typed must exist."""
    if cfg.arch == "rnn":
        if cfg.hidden_dim % 2:
            raise NMTError(
                f"--hidden-dim must be even (each encoder direction has half), not {cfg.hidden_dim}"
            )
        return
    if cfg.d_model % 2:
        raise NMTError(f"--d-model must be even (sine and cosine positions), not {cfg.d_model}")
    if cfg.heads < 1 or cfg.d_model % cfg.heads:
        raise NMTError(f"--d-model {cfg.d_model} must be a multiple of --heads {cfg.heads}")
    layers = cfg.dec_layers
    if "align_layer" in given and not -layers <= cfg.align_layer < layers:
        raise NMTError(
            f"--align-layer {cfg.align_layer} is out of range: {-layers} to {layers - 1} "
            f"for {layers} decoder layer{'s' if layers != 1 else ''}"
        )


def _saved_arch(init_from: Path | None) -> Arch | None:
    """The architecture of the model directory to fine-tune, if any."""
    if init_from is None:
        return None
    from nmt_cli.training import finetune

    arch: Arch = finetune.saved_settings(init_from).get("arch", ModelConfig.arch)
    return arch


def run_recipe(
    recipe: TrainRecipe, reporter: Reporter | None = None, given: Collection[str] | None = None
) -> TrainResult:
    """What `nmt train` does: resume the run in `recipe.output`, if any, else start one. On
    resume, the settings named in `given` (None: those `changed`) must match the stored run's."""
    from nmt_cli.training.loop import train_or_resume

    given = changed(recipe) if given is None else given
    model_cfg, data_cfg, train_cfg = configs(recipe, given)
    return train_or_resume(model_cfg, data_cfg, train_cfg, reporter, recipe.overwrite, given)
