"""The options of the `nmt` commands as typer declares them: names, help texts and checks, each
once, so that cli.py reads as which command takes which option with which default.

Typer only (no rich, no torch). The decoding options are a table that a decorator adds to a
command and hands to it as config dataclasses; train's, prepare's and bench's options are in
train_options.py.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from nmt_cli.config import (
    ARCH_DEFAULTS,
    BEAM_BUDGET,
    DecodeConfig,
    Precision,
    RuntimeConfig,
)

RNN, TF = ARCH_DEFAULTS["rnn"], ARCH_DEFAULTS["transformer"]
Command = Callable[..., None]

# Shared by several commands.
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
ModelDir = Annotated[
    Path | None,
    typer.Option("-m", "--model", help="Model directory (default: the shipped de-en model)."),
]
ModelDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "-m",
        "--model",
        help="Model directory (default: the shipped de-en model). Repeat it to decode with an "
        "ensemble (mean of log-probabilities) of models that share their SentencePiece models.",
    ),
]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda (auto picks CUDA when present).")]
MAX_THREADS = 1024  # far beyond any CPU; 100000 made torch and SentencePiece abort
MAX_SEED = 2**32 - 1  # numpy's and SentencePiece's seeds are unsigned 32-bit
Threads = Annotated[int, typer.Option(min=0, max=MAX_THREADS, help="CPU threads (0: all cores).")]

Bound = tuple[Literal[">", ">=", "<", "<="], float]
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def range_text(bounds: tuple[Bound, ...]) -> str:
    """Bounds as typer shows a range: x>0, 0<=x<1."""
    if len(bounds) < 2:
        return "".join(f"x{op}{b:g}" for op, b in bounds) or "finite"
    low = "".join(f"{b:g}{'<' if op == '>' else '<='}" for op, b in bounds if op[0] == ">")
    high = "".join(f"{op}{b:g}" for op, b in bounds if op[0] == "<")
    return f"{low}x{high}"


def finite(*bounds: Bound) -> Callable[[typer.CallbackParam, float | None], float | None]:
    """A typer callback that refuses nan, ±inf and numbers outside `bounds` in one line naming
    the option, as the sampler refuses --temperature 0: typer's min= and max= let nan and inf
    through and cannot leave out a bound."""
    wanted = f"finite and {range_text(bounds)}" if bounds else "finite"

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is not None and not (
            math.isfinite(value) and all(_COMPARE[op](value, b) for op, b in bounds)
        ):
            name = max(param.opts, key=len)
            typer.echo(f"error: {name} must be {wanted}, not {value:g}", err=True)
            raise typer.Exit(1)
        return value

    return check


def finite_option(help: str, *bounds: Bound) -> Any:
    """typer.Option for a float that must be finite and within `bounds`, which --help shows."""
    return typer.Option(help=f"{help} [{range_text(bounds)}]", callback=finite(*bounds))


def with_options(
    added: dict[str, tuple[Any, Any]],
    replaces: tuple[str, ...],
    build: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[Command], Command]:
    """Give a command the options `added` (name: (annotated type, default)) before its --debug,
    in place of its parameters `replaces`, which `build` makes from those options' values."""

    def wrap(command: Command) -> Command:
        kw_only = inspect.Parameter.KEYWORD_ONLY
        signature = inspect.signature(command, eval_str=True)
        own = [p.replace(kind=kw_only) for p in signature.parameters.values() if p.name not in replaces]
        new = [inspect.Parameter(n, kw_only, default=d, annotation=t) for n, (t, d) in added.items()]
        params = [p for p in own if p.name != "debug"] + new + [p for p in own if p.name == "debug"]

        @functools.wraps(command)
        def with_configs(**kw: Any) -> None:
            command(**build({n: kw.pop(n) for n in added}), **kw)

        with_configs.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return with_configs

    return wrap


def options_given(ctx: typer.Context) -> set[str]:
    """The options typed on the command line (or set in the environment), not defaulted."""
    typed = ("COMMANDLINE", "ENVIRONMENT")  # ParameterSource names (typer vendors click)
    return {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "") in typed}


# The decoding and runtime options of translate, evaluate and align, declared once: `decoding`
# adds them to a command and hands it a DecodeConfig and a RuntimeConfig.
DECODE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "beam_size": (
        Annotated[
            int, typer.Option("--beam-size", "-k", min=1, max=1000, help="Beam size; 1 is greedy search.")
        ],
        DecodeConfig.beam_size,
    ),
    "length_penalty": (
        Annotated[float, finite_option("GNMT length penalty α: ((5+|y|)/6)^α; 0 turns it off.")],
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
                "or full. One sample per line, or --nbest N samples; --beam-size is then unused.",
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
        Annotated[int, typer.Option(min=1, help="Most sentences per batch (sorted by length).")],
        DecodeConfig.batch_size,
    ),
    "batch_tokens": (
        Annotated[
            int,
            typer.Option(
                min=0,
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


# translate
TranslateInput = Annotated[Path | None, typer.Option("-i", "--input", help="Input file (default: stdin).")]
Split = Annotated[
    str | None,
    typer.Option(
        help="sentences: split every line into sentences (over-long ones at clauses) and put it back "
        "with its own spacing; none: each line whole, as before. Default: sentences, none with --nbest. "
        "See docs/documents.md.",
    ),
]
DocFormat = Annotated[
    str,
    typer.Option(
        "--format",
        help="text (N lines in, N out), html or xml (the whole input is one document: tags kept, "
        "text translated, inline tags placed by attention), auto (html/xml by the -i file's extension), "
        "or json (a JSON object per line: translation, score, words with scores; docs/confidence.md).",
    ),
]

# evaluate
EvalRefs = Annotated[
    list[Path], typer.Option("--ref", "-r", help="Reference file (or .gz); repeat for multi-reference.")
]
EvalHyp = Annotated[Path | None, typer.Option("--hyp", help="Translations to score (no model needed).")]
EvalSrc = Annotated[Path | None, typer.Option("--src", help="Source file to translate with the model.")]
Metrics = Annotated[str, typer.Option(help="Comma-separated: bleu, chrf, ter.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
SaveHyp = Annotated[Path | None, typer.Option("--save-hyp", help="Write the model's translations here.")]

# align
AlignInput = Annotated[
    Path | None,
    typer.Option("-i", "--input", help="Source lines, or 'source ||| target' lines (default: stdin)."),
]
AlignRef = Annotated[
    Path | None,
    typer.Option(
        "--ref", help="Targets, line-aligned with the input: force-decode them instead of translating."
    ),
]
AlignFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table (heatmap), pharaoh ('i-j': source i, target j, 0-based) or json. "
        "Default: table on a terminal, else pharaoh.",
    ),
]
AlignLevel = Annotated[str, typer.Option(help="word (merge subword pieces into words) or subword.")]
Threshold = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Hard links: every weight ≥ T (a fraction; the table shows percent) "
        "instead of the argmax per target word.",
    ),
]
ReverseModel = Annotated[
    Path | None,
    typer.Option(help="A target-to-source model: combine its links with the model's (--symmetrize)."),
]
Symmetrize = Annotated[
    str,
    typer.Option(
        help="With --reverse-model, how both directions' links combine: intersect, union, "
        "grow-diag, grow-diag-final or grow-diag-final-and."
    ),
]
Shift = Annotated[
    bool,
    typer.Option(
        "--shift/--no-shift",
        help="Read each target word's attention at the next step, which reads it as input "
        "(Chen et al., 2020; off: on the shipped models it doubles the AER).",
    ),
]
Layer = Annotated[
    int | None,
    typer.Option(
        help="Transformer: decoder layer whose cross-attention is read "
        "(default: the model's align layer; negative counts from the end)."
    ),
]
Head = Annotated[
    int | None,
    typer.Option(
        help="Transformer: attention head, from 0 (default: the model's guided-alignment head, "
        "else the mean over heads)."
    ),
]
Gold = Annotated[
    Path | None,
    typer.Option(
        help="Gold alignments, a line per pair: 'i-j' sure, 'i?j' possible (also i-j-S, i-j-P); "
        "i source, j target word, 0-based. Prints AER, precision and recall; "
        "alignments are then written only with -o."
    ),
]
GoldOrder = Annotated[str, typer.Option(help="Index order in --gold: src-tgt (as Pharaoh) or tgt-src.")]
NoColor = Annotated[
    bool, typer.Option("--no-color", help="Table without colours (also when NO_COLOR is set).")
]

# export
ExportOutput = Annotated[
    Path, typer.Option("-o", "--output", help="Directory to write (new, or an earlier export).")
]
ExportFormat = Annotated[Literal["ctranslate2"], typer.Option(help="Target engine.")]
Quantization = Annotated[
    Literal["int8", "int16", "float16", "bfloat16", "float32"],
    typer.Option(help="Weight type stored in the export."),
]

# average
AverageModel = Annotated[
    Path, typer.Option("-m", "--model", help="Model directory the checkpoints belong to.")
]
AverageOutput = Annotated[Path, typer.Option("-o", "--output", help="New model directory to write.")]
Last = Annotated[
    int | None,
    typer.Option(min=1, help="Average the last N checkpoints kept by train --keep-checkpoints."),
]
Checkpoints = Annotated[
    list[str] | None,
    typer.Option(
        help="Average these checkpoint files (paths, or names inside --model): --checkpoints A B C."
    ),
]
MoreFiles = Annotated[
    list[str] | None,
    typer.Argument(metavar="FILES", help="Further checkpoint files.", show_default=False),
]
