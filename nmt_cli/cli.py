"""The `nmt` command: options in, config dataclasses built, one library call out, its result
handed to render. torch is imported only inside commands, so that `nmt --help` stays fast."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from nmt_cli.config import (
    ARCH_DEFAULTS,
    Arch,
    DataConfig,
    DecodeConfig,
    DecoderKind,
    ModelConfig,
    Precision,
    RuntimeConfig,
    Schedule,
    Scoring,
    Span,
    TrainConfig,
    TrainPrecision,
)

app = typer.Typer(
    help="Neural machine translation: train, translate, evaluate, and see alignments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
RNN, TF = ARCH_DEFAULTS["rnn"], ARCH_DEFAULTS["transformer"]

Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
ModelDir = Annotated[
    Path | None,
    typer.Option("-m", "--model", help="Model directory (default: the shipped de-en model)."),
]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda (auto picks CUDA when present).")]
Threads = Annotated[int, typer.Option(min=0, help="CPU threads (0: all cores).")]
TrainPrefixes = Annotated[
    list[str],
    typer.Option(
        "--train",
        metavar="PREFIX",
        help="Training corpus prefix: reads PREFIX.SRC and PREFIX.TGT (or .gz). Repeat for several corpora.",
    ),
]
TrainWeights = Annotated[
    list[float] | None,
    typer.Option(
        "--train-weights",
        metavar="W",
        help="Times each --train corpus is visited per epoch, one per --train in the same order (default 1).",
    ),
]
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
VocabSize = Annotated[int, typer.Option(help="SentencePiece vocabulary size.")]
JointVocab = Annotated[bool, typer.Option(help="One SentencePiece model for both languages.")]
MaxLen = Annotated[int, typer.Option(help="Drop training pairs longer than this many subwords.")]

# The decoding and runtime options of translate, evaluate and align, declared once: `decoding`
# adds them to a command and hands it a DecodeConfig and a RuntimeConfig.
DECODE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "beam_size": (
        Annotated[int, typer.Option("--beam-size", "-k", min=1, help="Beam size; 1 is greedy search.")],
        DecodeConfig.beam_size,
    ),
    "length_penalty": (
        Annotated[float, typer.Option(help="GNMT length penalty α: ((5+|y|)/6)^α; 0 turns it off.")],
        DecodeConfig.length_penalty,
    ),
    "max_len_ratio": (
        Annotated[float, typer.Option(help="Output length limit: ratio × source length + 10.")],
        DecodeConfig.max_len_ratio,
    ),
    "nbest": (
        Annotated[int, typer.Option(min=1, help="Print the N best as 'index ||| hypothesis ||| score'.")],
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
        Annotated[float, typer.Option(help="Sampling: divide the logits by T (>1 flatter, <1 sharper).")],
        DecodeConfig.temperature,
    ),
    "seed": (
        Annotated[int, typer.Option(help="Sampling: random seed; the same seed repeats the same samples.")],
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
                f"(0: {RNN.decode_batch_tokens} for rnn, {TF.decode_batch_tokens} for transformer).",
            ),
        ],
        DecodeConfig.batch_tokens,
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
    precision: Precision = "auto", nbest: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add the decoding and runtime options to a command (before --debug), and call it with
    `decode: DecodeConfig` and `runtime: RuntimeConfig` built from them."""
    decode_names = [n for n in DECODE_OPTIONS if nbest or n != "nbest"]
    options = {**{n: DECODE_OPTIONS[n] for n in decode_names}, **RUNTIME_OPTIONS}
    defaults = {name: default for name, (_, default) in options.items()} | {"precision": precision}

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        kw_only = inspect.Parameter.KEYWORD_ONLY
        signature = inspect.signature(command, eval_str=True)
        own = [
            p.replace(kind=kw_only)
            for p in signature.parameters.values()
            if p.name not in ("decode", "runtime")
        ]
        added = [
            inspect.Parameter(n, kw_only, default=defaults[n], annotation=t) for n, (t, _) in options.items()
        ]
        params = [p for p in own if p.name != "debug"] + added + [p for p in own if p.name == "debug"]

        @functools.wraps(command)
        def with_configs(**kw: Any) -> None:
            decode = DecodeConfig(**{n: kw.pop(n) for n in decode_names})
            runtime = RuntimeConfig(**{n: kw.pop(n) for n in RUNTIME_OPTIONS})
            command(decode=decode, runtime=runtime, **kw)

        with_configs.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return with_configs

    return wrap


def run(debug: bool, action: Callable[[], Any]) -> Any:
    """Call `action`, turning failures into one line on stderr and exit code 1."""
    from nmt_cli.errors import NMTError

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    try:
        return action()
    except typer.Exit:
        raise
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except NMTError as e:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] {escape(str(e))}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    except OSError as e:
        from nmt_cli.files import describe_os_error

        if debug:
            traceback.print_exc()
        where = e.filename if e.filename is not None else "a file"
        err.print(f"[red]error:[/] {escape(describe_os_error(e, 'using', where))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as e:
        if debug:
            traceback.print_exc()
        err.print(
            f"[red]error:[/] {type(e).__name__}: {escape(str(e))} (run with --debug for the traceback)",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def interactive(input: Path | None) -> bool:
    """Reading a terminal: translate line by line and flush each result at once."""
    return input is None and sys.stdin.isatty()


def options_given(ctx: typer.Context) -> set[str]:
    """The options typed on the command line (or set in the environment), not defaulted."""
    typed = ("COMMANDLINE", "ENVIRONMENT")  # ParameterSource names (typer vendors click)
    return {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "") in typed}


def finetune_overrides(given: set[str], cfg: Any, saved_arch: str | None) -> dict[str, Any]:
    """The ModelConfig fields of the architecture options given on the command line, with
    --layers meaning the encoder and decoder layers of a Transformer."""
    fields = set(cfg.to_dict())
    names = {n for n in given if n in fields}
    if "layers" in given and saved_arch == "transformer":
        names = (names - {"layers"}) | {"enc_layers", "dec_layers"}
    return {n: getattr(cfg, n) for n in names}


@app.command()
def train(
    ctx: typer.Context,
    train: TrainPrefixes,
    src_lang: Annotated[str, typer.Option("-s", "--src", help="Source language suffix, e.g. de.")],
    tgt_lang: Annotated[str, typer.Option("-t", "--tgt", help="Target language suffix, e.g. en.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model directory to write.")],
    valid: ValidPrefix = None,
    train_weights: TrainWeights = None,
    data_dir: DataDir = None,
    spm_sample: SpmSample = DataConfig.spm_sample,
    valid_max_sentences: ValidMaxSentences = DataConfig.valid_max_sentences,
    arch: Annotated[Arch, typer.Option(help="rnn (attentional BiLSTM) or transformer.")] = "rnn",
    attention: Annotated[
        Scoring, typer.Option(help="RNN attention scoring: dot, general or additive.")
    ] = ModelConfig.attention,
    decoder: Annotated[
        DecoderKind, typer.Option(help="RNN decoder: luong (input feeding) or bahdanau.")
    ] = ModelConfig.decoder,
    attention_span: Annotated[
        Span, typer.Option(help="RNN attention span: global, local-m or local-p.")
    ] = ModelConfig.attention_span,
    window: Annotated[
        int, typer.Option(help="Half-width D of local attention windows.")
    ] = ModelConfig.window,
    layers: Annotated[
        int | None,
        typer.Option(help=f"Layers (RNN: {RNN.layers}; Transformer: encoder and decoder, {TF.layers})."),
    ] = None,
    embed_dim: Annotated[int, typer.Option(help="RNN embedding size.")] = ModelConfig.embed_dim,
    hidden_dim: Annotated[
        int, typer.Option(help="RNN decoder size (each encoder direction has half).")
    ] = ModelConfig.hidden_dim,
    d_model: Annotated[int, typer.Option(help="Transformer model size.")] = ModelConfig.d_model,
    heads: Annotated[int, typer.Option(help="Transformer attention heads.")] = ModelConfig.heads,
    ff_dim: Annotated[int, typer.Option(help="Transformer feed-forward size.")] = ModelConfig.ff_dim,
    enc_layers: Annotated[int | None, typer.Option(help="Transformer encoder layers.")] = None,
    dec_layers: Annotated[int | None, typer.Option(help="Transformer decoder layers.")] = None,
    post_norm: Annotated[
        bool, typer.Option(help="Transformer: post-norm as in the original paper.")
    ] = ModelConfig.post_norm,
    attn_dropout: Annotated[
        float, typer.Option(help="Transformer attention dropout.")
    ] = ModelConfig.attn_dropout,
    align_layer: Annotated[
        int,
        typer.Option(
            help="Transformer decoder layer whose cross-attention gives alignments (-2: penultimate)."
        ),
    ] = ModelConfig.align_layer,
    dropout: Annotated[
        float | None, typer.Option(help=f"Dropout (RNN: {RNN.dropout}, Transformer: {TF.dropout}).")
    ] = None,
    tie_embeddings: Annotated[
        bool, typer.Option(help="Tie embeddings and output layer.")
    ] = ModelConfig.tie_embeddings,
    vocab_size: VocabSize = DataConfig.vocab_size,
    joint_vocab: JointVocab = DataConfig.joint_vocab,
    max_len: MaxLen = DataConfig.max_len,
    batch_tokens: Annotated[int, typer.Option(help="Padded tokens per batch.")] = 4096,
    lr: Annotated[float, typer.Option(help="Learning rate (the peak for inverse-sqrt).")] = TrainConfig.lr,
    lr_schedule: Annotated[
        Schedule | None,
        typer.Option(help="plateau (RNN default) or inverse-sqrt (Transformer default)."),
    ] = None,
    warmup_steps: Annotated[
        int, typer.Option(help="Linear warmup steps for inverse-sqrt.")
    ] = TrainConfig.warmup_steps,
    label_smoothing: Annotated[float, typer.Option(help="Label smoothing.")] = TrainConfig.label_smoothing,
    clip_norm: Annotated[float, typer.Option(help="Gradient-norm clipping.")] = TrainConfig.clip_norm,
    accumulate: Annotated[int, typer.Option(min=1, help="Batches per optimizer update.")] = 1,
    valid_every: Annotated[
        int, typer.Option(min=1, help="Validate every N updates.")
    ] = TrainConfig.valid_every,
    patience: Annotated[
        int, typer.Option(help="Stop after N validations without a better BLEU.")
    ] = TrainConfig.patience,
    max_epochs: Annotated[int, typer.Option(help="Epoch budget.")] = TrainConfig.max_epochs,
    max_steps: Annotated[int, typer.Option(help="Update budget (0: none).")] = TrainConfig.max_steps,
    max_minutes: Annotated[
        float, typer.Option(help="Wall-clock budget in minutes (0: none).")
    ] = TrainConfig.max_minutes,
    seed: Annotated[int, typer.Option(help="Random seed.")] = TrainConfig.seed,
    device: Device = TrainConfig.device,
    precision: Annotated[
        TrainPrecision,
        typer.Option(
            help="auto (bf16 where the hardware has it; fp16 on GPUs without it), bf16, fp16 or fp32."
        ),
    ] = TrainConfig.precision,
    threads: Threads = TrainConfig.threads,
    log_every: Annotated[
        int, typer.Option(min=1, help="Updates between progress reports.")
    ] = TrainConfig.log_every,
    dist_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Under torchrun: minutes a process waits for a hung peer before failing "
            "(must exceed a validation).",
        ),
    ] = TrainConfig.dist_timeout,
    overwrite: Annotated[
        bool,
        typer.Option(help="Start afresh even if OUTPUT holds a run to resume (its prepared data/ is kept)."),
    ] = False,
    keep_checkpoints: Annotated[
        int,
        typer.Option(
            min=0, help="Keep the weights of the last N validations as OUTPUT/ckpt.STEP.pt (for nmt average)."
        ),
    ] = 0,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune: start from this model directory's weights, SentencePiece model and "
            "architecture (architecture options that contradict it are refused)."
        ),
    ] = None,
    continue_optimizer: Annotated[
        bool,
        typer.Option(help="With --init-from: continue its optimizer and LR schedule (from its last.pt)."),
    ] = False,
    debug: Debug = False,
) -> None:
    """Train a model; an interrupted run in OUTPUT resumes where it stopped.

    Under torchrun (`torchrun --nproc-per-node N -m nmt_cli train ...`) the N processes train
    one model together (DistributedDataParallel), each on its share of every update.
    """
    given = options_given(ctx)

    def action() -> None:
        from dataclasses import replace

        from nmt_cli import distributed, finetune
        from nmt_cli.config import DataConfig, model_config, train_config
        from nmt_cli.errors import NMTError
        from nmt_cli.render import RichReporter
        from nmt_cli.train import train_or_resume

        if continue_optimizer and init_from is None:
            raise NMTError("--continue-optimizer goes with --init-from DIR")
        saved_arch = finetune.saved_config(init_from)["model"]["arch"] if init_from else None
        if saved_arch is not None and "arch" in given and arch != saved_arch:
            raise NMTError(f"--arch {arch} contradicts {init_from}, a {saved_arch} model: leave it out")
        model_cfg = model_config(
            saved_arch or arch, dropout=dropout, tie_embeddings=tie_embeddings, layers=layers,
            embed_dim=embed_dim, hidden_dim=hidden_dim, attention=attention, decoder=decoder,
            attention_span=attention_span, window=window,
            d_model=d_model, heads=heads, ff_dim=ff_dim, enc_layers=enc_layers, dec_layers=dec_layers,
            attn_dropout=attn_dropout, post_norm=post_norm, align_layer=align_layer,
        )  # fmt: skip
        data_cfg = DataConfig(
            train=tuple(train), src_lang=src_lang, tgt_lang=tgt_lang, valid=valid, vocab_size=vocab_size,
            joint_vocab=joint_vocab, max_len=max_len, batch_tokens=batch_tokens,
            train_weights=tuple(train_weights or ()), spm_sample=spm_sample,
            valid_max_sentences=valid_max_sentences, data_dir=str(data_dir) if data_dir else None,
        )  # fmt: skip
        train_cfg = train_config(
            saved_arch or arch, str(output), lr=lr, lr_schedule=lr_schedule, warmup_steps=warmup_steps,
            label_smoothing=label_smoothing, clip_norm=clip_norm, accumulate=accumulate,
            valid_every=valid_every, patience=patience, max_epochs=max_epochs, max_steps=max_steps,
            max_minutes=max_minutes, seed=seed, device=device, precision=precision, threads=threads,
            log_every=log_every, dist_timeout=dist_timeout,
        )  # fmt: skip
        train_cfg = replace(
            train_cfg,
            keep_checkpoints=keep_checkpoints,
            init_from=str(init_from) if init_from else None,
            continue_optimizer=continue_optimizer,
        )
        if init_from is not None:
            model_cfg = finetune.model_config(init_from, finetune_overrides(given, model_cfg, saved_arch))
            if {"vocab_size", "joint_vocab"} & given:
                raise NMTError("--vocab-size and --joint-vocab come from --init-from DIR: leave them out")
        result = train_or_resume(
            model_cfg, data_cfg, train_cfg, RichReporter(err), overwrite, options_given(ctx)
        )
        main = distributed.is_main()
        distributed.shutdown()
        if not main:  # process 0 speaks for all
            raise typer.Exit(130 if result.stopped_by == "interrupt" else 0)
        if result.stopped_by == "interrupt":
            err.print(f"interrupted at step {result.steps}: state saved; run the same command to resume")
            raise typer.Exit(130)
        err.print(
            f"done ({result.stopped_by}) after {result.steps} steps, {result.elapsed / 60:.1f} min; "
            f"best validation BLEU {result.best_bleu:.2f}; model in {output}"
        )

    run(debug, action)


@app.command()
@decoding(nbest=True)
def translate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "-m",
            "--model",
            help="Model directory (default: the shipped de-en model). Repeat it to decode with an "
            "ensemble (mean of log-probabilities) of models that share their SentencePiece models.",
        ),
    ] = None,
    input: Annotated[Path | None, typer.Option("-i", "--input", help="Input file (default: stdin).")] = None,
    output: Output = None,
    debug: Debug = False,
) -> None:
    """Translate lines from stdin (or -i) to stdout (or -o): one output line per input line."""

    def action() -> None:
        from nmt_cli.checkpoint import load_for_decoding
        from nmt_cli.data import input_lines, open_output
        from nmt_cli.ensemble import combine
        from nmt_cli.errors import NMTError
        from nmt_cli.render import write_translations
        from nmt_cli.search import translate_stream

        if decode.nbest > decode.beam_size and decode.sampling is None:
            raise NMTError(f"--nbest {decode.nbest} needs --beam-size of at least {decode.nbest}")
        from nmt_cli.files import os_errors_as_words, refuse_same_file, require_inputs

        sources = [("-i", input or Path("-"))]
        require_inputs(sources)
        refuse_same_file(output, "-o", sources)
        dirs: list[Path | None] = list(model) if model else [None]
        loaded = combine([load_for_decoding(d, runtime) for d in dirs])
        live = interactive(input)
        out = open_output(output, sources)
        stream = translate_stream(
            loaded.model, loaded.tokenizer, input_lines(input), decode, 1 if live else 1000
        )
        with os_errors_as_words("writing", output or "stdout"):
            write_translations(out, stream, loaded.tokenizer.decode_tgt, decode.nbest, flush_each=live)

    run(debug, action)


@app.command()
@decoding()
def evaluate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    ref: Annotated[
        list[Path], typer.Option("--ref", "-r", help="Reference file (or .gz); repeat for multi-reference.")
    ],
    hyp: Annotated[
        Path | None, typer.Option("--hyp", help="Translations to score (no model needed).")
    ] = None,
    src: Annotated[
        Path | None, typer.Option("--src", help="Source file to translate with the model.")
    ] = None,
    model: ModelDir = None,
    metrics: Annotated[str, typer.Option(help="Comma-separated: bleu, chrf, ter.")] = "bleu,chrf,ter",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    save_hyp: Annotated[
        Path | None, typer.Option("--save-hyp", help="Write the model's translations here.")
    ] = None,
    debug: Debug = False,
) -> None:
    """Score translations (--hyp) or a model's translations of --src with sacreBLEU."""

    def action() -> None:
        import json

        from nmt_cli.evaluate import evaluate as evaluate_files

        result = evaluate_files(ref, metrics, hyp, src, model, decode, runtime, save_hyp)
        if json_output:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            from nmt_cli.render import score_table

            Console(highlight=False).print(score_table(result))

    run(debug, action)


@app.command()
@decoding(precision="fp32")
def align(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: ModelDir = None,
    input: Annotated[
        Path | None,
        typer.Option("-i", "--input", help="Source lines, or 'source ||| target' lines (default: stdin)."),
    ] = None,
    output: Output = None,
    ref: Annotated[
        Path | None,
        typer.Option(
            "--ref", help="Targets, line-aligned with the input: force-decode them instead of translating."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table (heatmap), pharaoh ('i-j': source i, target j, 0-based) or json. "
            "Default: table on a terminal, else pharaoh.",
        ),
    ] = None,
    level: Annotated[str, typer.Option(help="word (merge subword pieces into words) or subword.")] = "word",
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Hard links: every weight ≥ T (a fraction; the table shows percent) "
            "instead of the argmax per target word.",
        ),
    ] = None,
    reverse_model: Annotated[
        Path | None,
        typer.Option(help="A target-to-source model: keep only the links it agrees on (intersection)."),
    ] = None,
    layer: Annotated[
        int | None,
        typer.Option(
            help="Transformer: decoder layer whose cross-attention is read "
            "(default: the model's align layer; negative counts from the end)."
        ),
    ] = None,
    head: Annotated[
        int | None, typer.Option(help="Transformer: attention head, from 0 (default: the mean over heads).")
    ] = None,
    gold: Annotated[
        Path | None,
        typer.Option(
            help="Gold alignments, a line per pair: 'i-j' sure, 'i?j' possible (also i-j-S, i-j-P); "
            "i source, j target word, 0-based. Prints AER, precision and recall; "
            "alignments are then written only with -o."
        ),
    ] = None,
    gold_order: Annotated[
        str, typer.Option(help="Index order in --gold: src-tgt (as Pharaoh) or tgt-src.")
    ] = "src-tgt",
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Table without colours (also when NO_COLOR is set).")
    ] = False,
    debug: Debug = False,
) -> None:
    """Show how the model aligns target to source words (its attention): as heatmap tables,
    Pharaoh links or JSON, for its own translations or force-decoded given targets."""

    def action() -> None:
        from dataclasses import replace

        from nmt_cli.align import align_corpus, alignment_error, read_gold, read_windows, within_gold_ranges
        from nmt_cli.checkpoint import load_for_decoding
        from nmt_cli.config import AttentionChoice
        from nmt_cli.data import open_output
        from nmt_cli.errors import NMTError
        from nmt_cli.render import alignment_scores, write_alignments

        form = fmt or ("table" if output is None and sys.stdout.isatty() else "pharaoh")
        for name, value, allowed in (
            ("--format", form, ("table", "pharaoh", "json")),
            ("--level", level, ("word", "subword")),
            ("--gold-order", gold_order, ("src-tgt", "tgt-src")),
        ):
            if value not in allowed:
                raise NMTError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if gold is not None and level != "word":
            raise NMTError("--gold scores word alignments: use --level word")
        gold_links = read_gold(gold, gold_order) if gold is not None else None  # type: ignore[arg-type]
        loaded = load_for_decoding(model, runtime)
        loaded.model.check_attention(AttentionChoice(layer, head))
        reverse = load_for_decoding(reverse_model, runtime) if reverse_model is not None else None
        inputs = [("-i", input or Path("-")), ("--ref", ref), ("--gold", gold)]
        out = open_output(output, inputs) if gold is None or output is not None else None
        console = Console(file=out, no_color=True if no_color else None, highlight=False)
        windows = read_windows(input, ref, 1 if interactive(input) else 1000)
        cfg = replace(decode, attention=AttentionChoice(layer, head))
        back = (reverse.model, reverse.tokenizer) if reverse is not None else None
        alignments = align_corpus(loaded.model, loaded.tokenizer, windows, cfg, level, threshold, back)  # type: ignore[arg-type]
        if gold_links is not None:
            alignments = within_gold_ranges(alignments, gold_links, gold)  # type: ignore[arg-type]
        predicted = write_alignments(alignments, form, out, console)
        if gold_links is not None:
            typer.echo(alignment_scores(alignment_error(predicted, gold_links), form))

    run(debug, action)


@app.command(hidden=True)
def bench(
    runs: Annotated[int, typer.Option(min=1, help="Runs per figure (the median is reported).")] = 3,
    batch1_sentences: Annotated[int, typer.Option(help="Sentences translated at batch size 1.")] = 200,
    train_minutes: Annotated[float, typer.Option(help="Training time of a missing reference model.")] = 5.0,
    train_steps: Annotated[int, typer.Option(help="Updates timed for training speed.")] = 20,
    profile: Annotated[
        bool, typer.Option(help="Only profile one training update of each reference model, by operator.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help="Results as JSON (default: .cache/bench/results.json).")
    ] = None,
    part: Annotated[
        Literal["all", "speed", "scale"], typer.Option(help="speed, scale (large corpora), or all.")
    ] = "all",
    scale_pairs: Annotated[
        list[int] | None,
        typer.Option(help="Synthetic corpus size for the scale part; repeat (default 100000 and 1000000)."),
    ] = None,
    scale_threads: Annotated[int, typer.Option(help="Threads for the scale part (0: all cores).")] = 0,
    scale_steps: Annotated[int, typer.Option(help="Updates timed on each prepared corpus.")] = 50,
    scale_arch: Annotated[Arch, typer.Option(help="Model trained in the scale part.")] = "transformer",
    scale_in_memory_max: Annotated[
        int, typer.Option(help="Largest corpus also prepared the in-memory way (it needs the memory).")
    ] = 1_000_000,
    debug: Debug = False,
) -> None:
    """Benchmark translation and training speed, start-up, load time and memory (`make bench`)."""

    def action() -> None:
        from nmt_cli.bench import CACHE, run_bench
        from nmt_cli.bench_scale import DEFAULT_PAIRS, run_scale
        from nmt_cli.render import bench_tables, scale_tables

        console = Console()
        if profile:
            from nmt_cli.bench import ensure_model
            from nmt_cli.render import profile_table
            from nmt_cli.step_profile import profile_update

            for arch in ("rnn", "transformer"):
                console.print(profile_table(arch, profile_update(ensure_model(arch, train_minutes))))
            return
        path = output or CACHE / "results.json"
        if part in ("all", "speed"):
            results = run_bench(runs, batch1_sentences, train_minutes, train_steps, path)
            for table in bench_tables(results):
                console.print(table)
            console.print(f"written to {path}")
        if part in ("all", "scale"):
            pairs = sorted(set(scale_pairs or DEFAULT_PAIRS))
            scale_path = path.with_name("scale.json")
            scale = run_scale(pairs, scale_threads, scale_steps, scale_arch, scale_in_memory_max, scale_path)
            for table in scale_tables(scale):
                console.print(table)
            console.print(f"written to {scale_path}")

    run(debug, action)


@app.command()
def prepare(
    train: TrainPrefixes,
    src_lang: Annotated[str, typer.Option("-s", "--src", help="Source language suffix, e.g. de.")],
    tgt_lang: Annotated[str, typer.Option("-t", "--tgt", help="Target language suffix, e.g. en.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Model directory: prepare into OUTPUT/data.")
    ] = None,
    data_dir: DataDir = None,
    valid: ValidPrefix = None,
    vocab_size: VocabSize = DataConfig.vocab_size,
    joint_vocab: JointVocab = DataConfig.joint_vocab,
    max_len: MaxLen = DataConfig.max_len,
    spm_sample: SpmSample = DataConfig.spm_sample,
    valid_max_sentences: ValidMaxSentences = DataConfig.valid_max_sentences,
    seed: Annotated[
        int, typer.Option(help="Random seed (the SentencePiece sample, the held-out pairs).")
    ] = 1,
    threads: Threads = 0,
    debug: Debug = False,
) -> None:
    """Prepare corpora for training, once: SentencePiece, subword ids in memory-mapped shards.

    `nmt train` with the same data options (and OUTPUT or --data-dir) then starts without
    reading the text again.
    """

    def action() -> None:
        from nmt_cli.errors import NMTError
        from nmt_cli.prepare import prepare_data
        from nmt_cli.render import PrepareProgress, preparation_line, prepare_table

        if data_dir is not None:
            directory = data_dir
        elif output is not None:
            directory = output / "data"
        else:
            raise NMTError("say where to prepare: -o MODEL_DIR (into MODEL_DIR/data) or --data-dir DIR")
        cfg = DataConfig(
            train=tuple(train),
            src_lang=src_lang,
            tgt_lang=tgt_lang,
            valid=valid,
            vocab_size=vocab_size,
            joint_vocab=joint_vocab,
            max_len=max_len,
            spm_sample=spm_sample,
            valid_max_sentences=valid_max_sentences,
        )
        with PrepareProgress(err) as progress:
            prepared = prepare_data(cfg, directory, seed, threads, on_progress=progress)
        err.print(prepare_table(prepared))
        err.print(preparation_line(prepared, directory))

    run(debug, action)


@app.command()
def export(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Directory to write (new, or an earlier export).")
    ],
    model: ModelDir = None,
    format: Annotated[Literal["ctranslate2"], typer.Option(help="Target engine.")] = "ctranslate2",
    quantization: Annotated[
        Literal["int8", "int16", "float16", "bfloat16", "float32"],
        typer.Option(help="Weight type stored in the export."),
    ] = "float32",
    debug: Debug = False,
) -> None:
    """Export a Transformer for CTranslate2 (needs the optional ctranslate2 package)."""

    def action() -> None:
        from nmt_cli.checkpoint import SHIPPED_MODEL
        from nmt_cli.export import export_ctranslate2

        done = export_ctranslate2(model or SHIPPED_MODEL, output, quantization)
        err.print(
            f"exported {format} model ({done.quantization}) to {done.out}; see its README.md", soft_wrap=True
        )

    run(debug, action)


@app.command()
def average(
    model: Annotated[Path, typer.Option("-m", "--model", help="Model directory the checkpoints belong to.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="New model directory to write.")],
    last: Annotated[
        int | None,
        typer.Option(min=1, help="Average the last N checkpoints kept by train --keep-checkpoints."),
    ] = None,
    checkpoints: Annotated[
        list[str] | None,
        typer.Option(
            help="Average these checkpoint files (paths, or names inside --model): --checkpoints A B C."
        ),
    ] = None,
    more: Annotated[
        list[str] | None,
        typer.Argument(metavar="FILES", help="Further checkpoint files.", show_default=False),
    ] = None,
    debug: Debug = False,
) -> None:
    """Write a model directory whose weights are the element-wise mean of several checkpoints."""

    def action() -> None:
        from nmt_cli.average import average as average_checkpoints
        from nmt_cli.errors import NMTError

        if more and not checkpoints:
            raise NMTError(f"unexpected argument {more[0]!r}: list checkpoint files after --checkpoints")
        files = [*(checkpoints or []), *(more or [])]
        out = average_checkpoints(model, output, last, files)
        err.print(f"averaged {last or len(files)} checkpoints into {out}")

    run(debug, action)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
