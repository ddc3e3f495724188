"""`nmt align` as one library call: the gold alignments, models and inputs it is given, read in
the order that fails fastest (gold, then models), aligned lazily window by window (extract.py)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from nmt_cli.config import DecodeConfig, Level, RuntimeConfig
from nmt_cli.errors import NMTError

if TYPE_CHECKING:
    from nmt_cli.alignment.aer import AlignmentScores, GoldLinks, GoldOrder, Link
    from nmt_cli.alignment.extract import Alignment, LinkRule
    from nmt_cli.decoding.session import Reads


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    """Refuse a value outside `allowed` in one line (these options take plain strings)."""
    if value not in allowed:
        raise NMTError(f"{option} must be one of {', '.join(allowed)}, not {value!r}")


def align_files(
    model_dirs: Sequence[Path],
    input: Path | None,
    *,
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    ref: Path | None = None,
    level: str = "word",
    threshold: float | None = None,
    reverse_model: Path | None = None,
    gold: Path | None = None,
    gold_order: str = "src-tgt",
    window: int = 1000,
    shift: bool | None = None,
    heuristic: str = "mean",
    rule: str = "mutual",
) -> tuple[Iterator[Alignment], list[GoldLinks] | None]:
    """The alignments of `input` (stdin for None) by the attention `decode.attention` of the
    model in `model_dirs` (several: their ensemble, whose attention is the members' mean; none:
    the shipped model),
    of its translations or of the targets in `ref` or in `source ||| target` lines; with
    `reverse_model`, both directions' links symmetrised by `heuristic`. `shift` reads each
    token's attention one step later (extract.shift_by_one; None: as each model was trained);
    `rule` makes the hard links where no `threshold` is given (extract.hard_links).
    With `gold`, also its links, for aer.alignment_error, and alignments are checked against
    the pairs they score."""
    from nmt_cli.alignment.aer import read_gold, within_gold_ranges
    from nmt_cli.alignment.corpus import align_corpus
    from nmt_cli.alignment.symmetrize import COMBINATIONS, Combination
    from nmt_cli.alignment.windows import read_windows
    from nmt_cli.decoding.session import load_for_decoding, load_models

    check_choice("--level", level, ("word", "subword"))
    check_choice("--links", rule, ("mutual", "argmax"))
    check_choice("--gold-order", gold_order, ("src-tgt", "tgt-src"))
    check_choice("--symmetrize", heuristic, COMBINATIONS)
    if gold is not None and level != "word":
        raise NMTError("--gold scores word alignments: use --level word")
    gold_links = read_gold(gold, cast("GoldOrder", gold_order)) if gold is not None else None
    loaded = load_models(model_dirs, runtime, decode.beam_size)
    loaded.model.check_attention(decode.attention)
    reverse = load_for_decoding(reverse_model, runtime) if reverse_model is not None else None
    if reverse is not None:
        check_reverse(loaded.config, reverse.config, reverse_model)
    back = (reverse.model, reverse.tokenizer) if reverse is not None else None
    windows = read_windows(input, ref, window)
    alignments = align_corpus(
        loaded.model,
        loaded.tokenizer,
        windows,
        decode,
        level=cast(Level, level),
        threshold=threshold,
        reverse=back,
        shift=shift,
        heuristic=cast(Combination, heuristic),
        rule=cast("LinkRule", rule),
    )
    if gold is not None and gold_links is not None:
        alignments = within_gold_ranges(alignments, gold_links, gold)
    return alignments, gold_links


def check_reverse(forward: dict[str, Any], reverse: dict[str, Any], reverse_dir: Path | None) -> None:
    """A reverse model translates the other way (e.g. en→de for a de→en model): one of the same
    direction would "agree" with every link and intersect nothing away."""
    langs = [(c.get("src_lang"), c.get("tgt_lang")) for c in (forward, reverse)]
    if None in langs[0] + langs[1]:
        return  # a directory that does not name its languages
    (src, tgt), (rsrc, rtgt) = langs
    if (rsrc, rtgt) != (tgt, src):
        raise NMTError(
            f"--reverse-model {reverse_dir} translates {rsrc}→{rtgt}; the model aligns {src}→{tgt}, "
            f"so its reverse must translate {tgt}→{src}"
        )


@dataclass(frozen=True)
class AlignFiles:
    """What `nmt align` is asked: align_files' options, and where the alignments go (`output`
    None: stdout) in which `format`: table, pharaoh or json (None: table on a terminal, else
    pharaoh). With `gold` and no `output`, only the scores are written."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    model_dirs: Sequence[Path] = ()
    input: Path | None = None
    output: Path | None = None
    format: str | None = None
    ref: Path | None = None
    level: str = "word"
    threshold: float | None = None
    reverse_model: Path | None = None
    gold: Path | None = None
    gold_order: str = "src-tgt"
    window: int = 1000
    shift: bool | None = None
    heuristic: str = "mean"
    rule: str = "mutual"


@dataclass(frozen=True)
class Aligning:
    """A started `nmt align`: the lazy alignments, the gold links to score them against, and
    what writing them needs."""

    request: AlignFiles
    format: str
    alignments: Iterator[Alignment]
    gold: list[GoldLinks] | None
    reads: Reads  # every file read: the output may be none of them

    @contextlib.contextmanager
    def open_output(self) -> Iterator[TextIO | None]:
        """The output (io/files.py: never over a file read), or None when only scores are
        written (--gold without -o); an OSError while writing said in words."""
        from nmt_cli.io.files import open_output, os_errors_as_words

        path = self.request.output
        to_file = self.request.gold is None or path is not None
        opened = open_output(path, self.reads) if to_file else contextlib.nullcontext(None)
        with opened as out, os_errors_as_words("writing", path or "stdout"):
            yield out

    def scores(self, predicted: Sequence[Collection[Link]]) -> AlignmentScores:
        """AER, precision and recall of the written links against the gold ones."""
        from nmt_cli.alignment.aer import alignment_error

        assert self.gold is not None, "scores need --gold"
        return alignment_error(predicted, self.gold)


def start_alignment(request: AlignFiles) -> Aligning:
    """Check the request and load the models (align_files), failing in one line before any
    output is opened; the alignments are made as they are read."""
    from nmt_cli.decoding.session import files_read

    r = request
    form = r.format or ("table" if r.output is None and sys.stdout.isatty() else "pharaoh")
    check_choice("--format", form, ("table", "pharaoh", "json"))
    alignments, gold_links = align_files(
        r.model_dirs, r.input, decode=r.decode, runtime=r.runtime, ref=r.ref, level=r.level,
        threshold=r.threshold, reverse_model=r.reverse_model, gold=r.gold, gold_order=r.gold_order,
        window=r.window, shift=r.shift, heuristic=r.heuristic, rule=r.rule,
    )  # fmt: skip
    reads: Reads = [("-i", r.input or Path("-")), ("--ref", r.ref), ("--gold", r.gold)]
    reads += files_read(r.model_dirs, r.decode.glossary, r.reverse_model)  # never over a model
    return Aligning(request, form, alignments, gold_links, reads)
