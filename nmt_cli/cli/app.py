"""The `nmt` command: options in, config dataclasses built, one library call out, its result
handed to render. torch is imported only inside commands, so that `nmt --help` stays fast.

What each option is called and says is declared in options.py; here, which command takes it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from nmt_cli.cli import options as opt
from nmt_cli.cli import train_options as topt
from nmt_cli.config import AttentionChoice, DataConfig, DecodeConfig, RuntimeConfig
from nmt_cli.training.recipe import TrainRecipe

app = typer.Typer(
    help="Neural machine translation: train, translate, evaluate, and see alignments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)


def run(debug: bool, action: Callable[[], Any]) -> Any:
    """Call `action`, turning failures into one line on stderr and exit code 1 (control
    characters escaped: a file name must not act on the terminal); a closed standard stream
    is such a failure when it is used (streams.py)."""
    from nmt_cli.cli.render import VisibleFormatter, visible
    from nmt_cli.errors import NMTError
    from nmt_cli.io.streams import guard_standard_streams

    guard_standard_streams()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
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
        err.print(f"[red]error:[/] {escape(visible(str(e)))}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    except OSError as e:
        from nmt_cli.io.files import describe_os_error

        if debug:
            traceback.print_exc()
        where = e.filename if e.filename is not None else "a file"
        err.print(f"[red]error:[/] {escape(visible(describe_os_error(e, 'using', where)))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as e:
        if debug:
            traceback.print_exc()
        err.print(
            f"[red]error:[/] {type(e).__name__}: {escape(visible(str(e)))}"
            + ("" if debug else " (run with --debug for the traceback)"),
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def interactive(input: Path | None) -> bool:
    """Reading a terminal: translate line by line and flush each result at once."""
    return input is None and sys.stdin.isatty()


@app.command()
@topt.training
def train(ctx: typer.Context, recipe: TrainRecipe, debug: opt.Debug = False) -> None:
    """Train a model; an interrupted run in OUTPUT resumes where it stopped.

    Under torchrun (`torchrun --nproc-per-node N -m nmt_cli train ...`) the N processes train
    one model together (DistributedDataParallel), each on its share of every update.
    """
    given = opt.options_given(ctx)

    def action() -> None:
        from nmt_cli.cli.render import RichReporter, visible
        from nmt_cli.training import distributed
        from nmt_cli.training.recipe import run_recipe

        result = run_recipe(recipe, RichReporter(err), given)
        main = distributed.is_main()
        distributed.shutdown()
        if not main:  # process 0 speaks for all
            raise typer.Exit(130 if result.stopped_by == "interrupt" else 0)
        if result.stopped_by == "interrupt":
            err.print(f"interrupted at step {result.steps}: state saved; run the same command to resume")
            raise typer.Exit(130)
        err.print(
            f"done ({result.stopped_by}) after {result.steps} steps, {result.elapsed / 60:.1f} min; "
            f"best validation BLEU {result.best_bleu:.2f}; model in {visible(str(recipe.output))}",
            markup=False,
        )

    run(debug, action)


@app.command()
@opt.decoding(nbest=True, protect=True)
def translate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: opt.ModelDirs = None,
    input: opt.TranslateInput = None,
    output: opt.Output = None,
    split: opt.Split = None,
    doc_format: opt.DocFormat = "text",
    debug: opt.Debug = False,
) -> None:
    """Translate lines from stdin (or -i) to stdout (or -o): one output line per input line,
    each split into sentences; or a whole HTML/XML document (--format), markup kept."""

    def action() -> None:
        from nmt_cli.cli.confidence_view import colour_wanted, write_confidence
        from nmt_cli.cli.render import write_translations
        from nmt_cli.decoding.confidence import with_confidence
        from nmt_cli.documents.translate import document_config, translate_input
        from nmt_cli.errors import NMTError
        from nmt_cli.io.files import directory_inputs, os_errors_as_words, refuse_same_file, require_inputs
        from nmt_cli.io.lines import input_lines
        from nmt_cli.io.output import open_output
        from nmt_cli.models.checkpoint import SHIPPED_MODEL, check_beam
        from nmt_cli.models.ensemble import load_for_decoding

        if decode.nbest > decode.beam_size and decode.sampling is None:
            raise NMTError(f"--nbest {decode.nbest} needs --beam-size of at least {decode.nbest}")
        sources: list[tuple[str, Path | None]] = [("-i", input or Path("-"))]
        require_inputs(sources)  # before the model loads, as open_output does after
        sources += directory_inputs("-m", model or [SHIPPED_MODEL])  # nor over the model it reads
        sources.append(("--glossary", Path(decode.glossary) if decode.glossary else None))
        refuse_same_file(output, "-o", sources)
        loaded = load_for_decoding(model or [], runtime)
        check_beam(decode.beam_size, loaded)
        live = interactive(input)
        as_json = doc_format == "json"  # text, each line with its confidence (confidence_view.py)
        if as_json and decode.nbest > 1:
            raise NMTError("--format json writes the best translation of each line: leave out --nbest")
        doc = document_config(loaded.config, split, "text" if as_json else doc_format, decode.nbest, input)
        stream = translate_input(
            loaded.model, loaded.tokenizer, input_lines(input), doc, decode, 1 if live else 1000
        )
        with open_output(output, sources) as out, os_errors_as_words("writing", output or "stdout"):
            if as_json or (doc.format == "text" and decode.nbest == 1 and colour_wanted(out)):
                scored = with_confidence(loaded.model, loaded.tokenizer, stream, 1 if live else 1000)
                write_confidence(out, scored, "json" if as_json else "colour", err, flush_each=live)
            else:
                write_translations(out, stream, loaded.tokenizer.decode_tgt, decode.nbest, flush_each=live)

    run(debug, action)


@app.command()
@opt.decoding(protect=True)
def evaluate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    ref: opt.EvalRefs,
    hyp: opt.EvalHyp = None,
    src: opt.EvalSrc = None,
    model: opt.ModelDirs = None,
    metrics: opt.Metrics = "bleu,chrf,ter",
    json_output: opt.JsonOutput = False,
    save_hyp: opt.SaveHyp = None,
    split: opt.Split = None,
    debug: opt.Debug = False,
) -> None:
    """Score translations (--hyp) or a model's translations of --src with sacreBLEU."""

    def action() -> None:
        import json

        from nmt_cli.cli.render import score_table
        from nmt_cli.evaluate import evaluate as evaluate_files
        from nmt_cli.io.files import directory_inputs, os_errors_as_words, refuse_same_file
        from nmt_cli.models.checkpoint import SHIPPED_MODEL

        read = directory_inputs("-m", model or [SHIPPED_MODEL])  # the model's files, and the glossary
        read.append(("--glossary", Path(decode.glossary) if decode.glossary else None))
        refuse_same_file(save_hyp, "--save-hyp", read)
        result = evaluate_files(ref, metrics, hyp, src, model or (), decode, runtime, save_hyp, split)
        with os_errors_as_words("writing", "stdout"):
            if json_output:
                typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
            else:
                Console(highlight=False).print(score_table(result))

    run(debug, action)


@app.command()
@opt.decoding(precision="fp32")
def align(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: opt.ModelDirs = None,
    input: opt.AlignInput = None,
    output: opt.Output = None,
    ref: opt.AlignRef = None,
    fmt: opt.AlignFormat = None,
    level: opt.AlignLevel = "word",
    threshold: opt.Threshold = None,
    reverse_model: opt.ReverseModel = None,
    symmetrize: opt.Symmetrize = "grow-diag-final-and",
    shift: opt.Shift = False,
    layer: opt.Layer = None,
    head: opt.Head = None,
    gold: opt.Gold = None,
    gold_order: opt.GoldOrder = "src-tgt",
    no_color: opt.NoColor = False,
    debug: opt.Debug = False,
) -> None:
    """Show how the model aligns target to source words: heatmap tables, Pharaoh links or JSON.

    The alignments are the model's attention, over its own translations or over given targets
    (--ref), force-decoded."""

    def action() -> None:
        from nmt_cli.alignment.align_files import align_files, check_choice
        from nmt_cli.alignment.extract import alignment_error
        from nmt_cli.cli.render import alignment_scores, write_alignments
        from nmt_cli.io.files import directory_inputs, os_errors_as_words
        from nmt_cli.io.output import open_output
        from nmt_cli.models.checkpoint import SHIPPED_MODEL

        form = fmt or ("table" if output is None and sys.stdout.isatty() else "pharaoh")
        check_choice("--format", form, ("table", "pharaoh", "json"))
        cfg = replace(decode, attention=AttentionChoice(layer, head))
        window = 1 if interactive(input) else 1000
        alignments, gold_links = align_files(
            model or (), input, ref, cfg, runtime, level, threshold, reverse_model, gold, gold_order, window,
            shift, symmetrize,
        )  # fmt: skip
        inputs: list[tuple[str, Path | None]] = [("-i", input or Path("-")), ("--ref", ref), ("--gold", gold)]
        inputs += directory_inputs("-m", model or [SHIPPED_MODEL])  # never over the model it reads
        inputs += directory_inputs("--reverse-model", [reverse_model] if reverse_model else [])
        inputs.append(("--glossary", Path(decode.glossary) if decode.glossary else None))
        to_file = gold is None or output is not None  # with --gold and no -o: only the scores
        with open_output(output, inputs) if to_file else contextlib.nullcontext(None) as out:
            console = Console(file=out, no_color=True if no_color else None, highlight=False)
            with os_errors_as_words("writing", output or "stdout"):
                predicted = write_alignments(alignments, form, out, console)
        if gold_links is not None:
            with os_errors_as_words("writing", "stdout"):
                typer.echo(alignment_scores(alignment_error(predicted, gold_links), form))

    run(debug, action)


@app.command()
def prepare(
    train: topt.TrainPrefixes,
    src_lang: topt.SrcLang,
    tgt_lang: topt.TgtLang,
    output: topt.PrepareOutput = None,
    data_dir: topt.DataDir = None,
    valid: topt.ValidPrefix = None,
    vocab_size: topt.VocabSize = DataConfig.vocab_size,
    joint_vocab: topt.JointVocab = DataConfig.joint_vocab,
    max_len: topt.MaxLen = DataConfig.max_len,
    spm_sample: topt.SpmSample = DataConfig.spm_sample,
    valid_max_sentences: topt.ValidMaxSentences = DataConfig.valid_max_sentences,
    seed: topt.PrepareSeed = 1,
    threads: opt.Threads = 0,
    debug: opt.Debug = False,
) -> None:
    """Prepare corpora for training, once: SentencePiece, subword ids in memory-mapped shards.

    `nmt train` with the same data options (and OUTPUT or --data-dir) then starts without
    reading the text again.
    """

    def action() -> None:
        from nmt_cli.cli.render import PrepareProgress, preparation_line, prepare_table
        from nmt_cli.data.prepare import prepare_data
        from nmt_cli.training.rundir import prepared_dir

        directory = prepared_dir(output, data_dir)
        cfg = DataConfig(
            train=tuple(train), src_lang=src_lang, tgt_lang=tgt_lang, valid=valid, vocab_size=vocab_size,
            joint_vocab=joint_vocab, max_len=max_len, spm_sample=spm_sample,
            valid_max_sentences=valid_max_sentences,
        )  # fmt: skip
        with PrepareProgress(err) as progress:
            prepared = prepare_data(cfg, directory, seed, threads, on_progress=progress)
        err.print(prepare_table(prepared))
        err.print(preparation_line(prepared, directory))

    run(debug, action)


@app.command()
def export(
    output: opt.ExportOutput,
    model: opt.ModelDir = None,
    format: opt.ExportFormat = "ctranslate2",
    quantization: opt.Quantization = "float32",
    debug: opt.Debug = False,
) -> None:
    """Export a Transformer for CTranslate2 (needs the optional ctranslate2 package)."""

    def action() -> None:
        from nmt_cli.cli.render import visible
        from nmt_cli.models.checkpoint import SHIPPED_MODEL
        from nmt_cli.models.export import export_ctranslate2

        done = export_ctranslate2(model or SHIPPED_MODEL, output, quantization)
        err.print(
            f"exported {format} model ({done.quantization}) to {visible(str(done.out))}; see its README.md",
            soft_wrap=True,
            markup=False,
        )

    run(debug, action)


@app.command()
def average(
    model: opt.AverageModel,
    output: opt.AverageOutput,
    last: opt.Last = None,
    checkpoints: opt.Checkpoints = None,
    more: opt.MoreFiles = None,
    debug: opt.Debug = False,
) -> None:
    """Write a model directory whose weights are the element-wise mean of several checkpoints."""

    def action() -> None:
        from nmt_cli.cli.render import visible
        from nmt_cli.errors import NMTError
        from nmt_cli.models.average import average as average_checkpoints

        if more and not checkpoints:
            raise NMTError(f"unexpected argument {more[0]!r}: list checkpoint files after --checkpoints")
        files = [*(checkpoints or []), *(more or [])]
        out = average_checkpoints(model, output, last, files)
        n = last or len(files)
        err.print(f"averaged {n} checkpoint{'' if n == 1 else 's'} into {visible(str(out))}", markup=False)

    run(debug, action)


def _reflowed(doc: str) -> str:
    """A docstring with each paragraph on one line: typer keeps a paragraph's own line breaks,
    which the terminal then wraps again into ragged lines."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


for _command in app.registered_commands:
    if _command.callback is not None and _command.callback.__doc__:
        _command.help = _reflowed(_command.callback.__doc__)


def main() -> None:
    try:
        app(prog_name="nmt")
    except OSError as e:  # outside run(): only --help and usage messages, to a full disk
        from nmt_cli.io.files import describe_os_error

        err.print(f"error: {describe_os_error(e, 'writing', 'stdout')}", markup=False, soft_wrap=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
