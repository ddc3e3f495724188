"""`nmt align` as one library call: the gold alignments, models and inputs it is given, read in
the order that fails fastest (gold, then models), aligned lazily window by window (extract.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from nmt_cli.config import DecodeConfig, Level, RuntimeConfig
from nmt_cli.errors import NMTError

if TYPE_CHECKING:
    from nmt_cli.alignment.extract import Alignment, GoldLinks, GoldOrder


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    """Refuse a value outside `allowed` in one line (these options take plain strings)."""
    if value not in allowed:
        raise NMTError(f"{option} must be one of {', '.join(allowed)}, not {value!r}")


def align_files(
    model_dirs: Sequence[Path],
    input: Path | None,
    ref: Path | None,
    decode: DecodeConfig,
    runtime: RuntimeConfig,
    level: str = "word",
    threshold: float | None = None,
    reverse_model: Path | None = None,
    gold: Path | None = None,
    gold_order: str = "src-tgt",
    window: int = 1000,
    shift: bool = False,
    heuristic: str = "grow-diag-final-and",
) -> tuple[Iterator[Alignment], list[GoldLinks] | None]:
    """The alignments of `input` (stdin for None) by the attention `decode.attention` of the
    model in `model_dirs` (several: their ensemble, whose attention is the members' mean; none:
    the shipped model),
    of its translations or of the targets in `ref` or in `source ||| target` lines; with
    `reverse_model`, both directions' links symmetrised by `heuristic`. `shift` reads each
    token's attention one step later (extract.shift_by_one). With `gold`, also its
    links, for align.alignment_error, and alignments are checked against the pairs they score."""
    from nmt_cli.alignment.extract import align_corpus, read_gold, read_windows, within_gold_ranges
    from nmt_cli.alignment.symmetrize import HEURISTICS, Heuristic
    from nmt_cli.models.checkpoint import check_beam, load_for_decoding
    from nmt_cli.models.ensemble import load_for_decoding as load_ensemble

    check_choice("--level", level, ("word", "subword"))
    check_choice("--gold-order", gold_order, ("src-tgt", "tgt-src"))
    check_choice("--symmetrize", heuristic, HEURISTICS)
    if gold is not None and level != "word":
        raise NMTError("--gold scores word alignments: use --level word")
    gold_links = read_gold(gold, cast("GoldOrder", gold_order)) if gold is not None else None
    loaded = load_ensemble(model_dirs, runtime)
    check_beam(decode.beam_size, loaded)
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
        cast(Level, level),
        threshold,
        back,
        shift,
        cast(Heuristic, heuristic),
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
