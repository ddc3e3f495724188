"""Configuration as frozen dataclasses: what the model is, how it trains, how it decodes.
ModelConfig is saved inside every checkpoint, so a model directory rebuilds its model alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
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

# A dropout or smoothing probability: 1 would leave nothing to learn from.
PROBABILITY = ((">=", 0), ("<", 1))
MAX_SEED = 2**32 - 1  # numpy's and SentencePiece's seeds are unsigned 32-bit
MAX_THREADS = 1024  # far beyond any CPU; 100000 made torch and SentencePiece abort


def option(default: Any = dataclasses.MISSING, help: str = "", **cli: Any) -> Any:
    """A config field that is also an `nmt train` option, declared once: its name, type and
    default are the field's; `help` and `cli` (flags, metavar, min, finite `bounds`, a
    `cli_type` where the command line takes another form, `by_arch`: None on the command line
    means the architecture's default) are what cli/train_options.py makes the option from."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyperparameters; the fields of the other architecture are ignored. A field
    declared with `option` is also an `nmt train` option, in this order in --help."""

    arch: Arch = option("rnn", "rnn (attentional BiLSTM) or transformer.")
    # BiLSTM (Luong et al., 2015; Bahdanau et al., 2015)
    attention: Scoring = option("additive", "RNN attention scoring: dot, general or additive.")
    decoder: DecoderKind = option("luong", "RNN decoder: luong (input feeding) or bahdanau.")
    attention_span: Span = option("global", "RNN attention span: global, local-m or local-p.")
    window: int = option(5, "Half-width D of local attention windows.", min=0, max=10_000)
    layers: int = option(
        1,
        "Layers (RNN: {rnn}; Transformer: encoder and decoder, {transformer}).",
        min=1,
        max=64,
        by_arch=True,
    )
    embed_dim: int = option(256, "RNN embedding size.", min=1, max=16_384)
    hidden_dim: int = option(512, "RNN decoder size (each encoder direction has half).", min=2, max=16_384)
    # Transformer (Vaswani et al., 2017); enc_layers and dec_layers default to --layers
    d_model: int = option(256, "Transformer model size.", min=2, max=16_384)
    heads: int = option(4, "Transformer attention heads.", min=1, max=1_024)
    ff_dim: int = option(1024, "Transformer feed-forward size.", min=1, max=65_536)
    enc_layers: int = option(3, "Transformer encoder layers.", min=1, max=64, by_arch=True)
    dec_layers: int = option(3, "Transformer decoder layers.", min=1, max=64, by_arch=True)
    post_norm: bool = option(False, "Transformer: post-norm as in the original paper.")
    attn_dropout: float = option(0.1, "Transformer attention dropout.", bounds=PROBABILITY)
    align_layer: int = option(
        -2, "Transformer decoder layer whose cross-attention gives alignments (-2: penultimate)."
    )
    align_head: int | None = option(  # the head `nmt align` reads (None: the mean); guided training sets it
        None,
        "Transformer cross-attention head that guided alignment trains and nmt align reads "
        "(default: 0 with --guided-alignment, else the mean over heads).",
    )
    align_shift: bool = option(
        False, "Guide (and read in nmt align) each word's attention at the step reading it (shift-by-one)."
    )
    # Both
    dropout: float = option(
        0.3, "Dropout (RNN: {rnn}, Transformer: {transformer}).", bounds=PROBABILITY, by_arch=True
    )
    tie_embeddings: bool = option(True, "Tie embeddings and output layer.")
    # From the data: the vocabulary sizes (the target's is the joint one when joint_vocab)
    vocab_size: int = 8000
    src_vocab_size: int = 8000
    joint_vocab: bool = True
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

    train: str | tuple[str, ...] = option(
        help="Training corpus prefix: reads PREFIX.SRC and PREFIX.TGT (or .gz). Repeat for several corpora.",
        flags=("--train",),
        metavar="PREFIX",
        cli_type=list[str],
    )
    src_lang: str = option(help="Source language suffix, e.g. de.", flags=("-s", "--src"))
    tgt_lang: str = option(help="Target language suffix, e.g. en.", flags=("-t", "--tgt"))
    valid: str | None = option(
        None, "Validation corpus prefix (default: hold out 500 pairs of the first corpus, at most 10%)."
    )
    train_weights: tuple[float, ...] = option(
        (),
        "Times each --train corpus is visited per epoch, one per --train in the same order (default 1).",
        flags=("--train-weights",),
        metavar="W",
        cli_type=list[float] | None,
    )
    data_dir: str | None = option(  # prepared shards (default: the model directory's data/)
        None,
        "Where prepared corpora are cached, to share between runs (default: OUTPUT/data).",
        cli_type=Path | None,
    )
    spm_sample: int = option(
        1_000_000, "Training pairs sampled (reservoir) to train SentencePiece on.", min=1, max=10**9
    )
    valid_max_sentences: int = option(
        1000, "Validation BLEU on at most this many pairs (a fixed subset); loss on all.", min=1, max=10**7
    )
    vocab_size: int = option(8000, "SentencePiece vocabulary size.", min=1, max=1_000_000)
    joint_vocab: bool = option(True, "One SentencePiece model for both languages.")
    max_len: int = option(100, "Drop training pairs longer than this many subwords.", min=1, max=100_000)
    batch_tokens: int = option(4096, "Padded tokens per batch.", min=1, max=10_000_000)
    valid_holdout: int = 500

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (self.train,) if isinstance(self.train, str) else tuple(self.train)

    @property
    def weights(self) -> tuple[float, ...]:
        return self.train_weights or (1.0,) * len(self.prefixes)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, budgets and bookkeeping."""

    output: str = option(help="Model directory to write.", flags=("-o", "--output"), cli_type=Path)
    lr: float = option(1e-3, "Learning rate (the peak for inverse-sqrt).", bounds=((">", 0),))
    lr_schedule: Schedule = option(
        "plateau", "plateau (RNN default) or inverse-sqrt (Transformer default).", by_arch=True
    )
    warmup_steps: int = option(1000, "Linear warmup steps for inverse-sqrt.", min=0, max=10**9)
    label_smoothing: float = option(0.1, "Label smoothing.", bounds=PROBABILITY)
    # 0 is no "off": clip_grad_norm_ would scale every gradient to 0, and nothing would learn.
    clip_norm: float = option(1.0, "Gradient-norm clipping.", bounds=((">", 0),))
    accumulate: int = option(1, "Batches per optimizer update.", min=1, max=1024)
    valid_every: int = option(1000, "Validate every N updates.", min=1, max=10**9)
    valid_beam: int = 1
    patience: int = option(8, "Stop after N validations without a better BLEU.", min=0, max=10**6)
    max_epochs: int = option(100, "Epoch budget.", min=1, max=10**6)
    max_steps: int = option(0, "Update budget (0: none).", min=0, max=10**9)
    max_minutes: float = option(0.0, "Wall-clock budget in minutes (0: none).", bounds=((">=", 0),))
    seed: int = option(1, "Random seed.", min=0, max=MAX_SEED)
    device: str = option("auto", "auto, cpu or cuda (auto picks CUDA when present).")
    precision: TrainPrecision = option(
        "auto", "auto (bf16 where the hardware has it; fp16 on GPUs without it), bf16, fp16 or fp32."
    )
    threads: int = option(0, "CPU threads (0: all cores).", min=0, max=MAX_THREADS)
    log_every: int = option(20, "Updates between progress reports.", min=1, max=10**9)  # and step records
    dist_timeout: float = option(
        30.0,
        "Under torchrun: minutes a process waits for a hung peer before failing (must exceed a validation).",
        bounds=((">=", 0.1), ("<=", 10_080)),  # at most a week
    )
    keep_checkpoints: int = option(
        0, "Keep the last N validations' weights as OUTPUT/ckpt.STEP.pt (for nmt average).", min=0, max=10**4
    )
    init_from: str | None = option(
        None,
        "Fine-tune: start from this model directory's weights, SentencePiece model and "
        "architecture (architecture options that contradict it are refused).",
        cli_type=Path | None,
    )
    vocab_from: str | None = option(
        None,
        "Use this model directory's SentencePiece model(s) instead of training new ones: "
        "independently trained models that share a vocabulary can be ensembled.",
        cli_type=Path | None,
    )
    continue_optimizer: bool = option(
        False, "With --init-from: continue its optimizer and LR schedule (from its last.pt)."
    )
    guided_alignment: str = option(
        "none",
        "Guided alignment (Garg et al., 2019): align the training corpus with eflomal "
        "(pip install 'nmt-cli\\[align]') and train the align layer's head towards its links; "
        "none: plain training. Without eflomal installed, training says so and goes on without.",
        metavar="eflomal|none",
    )
    alignment_weight: float = option(0.1, "Weight λ of the guided-alignment loss term.", bounds=((">=", 0),))


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
BEAM_BUDGET = 2  # beam search's default batch budget, as a multiple of decode_batch_tokens


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides a caller actually set: None means "the default"."""
    return {k: v for k, v in overrides.items() if v is not None}


def model_config(arch: Arch = "rnn", **overrides: Any) -> ModelConfig:
    """A ModelConfig with `arch`'s defaults where `overrides` are None (as `nmt train` does);
    `layers` sets both Transformer stacks unless `enc_layers`/`dec_layers` are given."""
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
    glossary: str | None = None  # TSV of source -> target terms the output must contain
    keep: tuple[str, ...] = ()  # regexes whose matches in the source are copied exactly
    protect: bool = False  # copy numbers, URLs, e-mail addresses, paths and `code` exactly

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
