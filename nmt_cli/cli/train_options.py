"""The options of `nmt train`, `nmt prepare` and the hidden `nmt bench`: the corpus and
model-building side of the CLI, declared once (typer only: no rich, no torch).

`training` adds every `nmt train` option to a command and hands it a TrainRecipe.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from nmt_cli.cli.options import RNN, TF, Bound, Command, Device, Threads, finite_option, with_options
from nmt_cli.config import Arch, DecoderKind, Schedule, Scoring, Span, TrainPrecision
from nmt_cli.training.recipe import TrainRecipe

# The corpus options, shared by train and prepare.

TrainPrefixes = Annotated[
    list[str],
    typer.Option(
        "--train",
        metavar="PREFIX",
        help="Training corpus prefix: reads PREFIX.SRC and PREFIX.TGT (or .gz). Repeat for several corpora.",
    ),
]
SrcLang = Annotated[str, typer.Option("-s", "--src", help="Source language suffix, e.g. de.")]
TgtLang = Annotated[str, typer.Option("-t", "--tgt", help="Target language suffix, e.g. en.")]
ValidPrefix = Annotated[
    str | None,
    typer.Option(
        help="Validation corpus prefix (default: hold out 500 pairs of the first corpus, at most 10%)."
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Where prepared corpora are cached, to share between runs (default: OUTPUT/data)."),
]
SpmSample = Annotated[
    int, typer.Option(min=1, help="Training pairs sampled (reservoir) to train SentencePiece on.")
]
ValidMaxSentences = Annotated[
    int, typer.Option(min=1, help="Validation BLEU on at most this many pairs (a fixed subset); loss on all.")
]
VocabSize = Annotated[int, typer.Option(min=1, help="SentencePiece vocabulary size.")]
JointVocab = Annotated[bool, typer.Option(help="One SentencePiece model for both languages.")]
MaxLen = Annotated[int, typer.Option(min=1, help="Drop training pairs longer than this many subwords.")]


# A dropout or smoothing probability: 1 would leave nothing to learn from.
PROBABILITY: tuple[Bound, ...] = ((">=", 0), ("<", 1))

# Every option of `nmt train`, in --help order; the defaults are TrainRecipe's.
TRAIN_OPTIONS: dict[str, Any] = {
    "train": TrainPrefixes,
    "src_lang": SrcLang,
    "tgt_lang": TgtLang,
    "output": Annotated[Path, typer.Option("-o", "--output", help="Model directory to write.")],
    "valid": ValidPrefix,
    "train_weights": Annotated[
        list[float] | None,
        typer.Option(
            "--train-weights",
            metavar="W",
            help="Times each --train corpus is visited per epoch, "
            "one per --train in the same order (default 1).",
        ),
    ],
    "data_dir": DataDir,
    "spm_sample": SpmSample,
    "valid_max_sentences": ValidMaxSentences,
    "arch": Annotated[Arch, typer.Option(help="rnn (attentional BiLSTM) or transformer.")],
    "attention": Annotated[Scoring, typer.Option(help="RNN attention scoring: dot, general or additive.")],
    "decoder": Annotated[DecoderKind, typer.Option(help="RNN decoder: luong (input feeding) or bahdanau.")],
    "attention_span": Annotated[Span, typer.Option(help="RNN attention span: global, local-m or local-p.")],
    "window": Annotated[int, typer.Option(min=0, help="Half-width D of local attention windows.")],
    "layers": Annotated[
        int | None,
        typer.Option(
            min=1, help=f"Layers (RNN: {RNN.layers}; Transformer: encoder and decoder, {TF.layers})."
        ),
    ],
    "embed_dim": Annotated[int, typer.Option(min=1, help="RNN embedding size.")],
    "hidden_dim": Annotated[
        int, typer.Option(min=1, help="RNN decoder size (each encoder direction has half).")
    ],
    "d_model": Annotated[int, typer.Option(min=1, help="Transformer model size.")],
    "heads": Annotated[int, typer.Option(min=1, help="Transformer attention heads.")],
    "ff_dim": Annotated[int, typer.Option(min=1, help="Transformer feed-forward size.")],
    "enc_layers": Annotated[int | None, typer.Option(min=1, help="Transformer encoder layers.")],
    "dec_layers": Annotated[int | None, typer.Option(min=1, help="Transformer decoder layers.")],
    "post_norm": Annotated[bool, typer.Option(help="Transformer: post-norm as in the original paper.")],
    "attn_dropout": Annotated[float, finite_option("Transformer attention dropout.", *PROBABILITY)],
    "align_layer": Annotated[
        int,
        typer.Option(
            help="Transformer decoder layer whose cross-attention gives alignments (-2: penultimate)."
        ),
    ],
    "dropout": Annotated[
        float | None,
        finite_option(f"Dropout (RNN: {RNN.dropout}, Transformer: {TF.dropout}).", *PROBABILITY),
    ],
    "tie_embeddings": Annotated[bool, typer.Option(help="Tie embeddings and output layer.")],
    "vocab_size": VocabSize,
    "joint_vocab": JointVocab,
    "max_len": MaxLen,
    "batch_tokens": Annotated[int, typer.Option(min=1, help="Padded tokens per batch.")],
    "lr": Annotated[float, finite_option("Learning rate (the peak for inverse-sqrt).", (">", 0))],
    "lr_schedule": Annotated[
        Schedule | None,
        typer.Option(help="plateau (RNN default) or inverse-sqrt (Transformer default)."),
    ],
    "warmup_steps": Annotated[int, typer.Option(min=0, help="Linear warmup steps for inverse-sqrt.")],
    "label_smoothing": Annotated[float, finite_option("Label smoothing.", *PROBABILITY)],
    # 0 is no "off": clip_grad_norm_ would scale every gradient to 0, and nothing would learn.
    "clip_norm": Annotated[float, finite_option("Gradient-norm clipping.", (">", 0))],
    "accumulate": Annotated[int, typer.Option(min=1, help="Batches per optimizer update.")],
    "valid_every": Annotated[int, typer.Option(min=1, help="Validate every N updates.")],
    "patience": Annotated[int, typer.Option(min=0, help="Stop after N validations without a better BLEU.")],
    "max_epochs": Annotated[int, typer.Option(min=1, help="Epoch budget.")],
    "max_steps": Annotated[int, typer.Option(min=0, help="Update budget (0: none).")],
    "max_minutes": Annotated[float, finite_option("Wall-clock budget in minutes (0: none).", (">=", 0))],
    "seed": Annotated[int, typer.Option(help="Random seed.")],
    "device": Device,
    "precision": Annotated[
        TrainPrecision,
        typer.Option(
            help="auto (bf16 where the hardware has it; fp16 on GPUs without it), bf16, fp16 or fp32."
        ),
    ],
    "threads": Threads,
    "log_every": Annotated[int, typer.Option(min=1, help="Updates between progress reports.")],
    "dist_timeout": Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Under torchrun: minutes a process waits for a hung peer before failing "
            "(must exceed a validation).",
        ),
    ],
    "overwrite": Annotated[
        bool,
        typer.Option(help="Start afresh even if OUTPUT holds a run to resume (its prepared data/ is kept)."),
    ],
    "keep_checkpoints": Annotated[
        int,
        typer.Option(
            min=0, help="Keep the weights of the last N validations as OUTPUT/ckpt.STEP.pt (for nmt average)."
        ),
    ],
    "init_from": Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune: start from this model directory's weights, SentencePiece model and "
            "architecture (architecture options that contradict it are refused)."
        ),
    ],
    "vocab_from": Annotated[
        Path | None,
        typer.Option(
            help="Use this model directory's SentencePiece model(s) instead of training new ones: "
            "independently trained models that share a vocabulary can be ensembled."
        ),
    ],
    "continue_optimizer": Annotated[
        bool,
        typer.Option(help="With --init-from: continue its optimizer and LR schedule (from its last.pt)."),
    ],
}


def training(command: Command) -> Command:
    """Add every `nmt train` option to a command (before --debug), and call it with
    `recipe: TrainRecipe` built from them (repeated options as tuples)."""
    required = inspect.Parameter.empty
    options = {
        f.name: (TRAIN_OPTIONS[f.name], required if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(TrainRecipe)
    }

    def build(values: dict[str, Any]) -> dict[str, Any]:
        tuples: dict[str, Any] = {n: tuple(v) if isinstance(v, list) else v for n, v in values.items()}
        return {"recipe": TrainRecipe(**tuples)}

    return with_options(options, ("recipe",), build)(command)


# bench
PrepareOutput = Annotated[
    Path | None, typer.Option("-o", "--output", help="Model directory: prepare into OUTPUT/data.")
]
PrepareSeed = Annotated[int, typer.Option(help="Random seed (the SentencePiece sample, the held-out pairs).")]
