"""`nmt translate`: its options, and the one library call each run makes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nmt_cli.cli import options as opt
from nmt_cli.cli.console import colour_wanted, err, interactive, run
from nmt_cli.cli.decode_options import decoding
from nmt_cli.config import DecodeConfig, RuntimeConfig

TranslateInput = Annotated[Path | None, typer.Option("-i", "--input", help="Input file (default: stdin).")]
DocFormat = Annotated[
    str,
    typer.Option(
        "--format",
        help="text (N lines in, N out), html or xml (the whole input is one document: tags kept, "
        "text translated, inline tags placed by attention), auto (html/xml by the -i file's extension, "
        "else by how the input's first line starts: a tag, <!DOCTYPE html>, <?xml), "
        "or json (a JSON object per line: translation, score, words with scores; "
        "docs/glossaries.md, section Confidence).",
    ),
]


@decoding(nbest=True, protect=True)
def translate(
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    model: opt.ModelDirs = None,
    input: TranslateInput = None,
    output: opt.Output = None,
    split: opt.Split = None,
    doc_format: DocFormat = "text",
    debug: opt.Debug = False,
) -> None:
    """Translate lines from stdin (or -i) to stdout (or -o): one output line per input line,
    each split into sentences; or a whole HTML/XML document (--format), markup kept."""

    def action() -> None:
        from nmt_cli.cli.formats import write_translations
        from nmt_cli.documents.translate_files import TranslateFiles, start_translation

        live = interactive(input)
        request = TranslateFiles(
            decode, runtime, model_dirs=model or (), input=input, output=output, split=split,
            format=doc_format, window=1 if live else 1000,
        )  # fmt: skip
        job = start_translation(request)
        with job.open_output() as out:
            if job.as_json or (job.one_per_line and colour_wanted(out)):
                from nmt_cli.cli.confidence_view import write_confidence

                form = "json" if job.as_json else "colour"
                write_confidence(out, job.scored(), form, err, flush_each=live)
            else:
                decode_tgt = job.loaded.tokenizer.decode_tgt
                translations = job.translations
                write_translations(
                    out, translations, decode_tgt, decode.nbest, flush_each=live, end=job.line_end
                )

    run(debug, action)
