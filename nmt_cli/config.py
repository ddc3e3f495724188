"""Configuration as frozen dataclasses: what the model is, how it trains, how it decodes.

ModelConfig is saved inside every checkpoint, so a model directory rebuilds its model alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Arch = Literal["rnn", "transformer"]
Scoring = Literal["dot", "general", "additive"]
DecoderKind = Literal["luong", "bahdanau"]
Span = Literal["global", "local-m", "local-p"]
Precision = Literal["auto", "bf16", "fp32"]
TrainPrecision = Literal["auto", "bf16", "fp16", "fp32"]
Schedule = Literal["plateau", "inverse-sqrt"]
Level = Literal["word", "subword"]
Quantize = Literal["none", "int8"]

# SentencePiece ids, fixed for every model this tool trains.
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyperparameters; the fields of the other architecture are ignored."""

    arch: Arch = "rnn"
    vocab_size: int = 8000  # target vocabulary (the joint one when joint_vocab)
    src_vocab_size: int = 8000
    joint_vocab: bool = True
    dropout: float = 0.3
    tie_embeddings: bool = True
    # BiLSTM (Luong et al., 2015; Bahdanau et al., 2015)
    embed_dim: int = 256
    hidden_dim: int = 512
    layers: int = 1
    attention: Scoring = "additive"
    decoder: DecoderKind = "luong"
    attention_span: Span = "global"
    window: int = 5
    # Transformer (Vaswani et al., 2017)
    d_model: int = 256
    heads: int = 4
    ff_dim: int = 1024
    enc_layers: int = 3
    dec_layers: int = 3
    attn_dropout: float = 0.1
    post_norm: bool = False
    align_layer: int = -2
    max_positions: int = 1024

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a saved dict, ignoring keys a newer version may have added."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class DataConfig:
    """Where the corpora are and how they become subword batches.

    `train` is one corpus prefix or several; `train_weights` (one per corpus, default all 1)
    says how many times each is visited per epoch, so a small in-domain corpus can be upsampled.
    """

    train: str | tuple[str, ...]
    src_lang: str
    tgt_lang: str
    valid: str | None = None
    vocab_size: int = 8000
    joint_vocab: bool = True
    max_len: int = 100
    batch_tokens: int = 4096
    valid_holdout: int = 500
    train_weights: tuple[float, ...] = ()
    spm_sample: int = 1_000_000  # pairs sampled from the training text for SentencePiece
    valid_max_sentences: int = 1000  # BLEU on at most this fixed subset of --valid; loss on all
    data_dir: str | None = None  # prepared shards (default: the model directory's data/)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (self.train,) if isinstance(self.train, str) else tuple(self.train)

    @property
    def weights(self) -> tuple[float, ...]:
        return self.train_weights or (1.0,) * len(self.prefixes)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, budgets and bookkeeping."""

    output: str
    lr: float = 1e-3
    lr_schedule: Schedule = "plateau"
    warmup_steps: int = 1000
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    accumulate: int = 1
    valid_every: int = 1000
    valid_beam: int = 1
    patience: int = 8
    max_epochs: int = 100
    max_steps: int = 0
    max_minutes: float = 0.0
    seed: int = 1
    device: str = "auto"
    precision: TrainPrecision = "auto"
    threads: int = 0
    keep_checkpoints: int = 0  # keep the weights of the last N validations as ckpt.STEP.pt
    init_from: str | None = None  # fine-tune: start from this model directory
    vocab_from: str | None = None  # this model directory's SentencePiece model(s), not new ones
    continue_optimizer: bool = False  # with init_from: also its optimizer and schedule state
    log_every: int = 20  # updates between progress reports and train.log.jsonl step records
    dist_timeout: float = 30.0  # minutes a process waits for a hung peer under torchrun


@dataclass(frozen=True)
class ArchDefaults:
    """What differs by architecture when the user does not say: each architecture's own recipe."""

    layers: int  # RNN: stacked LSTM layers; Transformer: encoder and decoder layers each
    dropout: float
    lr_schedule: Schedule
    adam_betas: tuple[float, float]  # Transformer: β2 = 0.98 as in Vaswani et al. (2017)
    # Default token budget of a decoding batch. A Transformer decoder step is some two hundred
    # small operations whose fixed costs larger batches amortise (beam 5 on test_2016: 10.1 s at
    # 2,500, 7.7 s at 5,000); an LSTM step is a few large ones, and its time hardly changes (5.4 s
    # vs 5.2 s), so it keeps the smaller budget and memory (translate peak 420 MB vs 505 MB).
    decode_batch_tokens: int


ARCH_DEFAULTS: dict[Arch, ArchDefaults] = {
    "rnn": ArchDefaults(1, 0.3, "plateau", (0.9, 0.999), 2500),
    "transformer": ArchDefaults(3, 0.1, "inverse-sqrt", (0.9, 0.98), 5000),
}
BATCH_TOKENS: dict[Arch, int] = {arch: d.decode_batch_tokens for arch, d in ARCH_DEFAULTS.items()}
BEAM_BUDGET = 2  # beam search's default batch budget, as a multiple of decode_batch_tokens


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides a caller actually set: None means "the default"."""
    return {k: v for k, v in overrides.items() if v is not None}


def model_config(arch: Arch = "rnn", **overrides: Any) -> ModelConfig:
    """A ModelConfig with `arch`'s defaults for what `overrides` leaves None (as `nmt train` does).

    `layers` sets both Transformer stacks unless `enc_layers`/`dec_layers` are given.
    """
    given = _given(overrides)
    defaults = ARCH_DEFAULTS[arch]
    layers = given.pop("layers", defaults.layers)
    fields = {"dropout": defaults.dropout, **given, "arch": arch, "layers": layers}
    fields["enc_layers"] = given.get("enc_layers") or layers
    fields["dec_layers"] = given.get("dec_layers") or layers
    return ModelConfig(**fields)


def train_config(arch: Arch, output: str, **overrides: Any) -> TrainConfig:
    """A TrainConfig with `arch`'s learning-rate schedule unless `overrides` names one."""
    given = {"lr_schedule": ARCH_DEFAULTS[arch].lr_schedule, **_given(overrides)}
    return TrainConfig(output=output, **given)


@dataclass(frozen=True)
class AttentionChoice:
    """Which attention a model reports as its alignment (the Transformer has one per layer and head)."""

    layer: int | None = None  # None: the model's align layer; negative counts from the end
    head: int | None = None  # None: the mean over heads


DEFAULT_ATTENTION = AttentionChoice()


@dataclass(frozen=True)
class DecodeConfig:
    """Search settings shared by translate, evaluate and align."""

    beam_size: int = 5
    length_penalty: float = 1.0
    max_len_ratio: float = 2.0
    max_len_offset: int = 10
    nbest: int = 1
    batch_size: int = 256  # sentences per batch at most
    batch_tokens: int = 0  # and at most this many source subwords x beam size (0: the model's budget)
    keep_attention: bool = False
    attention: AttentionChoice = DEFAULT_ATTENTION  # what keep_attention keeps
    no_repeat_ngram: int = 0  # forbid any n-gram of this size from appearing twice (0: off)
    sampling: str | None = None  # "topk:K", "topp:P" or "full": sample instead of search
    temperature: float = 1.0  # divides the logits before sampling
    seed: int = 1  # of the sampling generator, so that a run can be repeated

    @property
    def rows_per_sentence(self) -> int:
        """Decoder rows each sentence occupies: its samples, or its beams."""
        return self.nbest if self.sampling else self.beam_size


@dataclass(frozen=True)
class RuntimeConfig:
    """Where and how a loaded model runs: device, weight precision, int8, CPU threads."""

    device: str = "auto"
    precision: Precision = "auto"
    quantize: Quantize = "none"
    threads: int = 0  # 0: all cores
