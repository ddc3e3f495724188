"""Confidence: how probable the model finds each token of a translation, and what that says
about its words and the whole sentence.

The translation is read back in one teacher-forced pass given its source (so that tokens a
glossary forced get the model's own view of them, and an ensemble scores as it decodes); a
line translated sentence by sentence is read back sentence by sentence, each given its own
source. A word's score is the product of its subword pieces' probabilities, a sentence's the
geometric mean over its tokens and EOS (a line's, over all its sentences' tokens).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

import torch

from nmt_cli.config import BOS_ID, EOS_ID
from nmt_cli.data.batch import pad
from nmt_cli.data.tokenizer import Tokenizer
from nmt_cli.models.seq2seq import Seq2Seq

if TYPE_CHECKING:
    from nmt_cli.decoding.translate import Translation

WORD_START = "▁"  # SentencePiece's mark of a piece that begins a word
ROWS = 64  # sentences per teacher-forced batch
MAX_TOKENS = 1000  # longer sides are cut, as the search cuts sources


@dataclass(frozen=True)
class Word:
    text: str
    score: float  # probability, 0..1


@dataclass(frozen=True)
class Confidence:
    score: float  # the sentence's: geometric mean of its token probabilities, 0..1
    words: list[Word]


def token_log_probs(model: Seq2Seq, src: Sequence[list[int]], tgt: Sequence[list[int]]) -> list[list[float]]:
    """The log-probability of every target token and of EOS, given its source, for each pair;
    batched by length to keep padding small."""
    device = next(model.parameters()).device  # type: ignore[attr-defined]
    out: list[list[float]] = [[] for _ in src]
    order = sorted((i for i in range(len(src)) if src[i]), key=lambda i: -len(src[i]))
    with torch.inference_mode():
        for start in range(0, len(order), ROWS):
            idx = order[start : start + ROWS]
            s = pad([src[i] for i in idx], suffix=EOS_ID).to(device)
            tgt_in = pad([tgt[i] for i in idx], prefix=BOS_ID).to(device)  # (B, T)
            tgt_out = pad([tgt[i] for i in idx], suffix=EOS_ID).to(device)
            logits, _ = model(s, s != 0, tgt_in)
            logp = torch.log_softmax(logits.float(), dim=-1).gather(2, tgt_out.unsqueeze(-1)).squeeze(-1)
            for i, row in zip(idx, logp.tolist()):
                out[i] = row[: len(tgt[i]) + 1]
    return out


def sentence_score(log_probs: Sequence[float]) -> float:
    """The geometric mean of the token probabilities (EOS included), 0..1."""
    return math.exp(sum(log_probs) / len(log_probs)) if log_probs else 0.0


def words(pieces: Sequence[str], log_probs: Sequence[float]) -> list[Word]:
    """Merge subword pieces into words (a piece starting with ▁ starts one), each scored by the
    product of its pieces' probabilities; EOS is not a word."""
    merged: list[tuple[str, float]] = []
    for piece, lp in zip(pieces, log_probs):
        if piece.startswith(WORD_START) or not merged:
            merged.append((piece.lstrip(WORD_START), lp))
        else:
            text, total = merged[-1]
            merged[-1] = (text + piece, total + lp)
    return [Word(text, math.exp(lp)) for text, lp in merged if text]


def confidences(
    model: Seq2Seq, tokenizer: Tokenizer, sources: Sequence[str], targets: Sequence[str]
) -> list[Confidence]:
    """How confident the model is of each translation of each source."""
    scored = scored_pairs(model, tokenizer, sources, targets)
    return [Confidence(sentence_score(lp), found) if lp else Confidence(0.0, []) for lp, found in scored]


def scored_pairs(
    model: Seq2Seq, tokenizer: Tokenizer, sources: Sequence[str], targets: Sequence[str]
) -> list[tuple[list[float], list[Word]]]:
    """For each (source, translation): its tokens' log-probabilities (EOS included) and its
    scored words; both empty for an empty source."""
    src = [ids[:MAX_TOKENS] for ids in tokenizer.encode_src(sources)]
    tgt = [ids[:MAX_TOKENS] for ids in tokenizer.encode_tgt(targets)]
    scores = token_log_probs(model, src, tgt)
    return [
        (lp, as_written(words(tokenizer.tgt_pieces(ids), lp), text)) if s and lp else ([], [])
        for s, ids, lp, text in zip(src, tgt, scores, targets)
    ]


def as_written(scored: list[Word], text: str) -> list[Word]:
    """The scored words named as the translation writes them, where they line up one to one:
    SentencePiece spells a character its vocabulary lacks (a copied 😀) as <unk>."""
    written = text.split()
    if len(written) != len(scored):
        return scored
    return [Word(w, word.score) for w, word in zip(written, scored)]


def with_confidence(
    model: Seq2Seq, tokenizer: Tokenizer, translations: Iterable[Translation], window: int = 1000
) -> Iterator[tuple[Translation, Confidence]]:
    """Each translation of a stream with its confidence, scored in windows of `window`; a line
    translated sentence by sentence is read back sentence by sentence (given the whole line,
    the model would score a second sentence's words as if they had to follow the first's)."""
    stream = iter(translations)
    while chunk := list(islice(stream, window)):
        parts = [t.parts or [(t.source, t.text)] for t in chunk]
        pairs = [pair for line in parts for pair in line]
        scored = iter(scored_pairs(model, tokenizer, [s for s, _ in pairs], [t for _, t in pairs]))
        for translation, line in zip(chunk, parts):
            got = [next(scored) for _ in line]
            log_probs = [lp for lps, _ in got for lp in lps]
            found = [word for _, ws in got for word in ws]
            yield (
                translation,
                Confidence(sentence_score(log_probs), found) if log_probs else Confidence(0.0, []),
            )
