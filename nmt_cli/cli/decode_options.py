"""The decoding and runtime options of `nmt translate`, `evaluate` and `align`, declared once:
`decoding` adds them to a command and hands it a DecodeConfig and a RuntimeConfig.

Typer only (no rich, no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer

from nmt_cli.cli.options import MAX_SEED, Command, Device, Threads, finite_option, with_options
from nmt_cli.config import ARCH_DEFAULTS, BEAM_BUDGET, DecodeConfig, Precision, RuntimeConfig

RNN, TF = ARCH_DEFAULTS["rnn"], ARCH_DEFAULTS["transformer"]

DECODE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "beam_size": (
        Annotated[
            int, typer.Option("--beam-size", "-k", min=1, max=1000, help="Beam size; 1 is greedy search.")
        ],
        DecodeConfig.beam_size,
    ),
    "length_penalty": (
        Annotated[
            float,
            finite_option("GNMT length penalty α: ((5+|y|)/6)^α; 0 turns it off.", (">=", 0), ("<=", 10)),
        ],
        DecodeConfig.length_penalty,
    ),
    "max_len_ratio": (
        Annotated[
            float, finite_option("Output length limit: ratio × source length + 10.", (">", 0), ("<=", 20))
        ],
        DecodeConfig.max_len_ratio,
    ),
    "nbest": (
        Annotated[
            int, typer.Option(min=1, max=1000, help="Print the N best as 'index ||| hypothesis ||| score'.")
        ],
        DecodeConfig.nbest,
    ),
    "no_repeat_ngram": (
        Annotated[
            int,
            typer.Option(
                min=0,
                max=1000,
                help="Never output the same n-gram of this size twice (beam, greedy, sampling; 0: off).",
            ),
        ],
        DecodeConfig.no_repeat_ngram,
    ),
    "sampling": (
        Annotated[
            str | None,
            typer.Option(
                help="Sample instead of searching (e.g. for back-translation): topk:K, topp:P (nucleus) "
                "or full. One sample per line (translate --nbest N: N); --beam-size is then unused.",
            ),
        ],
        DecodeConfig.sampling,
    ),
    "temperature": (
        Annotated[
            float, finite_option("Sampling: divide the logits by T (>1 flatter, <1 sharper).", (">", 0))
        ],
        DecodeConfig.temperature,
    ),
    "seed": (
        Annotated[
            int,
            typer.Option(
                min=0, max=MAX_SEED, help="Sampling: random seed; the same seed repeats the same samples."
            ),
        ],
        DecodeConfig.seed,
    ),
    "batch_size": (
        Annotated[int, typer.Option(min=1, max=100_000, help="Most sentences per batch (sorted by length).")],
        DecodeConfig.batch_size,
    ),
    "batch_tokens": (
        Annotated[
            int,
            typer.Option(
                min=0,
                max=10_000_000,
                help="Most source subwords × beam size per batch: the search's working set "
                f"(0: {RNN.decode_batch_tokens} for rnn, {TF.decode_batch_tokens} for transformer, "
                f"x{BEAM_BUDGET} for beam search).",
            ),
        ],
        DecodeConfig.batch_tokens,
    ),
    "glossary": (
        Annotated[
            str | None,
            typer.Option(
                metavar="FILE",
                help="TSV of 'source term<TAB>target term': wherever a source term occurs (whole words; "
                "case-insensitive but for a capital first letter; 'term*' also matches longer words), "
                "the translation contains its target term. See docs/glossaries.md.",
            ),
        ],
        DecodeConfig.glossary,
    ),
    "keep": (
        Annotated[
            list[str] | None,
            typer.Option(
                metavar="REGEX", help="Copy whatever this regex matches in the source exactly; repeatable."
            ),
        ],
        None,
    ),
    "protect": (
        Annotated[
            bool,
            typer.Option(help="Copy numbers, URLs, e-mail addresses, file paths and `code` exactly."),
        ],
        DecodeConfig.protect,
    ),
}
RUNTIME_OPTIONS: dict[str, tuple[Any, Any]] = {
    "device": (Device, RuntimeConfig.device),
    "precision": (
        Annotated[
            Precision,
            typer.Option(
                help="Weights for decoding: fp32, bf16, or auto (bf16 where the CPU/GPU runs it natively)."
            ),
        ],
        RuntimeConfig.precision,
    ),
    "quantize": (
        Annotated[
            Literal["none", "int8"],
            typer.Option(help="int8: dynamic int8 quantisation of linear and LSTM layers (CPU only)."),
        ],
        RuntimeConfig.quantize,
    ),
    "threads": (Threads, RuntimeConfig.threads),
}


def decoding(
    precision: Precision = "auto", nbest: bool = False, protect: bool = False
) -> Callable[[Command], Command]:
    """Add the decoding and runtime options to a command (before --debug), and call it with
    `decode: DecodeConfig` and `runtime: RuntimeConfig` built from them. `precision` and
    `protect` are the command's defaults for those options."""
    decode_names = [n for n in DECODE_OPTIONS if nbest or n != "nbest"]
    options = {**{n: DECODE_OPTIONS[n] for n in decode_names}, **RUNTIME_OPTIONS}
    options["precision"] = (options["precision"][0], precision)
    options["protect"] = (options["protect"][0], protect)

    def build(values: dict[str, Any]) -> dict[str, Any]:
        values = {**values, "keep": tuple(values["keep"] or ())}
        decode = DecodeConfig(**{n: values[n] for n in decode_names})
        return {"decode": decode, "runtime": RuntimeConfig(**{n: values[n] for n in RUNTIME_OPTIONS})}

    return with_options(options, ("decode", "runtime"), build)
