"""Translation quality through sacreBLEU (Post, 2018): BLEU, chrF and TER, each with the
signature that makes it comparable with published figures, and a model's perplexity.

torch is imported only by the functions that need a model, so scoring existing output stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sacrebleu.metrics import BLEU, CHRF, TER

from nmt_cli.errors import NMTError
from nmt_cli.io.lines import read_lines

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nmt_cli.config import DecodeConfig, RuntimeConfig
    from nmt_cli.data.tokenizer import Tokenizer
    from nmt_cli.documents.translate import DocumentConfig

# sacreBLEU's defaults (BLEU with 13a tokens, chrF2, case-insensitive TER), as papers report them.
METRICS = {"bleu": BLEU, "chrf": CHRF, "ter": TER}
# The parts of each sacreBLEU result that explain its score.
DETAILS = {
    "bleu": ("counts", "totals", "precisions", "bp", "ratio", "sys_len", "ref_len"),
    "chrf": ("char_order", "word_order", "beta"),
    "ter": ("num_edits", "ref_length"),
}


@dataclass(frozen=True)
class Score:
    """One corpus-level score with the sacreBLEU signature needed to reproduce it."""

    metric: str  # bleu, chrf or ter
    name: str  # sacreBLEU's name for it: BLEU, chrF2, TER
    score: float
    signature: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Perplexity:
    """Teacher-forced per-token cross-entropy (nats) of the references and its exponential."""

    loss: float
    ppl: float
    pairs: int  # pairs scored: those with an empty or over-long side are left out


@dataclass
class Scores:
    """What `nmt evaluate` reports: which files, the scores, and the perplexity given a model."""

    refs: list[str]
    lines: int
    scores: list[Score]
    hyp: str | None = None  # the scored file, when translations were given
    src: str | None = None  # the translated file, when a model made the translations
    model: str | None = None
    perplexity: Perplexity | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with scores keyed by metric so scripts can read `scores.bleu.score`."""
        data = asdict(self)
        data["scores"] = {s.metric: asdict(s) for s in self.scores}
        return data


def parse_metrics(spec: str) -> list[str]:
    """`"bleu, chrF"` -> `["bleu", "chrf"]`; unknown names fail before any decoding is spent."""
    names = list(dict.fromkeys(n.strip().lower() for n in spec.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise NMTError(
            f"unknown metric {', '.join(unknown) or repr(spec)}: use a comma-separated list of "
            f"{', '.join(METRICS)}"
        )
    return names


def check_line_counts(files: Sequence[tuple[str, int]]) -> None:
    """Line-aligned files must have equal lengths, else every score would pair the wrong lines."""
    if len({n for _, n in files}) > 1:
        listed = ", ".join(f"{name} has {n} lines" for name, n in files)
        raise NMTError(f"line counts differ: {listed}")


def read_aligned(paths: Sequence[Path], translate_first: bool = False) -> list[list[str]]:
    """Read line-aligned files (plain or .gz), checking that their line counts agree. Invalid
    UTF-8 is an error in scored text, and replaced in the first file when it is to be translated
    (`translate_first`), as `nmt translate` does; a reference that is the same file is still
    scored text."""
    texts = [
        read_lines(p, "replace" if translate_first and i == 0 else "strict") for i, p in enumerate(paths)
    ]
    check_line_counts([(str(p), len(t)) for p, t in zip(paths, texts, strict=True)])
    return texts


def score(hyps: Sequence[str], refs: Sequence[Sequence[str]], metrics: Sequence[str]) -> list[Score]:
    """Corpus-level scores of `hyps` against one or more reference streams (multi-reference)."""
    if not refs:
        raise NMTError("no reference to score against")
    check_line_counts(
        [("the hypotheses", len(hyps))] + [(f"reference {i + 1}", len(r)) for i, r in enumerate(refs)]
    )
    if not hyps:
        raise NMTError("nothing to score: the files are empty")
    scores = []
    for metric in metrics:
        scorer = METRICS[metric]()
        result = scorer.corpus_score(list(hyps), [list(r) for r in refs])
        details = {key: getattr(result, key) for key in DETAILS[metric]}
        scores.append(Score(metric, result.name, result.score, str(scorer.get_signature()), details))
    return scores


def hypotheses(
    model: nn.Module,
    tokenizer: Tokenizer,
    src: Sequence[str],
    cfg: DecodeConfig,
    device: torch.device,
    doc: DocumentConfig | None = None,
) -> list[str]:
    """The model's best translation of each source line, as `nmt translate` would print it
    (split into sentences as `doc` says; None: each line whole)."""
    from nmt_cli.decoding.translate import translate

    if doc is not None and doc.split != "none":
        from nmt_cli.documents.translate import search_translator, subword_measure, translate_text_lines

        translator = search_translator(model, tokenizer, cfg, device)  # type: ignore[arg-type]
        return [text for _, text, _ in translate_text_lines(src, translator, subword_measure(tokenizer), doc)]
    return [t.text for t in translate(model, tokenizer, src, cfg, device=device)]  # type: ignore[arg-type]


def perplexity(
    model: nn.Module,
    tokenizer: Tokenizer,
    src: Sequence[str],
    ref: Sequence[str],
    device: torch.device,
) -> Perplexity:
    """How well the model predicts the reference given the source, measured as in validation."""
    from nmt_cli.decoding.search import MAX_SRC_TOKENS
    from nmt_cli.training.loss import pairs_loss

    # Empty sides have nothing to attend to or predict; over-long ones exceed what decoding accepts.
    kept = [
        (s, t)
        for s, t in zip(tokenizer.encode_src(src), tokenizer.encode_tgt(ref), strict=True)
        if s and t and max(len(s), len(t)) <= MAX_SRC_TOKENS
    ]
    if not kept:
        raise NMTError("no pair with a non-empty source and reference to compute perplexity on")
    src_ids, tgt_ids = [s for s, _ in kept], [t for _, t in kept]
    loss = pairs_loss(model, src_ids, tgt_ids, device, "fp32")  # the weights' own precision, no autocast
    return Perplexity(loss, math.exp(loss) if loss < 709 else math.inf, len(kept))  # exp(709+) overflows


def evaluate(
    refs: Sequence[Path],
    *,
    metrics: str = "bleu,chrf,ter",
    hyp: Path | None = None,
    src: Path | None = None,
    model_dirs: Sequence[Path] = (),
    decode_cfg: DecodeConfig | None = None,
    runtime: RuntimeConfig | None = None,
    save_hyp: Path | None = None,
    split: str | None = None,
) -> Scores:
    """What `nmt evaluate` reports: the scores of the translations in `hyp`, or of a model's
    translations of `src` (saved to `save_hyp` when given) with its perplexity on the first
    reference. `metrics` is a comma-separated list (see parse_metrics); several `model_dirs`
    are decoded as an ensemble, none is the shipped model; `split` as `nmt translate --split`."""
    from nmt_cli.config import DecodeConfig, RuntimeConfig
    from nmt_cli.decoding.session import files_read
    from nmt_cli.io.files import refuse_same_file

    decode_cfg = decode_cfg or DecodeConfig()
    if save_hyp is not None:  # never over the model's files or the glossary (nor, below, the inputs)
        refuse_same_file(save_hyp, "--save-hyp", files_read(model_dirs, decode_cfg.glossary))
    names = parse_metrics(metrics)
    if (hyp is None) == (src is None):
        raise NMTError("give either --hyp FILE to score translations or --src FILE to translate them")
    if hyp is not None and (model_dirs or save_hyp is not None):
        raise NMTError("--model and --save-hyp go with --src, not with --hyp")
    inputs = [("--src", src)] + [("--ref", r) for r in refs]
    refuse_same_file(save_hyp, "--save-hyp", inputs)
    lines, *references = read_aligned([p for p in (hyp, src) if p is not None] + list(refs), src is not None)
    hyps, ppl, scored_model = lines, None, None
    if src is not None:
        from nmt_cli.decoding.session import load_models
        from nmt_cli.documents.translate import document_config
        from nmt_cli.io.files import open_output

        loaded = load_models(model_dirs, runtime or RuntimeConfig(), decode_cfg.beam_size)
        device = next(loaded.model.parameters()).device
        doc = document_config(loaded.config, split)
        hyps = hypotheses(loaded.model, loaded.tokenizer, lines, decode_cfg, device, doc)
        if save_hyp is not None:
            with open_output(save_hyp, inputs, "--save-hyp") as out:
                out.writelines(h + "\n" for h in hyps)
        ppl = perplexity(loaded.model, loaded.tokenizer, lines, references[0], device)
        scored_model = (
            " + ".join(str(d) for d in model_dirs) if len(model_dirs) > 1 else str(loaded.model_dir)
        )
    return Scores(
        refs=[str(r) for r in refs],
        lines=len(hyps),
        scores=score(hyps, references, names),
        hyp=str(hyp) if hyp is not None else None,
        src=str(src) if src is not None else None,
        model=scored_model,
        perplexity=ppl,
    )
