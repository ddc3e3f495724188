"""The `nmt` command: options in, one library call out. torch is imported only inside commands,
so that `nmt --help` stays fast."""

from __future__ import annotations

import io
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO, cast

import typer
from rich.console import Console

from nmt_cli.config import (
    BATCH_TOKENS,
    Arch,
    DecodeConfig,
    DecoderKind,
    Level,
    Precision,
    Schedule,
    Scoring,
    Span,
)

if TYPE_CHECKING:
    from nmt_cli.checkpoint import LoadedModel


app = typer.Typer(
    help="Neural machine translation: train, translate, evaluate, and see alignments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = PACKAGE_ROOT / "models" / "de-en"

Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
ModelDir = Annotated[
    Path | None,
    typer.Option("-m", "--model", help="Model directory (default: the shipped de-en model)."),
]
BeamSize = Annotated[int, typer.Option("--beam-size", "-k", min=1, help="Beam size; 1 is greedy search.")]
LengthPenalty = Annotated[float, typer.Option(help="GNMT length penalty α: ((5+|y|)/6)^α; 0 turns it off.")]
MaxLenRatio = Annotated[float, typer.Option(help="Output length limit: ratio × source length + 10.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Most sentences per batch (sorted by length).")]
BatchTokens = Annotated[
    int,
    typer.Option(
        min=0,
        help="Most source subwords × beam size per batch: the search's working set "
        f"(0: {', '.join(f'{n} for {arch}' for arch, n in BATCH_TOKENS.items())}).",
    ),
]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda (auto picks CUDA when present).")]
DecodePrecision = Annotated[
    Precision,
    typer.Option(help="Weights for decoding: fp32, bf16, or auto (bf16 where the CPU/GPU runs it natively)."),
]
Quantize = Annotated[
    Literal["none", "int8"],
    typer.Option(help="int8: dynamic int8 quantisation of linear and LSTM layers (CPU only)."),
]
Threads = Annotated[int, typer.Option(min=0, help="CPU threads (0: all cores).")]


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
        err.print(f"[red]error:[/] {e}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as e:
        if debug:
            traceback.print_exc()
        err.print(
            f"[red]error:[/] {type(e).__name__}: {e} (run with --debug for the traceback)",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def setup_threads(threads: int) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def input_lines(path: Path | None) -> Iterator[str]:
    """Lines of a file or of stdin; invalid UTF-8 bytes become U+FFFD (documented fallback)."""
    from nmt_cli.data import open_text

    if path is not None and str(path) != "-":
        with open_text(path, errors="replace") as f:
            for line in f:
                yield line.rstrip("\r\n")
        return
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
    for line in stream:
        yield line.rstrip("\r\n")


def open_output(path: Path | None) -> TextIO:
    if path is None or str(path) == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as e:
        from nmt_cli.errors import NMTError

        raise NMTError(f"cannot write {path}: {e.strerror}") from e


def load(model_dir: Path | None, device: str, precision: str, quantize: str) -> LoadedModel:
    """The model in `model_dir`, or the shipped one, in bf16 or fp32, or int8-quantised for the CPU."""
    from nmt_cli.checkpoint import load_model
    from nmt_cli.errors import NMTError
    from nmt_cli.precision import cast_for_decoding, quantize_int8, resolve_device, resolve_precision

    if model_dir is None:
        model_dir = DEFAULT_MODEL
        if not model_dir.is_dir():
            raise NMTError(
                f"no model given and the shipped model is missing ({model_dir}); pass -m MODEL_DIR"
            )
    dev = resolve_device(device)
    loaded = load_model(model_dir, dev)
    if quantize == "int8":
        if dev.type != "cpu":
            raise NMTError("--quantize int8 is for the CPU: add --device cpu")
        if precision == "bf16":
            raise NMTError("--quantize int8 and --precision bf16 exclude each other: pick one")
        loaded.model = quantize_int8(loaded.model)
    else:
        loaded.model = cast_for_decoding(loaded.model, resolve_precision(precision, dev))
    return loaded


@app.command()
def train(
    train: Annotated[
        str,
        typer.Option("--train", help="Training corpus prefix: reads PREFIX.SRC and PREFIX.TGT (or .gz)."),
    ],
    src_lang: Annotated[str, typer.Option("-s", "--src", help="Source language suffix, e.g. de.")],
    tgt_lang: Annotated[str, typer.Option("-t", "--tgt", help="Target language suffix, e.g. en.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model directory to write.")],
    valid: Annotated[
        str | None,
        typer.Option(help="Validation corpus prefix (default: hold out 500 training pairs, at most 10%)."),
    ] = None,
    arch: Annotated[
        Arch,
        typer.Option(help="rnn (attentional BiLSTM) or transformer."),
    ] = "rnn",
    attention: Annotated[
        Scoring,
        typer.Option(
            help="RNN attention scoring: dot, general or additive.",
        ),
    ] = "additive",
    decoder: Annotated[
        DecoderKind,
        typer.Option(
            help="RNN decoder: luong (input feeding) or bahdanau.",
        ),
    ] = "luong",
    attention_span: Annotated[
        Span,
        typer.Option(
            help="RNN attention span: global, local-m or local-p.",
        ),
    ] = "global",
    window: Annotated[int, typer.Option(help="Half-width D of local attention windows.")] = 5,
    layers: Annotated[
        int | None, typer.Option(help="Layers (RNN: 1; Transformer: encoder and decoder, 3).")
    ] = None,
    embed_dim: Annotated[int, typer.Option(help="RNN embedding size.")] = 256,
    hidden_dim: Annotated[
        int, typer.Option(help="RNN decoder size (each encoder direction has half).")
    ] = 512,
    d_model: Annotated[int, typer.Option(help="Transformer model size.")] = 256,
    heads: Annotated[int, typer.Option(help="Transformer attention heads.")] = 4,
    ff_dim: Annotated[int, typer.Option(help="Transformer feed-forward size.")] = 1024,
    enc_layers: Annotated[int | None, typer.Option(help="Transformer encoder layers.")] = None,
    dec_layers: Annotated[int | None, typer.Option(help="Transformer decoder layers.")] = None,
    post_norm: Annotated[bool, typer.Option(help="Transformer: post-norm as in the original paper.")] = False,
    attn_dropout: Annotated[float, typer.Option(help="Transformer attention dropout.")] = 0.1,
    align_layer: Annotated[
        int,
        typer.Option(
            help="Transformer decoder layer whose cross-attention gives alignments (-2: penultimate)."
        ),
    ] = -2,
    dropout: Annotated[float | None, typer.Option(help="Dropout (RNN: 0.3, Transformer: 0.1).")] = None,
    tie_embeddings: Annotated[bool, typer.Option(help="Tie embeddings and output layer.")] = True,
    vocab_size: Annotated[int, typer.Option(help="SentencePiece vocabulary size.")] = 8000,
    joint_vocab: Annotated[bool, typer.Option(help="One SentencePiece model for both languages.")] = True,
    max_len: Annotated[int, typer.Option(help="Drop training pairs longer than this many subwords.")] = 100,
    batch_tokens: Annotated[int, typer.Option(help="Padded tokens per batch.")] = 4096,
    lr: Annotated[
        float | None,
        typer.Option(help="Learning rate (peak for inverse-sqrt; RNN 1e-3, Transformer 1e-3)."),
    ] = None,
    lr_schedule: Annotated[
        Schedule | None,
        typer.Option(
            help="plateau (RNN default) or inverse-sqrt (Transformer default).",
        ),
    ] = None,
    warmup_steps: Annotated[int, typer.Option(help="Linear warmup steps for inverse-sqrt.")] = 1000,
    label_smoothing: Annotated[float, typer.Option(help="Label smoothing.")] = 0.1,
    clip_norm: Annotated[float, typer.Option(help="Gradient-norm clipping.")] = 1.0,
    accumulate: Annotated[int, typer.Option(min=1, help="Batches per optimizer update.")] = 1,
    valid_every: Annotated[int, typer.Option(min=1, help="Validate every N updates.")] = 1000,
    patience: Annotated[int, typer.Option(help="Stop after N validations without a better BLEU.")] = 8,
    max_epochs: Annotated[int, typer.Option(help="Epoch budget.")] = 100,
    max_steps: Annotated[int, typer.Option(help="Update budget (0: none).")] = 0,
    max_minutes: Annotated[float, typer.Option(help="Wall-clock budget in minutes (0: none).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    device: Device = "auto",
    precision: Annotated[
        Precision,
        typer.Option(
            help="auto (bf16 where the hardware has it), bf16 or fp32.",
        ),
    ] = "auto",
    threads: Threads = 0,
    overwrite: Annotated[
        bool, typer.Option(help="Start afresh even if OUTPUT holds a run to resume.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Train a model; an interrupted run in OUTPUT resumes where it stopped."""

    def action() -> None:
        import shutil

        from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
        from nmt_cli.render import RichReporter
        from nmt_cli.train import train as train_model

        is_tf = arch == "transformer"
        n_layers = layers if layers is not None else (3 if is_tf else 1)
        model_cfg = ModelConfig(
            arch=arch,
            dropout=dropout if dropout is not None else (0.1 if is_tf else 0.3),
            tie_embeddings=tie_embeddings,
            embed_dim=embed_dim,
            hidden_dim=hidden_dim,
            layers=n_layers,
            attention=attention,
            decoder=decoder,
            attention_span=attention_span,
            window=window,
            d_model=d_model,
            heads=heads,
            ff_dim=ff_dim,
            enc_layers=enc_layers or n_layers,
            dec_layers=dec_layers or n_layers,
            attn_dropout=attn_dropout,
            post_norm=post_norm,
            align_layer=align_layer,
        )
        data_cfg = DataConfig(
            train=train,
            src_lang=src_lang,
            tgt_lang=tgt_lang,
            valid=valid,
            vocab_size=vocab_size,
            joint_vocab=joint_vocab,
            max_len=max_len,
            batch_tokens=batch_tokens,
        )
        train_cfg = TrainConfig(
            output=str(output),
            lr=lr if lr is not None else 1e-3,
            lr_schedule=lr_schedule or ("inverse-sqrt" if is_tf else "plateau"),
            warmup_steps=warmup_steps,
            label_smoothing=label_smoothing,
            clip_norm=clip_norm,
            accumulate=accumulate,
            valid_every=valid_every,
            patience=patience,
            max_epochs=max_epochs,
            max_steps=max_steps,
            max_minutes=max_minutes,
            seed=seed,
            device=device,
            precision=precision,
            threads=threads,
        )
        if overwrite and output.exists():
            shutil.rmtree(output)
        resume = (output / "last.pt").is_file()
        result = train_model(model_cfg, data_cfg, train_cfg, RichReporter(err), resume=resume)
        if result.stopped_by == "interrupt":
            err.print(f"interrupted at step {result.steps}: state saved; run the same command to resume")
            raise typer.Exit(130)
        err.print(
            f"done ({result.stopped_by}) after {result.steps} steps, {result.elapsed / 60:.1f} min; "
            f"best validation BLEU {result.best_bleu:.2f}; model in {output}"
        )

    run(debug, action)


@app.command()
def translate(
    model: ModelDir = None,
    input: Annotated[Path | None, typer.Option("-i", "--input", help="Input file (default: stdin).")] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")
    ] = None,
    beam_size: BeamSize = 5,
    length_penalty: LengthPenalty = 1.0,
    max_len_ratio: MaxLenRatio = 2.0,
    nbest: Annotated[
        int, typer.Option(min=1, help="Print the N best as 'index ||| hypothesis ||| score'.")
    ] = 1,
    batch_size: BatchSize = DecodeConfig.batch_size,
    batch_tokens: BatchTokens = DecodeConfig.batch_tokens,
    device: Device = "auto",
    precision: DecodePrecision = "auto",
    quantize: Quantize = "none",
    threads: Threads = 0,
    debug: Debug = False,
) -> None:
    """Translate lines from stdin (or -i) to stdout (or -o): one output line per input line."""

    def action() -> None:
        from nmt_cli.config import DecodeConfig
        from nmt_cli.errors import NMTError
        from nmt_cli.search import translate_stream

        if nbest > beam_size:
            raise NMTError(f"--nbest {nbest} needs --beam-size of at least {nbest}")
        setup_threads(threads)
        loaded = load(model, device, precision, quantize)
        cfg = DecodeConfig(
            beam_size,
            length_penalty,
            max_len_ratio,
            nbest=nbest,
            batch_size=batch_size,
            batch_tokens=batch_tokens,
        )
        interactive = input is None and sys.stdin.isatty()
        out = open_output(output)
        stream = translate_stream(
            loaded.model, loaded.tokenizer, input_lines(input), cfg, 1 if interactive else 1000
        )
        for index, tr in enumerate(stream):
            if nbest == 1:
                out.write(tr.text + "\n")
            else:
                texts = loaded.tokenizer.decode_tgt([h.tokens for h in tr.hypotheses])
                for text, h in zip(texts, tr.hypotheses):
                    out.write(f"{index} ||| {text} ||| {h.score:.4f}\n")
                if not tr.hypotheses:
                    out.write(f"{index} |||  ||| 0.0000\n")
            if interactive:
                out.flush()
        out.flush()

    run(debug, action)


@app.command()
def evaluate(
    ref: Annotated[
        list[Path],
        typer.Option("--ref", "-r", help="Reference file (or .gz); repeat for multi-reference."),
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
    beam_size: BeamSize = 5,
    length_penalty: LengthPenalty = 1.0,
    max_len_ratio: MaxLenRatio = 2.0,
    batch_size: BatchSize = DecodeConfig.batch_size,
    batch_tokens: BatchTokens = DecodeConfig.batch_tokens,
    device: Device = "auto",
    precision: DecodePrecision = "auto",
    quantize: Quantize = "none",
    threads: Threads = 0,
    debug: Debug = False,
) -> None:
    """Score translations (--hyp) or a model's translations of --src with sacreBLEU."""

    def action() -> None:
        import json

        from nmt_cli.config import DecodeConfig
        from nmt_cli.errors import NMTError
        from nmt_cli.evaluate import (
            Scores,
            hypotheses,
            parse_metrics,
            perplexity,
            read_aligned,
            score,
        )

        names = parse_metrics(metrics)
        if (hyp is None) == (src is None):
            raise NMTError("give --hyp FILE to score translations, or --src FILE to translate them")
        if hyp is not None and (model is not None or save_hyp is not None):
            raise NMTError("--model and --save-hyp go with --src, not with --hyp")
        lines, *refs = read_aligned([p for p in (hyp, src) if p is not None] + ref)
        hyps, ppl, model_dir = lines, None, None
        if src is not None:
            setup_threads(threads)
            loaded = load(model, device, precision, quantize)
            dev = next(loaded.model.parameters()).device
            cfg = DecodeConfig(
                beam_size, length_penalty, max_len_ratio, batch_size=batch_size, batch_tokens=batch_tokens
            )
            hyps = hypotheses(loaded.model, loaded.tokenizer, lines, cfg, dev)
            if save_hyp is not None:
                out = open_output(save_hyp)
                out.writelines(h + "\n" for h in hyps)
                if out is not sys.stdout:
                    out.close()
            ppl = perplexity(loaded.model, loaded.tokenizer, lines, refs[0], dev)
            model_dir = str(loaded.model_dir)
        result = Scores(
            refs=[str(r) for r in ref],
            lines=len(hyps),
            scores=score(hyps, refs, names),
            hyp=str(hyp) if hyp is not None else None,
            src=str(src) if src is not None else None,
            model=model_dir,
            perplexity=ppl,
        )
        if json_output:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            from nmt_cli.render import score_table

            Console(highlight=False).print(score_table(result))

    run(debug, action)


def align_windows(
    input: Path | None, ref: Path | None, size: int
) -> Iterator[tuple[list[str], list[str] | None]]:
    """Windows of (sources, targets): targets from --ref, from `source ||| target` lines, or None."""
    from itertools import islice

    from nmt_cli.align import split_pairs
    from nmt_cli.data import windows
    from nmt_cli.errors import NMTError

    refs = input_lines(ref) if ref is not None else None
    for chunk in windows(input_lines(input), size):
        if refs is None:
            yield split_pairs(chunk)
            continue
        targets = list(islice(refs, len(chunk)))
        if len(targets) < len(chunk):
            raise NMTError(f"--ref {ref} has fewer lines than the input")
        yield chunk, targets
    if refs is not None and next(refs, None) is not None:
        raise NMTError(f"--ref {ref} has more lines than the input")


@app.command()
def align(
    model: ModelDir = None,
    input: Annotated[
        Path | None,
        typer.Option("-i", "--input", help="Source lines, or 'source ||| target' lines (default: stdin)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")
    ] = None,
    ref: Annotated[
        Path | None,
        typer.Option(
            "--ref",
            help="Targets, line-aligned with the input: force-decode them instead of translating.",
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
        int | None,
        typer.Option(help="Transformer: attention head, from 0 (default: the mean over heads)."),
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
    beam_size: BeamSize = 5,
    length_penalty: LengthPenalty = 1.0,
    max_len_ratio: MaxLenRatio = 2.0,
    batch_size: BatchSize = DecodeConfig.batch_size,
    batch_tokens: BatchTokens = DecodeConfig.batch_tokens,
    device: Device = "auto",
    precision: DecodePrecision = "fp32",
    quantize: Quantize = "none",
    threads: Threads = 0,
    debug: Debug = False,
) -> None:
    """Show how the model aligns target to source words (its attention): as heatmap tables,
    Pharaoh links or JSON, for its own translations or force-decoded given targets."""

    def action() -> None:
        import json
        from dataclasses import asdict

        from nmt_cli.align import (
            align_pairs,
            alignment_error,
            intersect,
            read_gold,
            set_attention_source,
            to_json,
            to_pharaoh,
        )
        from nmt_cli.config import DecodeConfig
        from nmt_cli.errors import NMTError
        from nmt_cli.render import alignment_view

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
        setup_threads(threads)
        loaded = load(model, device, precision, quantize)
        set_attention_source(loaded.model, layer, head)
        reverse = load(reverse_model, device, precision, quantize) if reverse_model is not None else None
        cfg = DecodeConfig(
            beam_size, length_penalty, max_len_ratio, batch_size=batch_size, batch_tokens=batch_tokens
        )
        out = open_output(output) if gold is None or output is not None else None
        console = Console(file=out, no_color=True if no_color else None, highlight=False)
        interactive = input is None and sys.stdin.isatty()
        predicted: list[list[tuple[int, int]]] = []
        for sources, targets in align_windows(input, ref, 1 if interactive else 1000):
            pairs = align_pairs(
                loaded.model,
                loaded.tokenizer,
                sources,
                targets,
                cfg,
                cast(Level, level),
                threshold,
            )
            if reverse is not None:
                swapped = [a.target for a in pairs], [a.source for a in pairs]
                back = align_pairs(reverse.model, reverse.tokenizer, *swapped, cfg, level, threshold)  # type: ignore[arg-type]
                pairs = intersect(pairs, back)
            for a in pairs:
                if out is not None and form == "table":
                    console.print(alignment_view(a, console.width, len(predicted)))
                elif out is not None:
                    out.write((to_json(a) if form == "json" else to_pharaoh(a.links)) + "\n")
                predicted.append(a.links)
            if out is not None:
                out.flush()
        if gold_links is not None:
            s = alignment_error(predicted, gold_links)
            if form == "json":
                print(json.dumps(asdict(s)))
            else:
                print(
                    f"AER {100 * s.aer:.2f}  precision {100 * s.precision:.2f}  "
                    f"recall {100 * s.recall:.2f}  ({s.sentences} sentences; {s.links} links, "
                    f"gold {s.sure} sure, {s.possible} possible)"
                )

    run(debug, action)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
