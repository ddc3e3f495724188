"""`nmt translate` as one library call: the request (`TranslateFiles`), its checks before any
model loads, and the started job (`Translating`), whose translations are a lazy stream and
whose output is written in place only when complete. As alignment/align_files.py is `nmt align`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from nmt_cli.config import DecodeConfig, RuntimeConfig
from nmt_cli.documents.lines import read_input
from nmt_cli.documents.translate import DocumentConfig, document_config, translate_input
from nmt_cli.errors import NMTError

if TYPE_CHECKING:
    from nmt_cli.decoding.confidence import Confidence
    from nmt_cli.decoding.session import Reads
    from nmt_cli.decoding.translate import Translation
    from nmt_cli.models.checkpoint import LoadedModel


@dataclass(frozen=True)
class TranslateFiles:
    """What `nmt translate` is asked: models (none: the shipped one; several: an ensemble), the
    input (None: stdin) and output (None: stdout) files, --split, --format (text, html, xml,
    auto or json) and `window`, the lines translated together (1 for a person typing)."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    model_dirs: Sequence[Path] = ()
    input: Path | None = None
    output: Path | None = None
    split: str | None = None
    format: str = "text"
    window: int = 1000


@dataclass(frozen=True)
class Translating:
    """A started `nmt translate`: the loaded model, the lazy stream of translations (nothing is
    read before it is iterated), and what writing them needs."""

    request: TranslateFiles
    loaded: LoadedModel
    doc: DocumentConfig
    translations: Iterator[Translation]
    reads: Reads  # every file read: the output may be none of them

    @property
    def as_json(self) -> bool:
        return self.request.format == "json"

    @property
    def line_end(self) -> str:
        """What follows each translation written: a newline for lines of text, nothing for a
        document, which ends as its input did."""
        return "\n" if self.doc.format == "text" else ""

    @property
    def one_per_line(self) -> bool:
        """Plain text, one translation a line: what may be shown with word confidences."""
        return self.doc.format == "text" and self.request.decode.nbest == 1

    def scored(self) -> Iterator[tuple[Translation, Confidence]]:
        """The translations with their confidences (decoding/confidence.py)."""
        from nmt_cli.decoding.confidence import with_confidence

        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        return with_confidence(model, tokenizer, self.translations, self.request.window)

    @contextlib.contextmanager
    def open_output(self) -> Iterator[TextIO]:
        """The output (io/files.py: written in place only when complete, never over an input),
        an OSError while writing it said in words."""
        from nmt_cli.io.files import open_output, os_errors_as_words

        out_path = self.request.output
        with open_output(out_path, self.reads) as out, os_errors_as_words("writing", out_path or "stdout"):
            yield out


def start_translation(request: TranslateFiles) -> Translating:
    """Check the request, then load the model: contradicting options, a missing input and an
    output that is one of the files read are refused in one line before any model is loaded."""
    from nmt_cli.decoding.session import files_read, load_models
    from nmt_cli.io.files import refuse_same_file, require_inputs

    decode = request.decode
    if decode.nbest > decode.beam_size and decode.sampling is None:
        raise NMTError(f"--nbest {decode.nbest} needs --beam-size of at least {decode.nbest}")
    reads: Reads = [("-i", request.input or Path("-"))]
    require_inputs(reads)  # before the model loads, as open_output does after
    reads += files_read(request.model_dirs, decode.glossary)  # never over the model it reads
    refuse_same_file(request.output, "-o", reads)
    loaded = load_models(request.model_dirs, request.runtime, decode.beam_size)
    as_json = request.format == "json"  # text, each line with its confidence
    if as_json and decode.nbest > 1:
        raise NMTError("--format json writes the best translation of each line: leave out --nbest")
    doc_format, lines = read_input(request.input, "text" if as_json else request.format)
    doc = document_config(loaded.config, request.split, doc_format, decode.nbest, request.input)
    stream = translate_input(loaded.model, loaded.tokenizer, lines, doc, decode, request.window)
    return Translating(request, loaded, doc, stream, reads)
