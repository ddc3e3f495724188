"""Attention as word alignment: soft matrices, subword-to-word merging, hard links, and the
alignment of a list of sentence pairs (align_pairs).

The weights a model attends with while it emits a target token are a soft alignment of that
token to the source (Bahdanau et al., 2015); their argmax per target word is a hard alignment.
Alignments are written as Pharaoh links or JSON; gold alignments and AER are in aer.py, forced
decoding in forced.py, the windows of input `nmt align` reads in windows.py, and whole corpora,
both directions symmetrised, in corpus.py.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch
from torch import Tensor

from nmt_cli.alignment.aer import Link
from nmt_cli.alignment.forced import force_decode
from nmt_cli.config import DecodeConfig, Level
from nmt_cli.data.tokenizer import Tokenizer, normalize
from nmt_cli.decoding.translate import translate
from nmt_cli.errors import NMTError
from nmt_cli.models.seq2seq import Seq2Seq

LinkRule = Literal["argmax", "mutual"]  # how hard links are read from soft ones (hard_links)

WORD_MARK = "▁"  # SentencePiece marks the first piece of every word with it


@dataclass
class Alignment:
    """How a model aligns one sentence pair: rows are target tokens, columns source tokens."""

    source: str
    target: str
    src_tokens: list[str]
    tgt_tokens: list[str]
    weights: list[list[float]]  # (T, S); each row sums to 1 over the source tokens
    eos_mass: list[float]  # (T,) share of each row's attention on the source EOS, removed
    links: list[Link]  # hard alignment, sorted
    score: float | None  # log-probability of the target (see align_pairs); None: nothing decoded


def drop_eos(attention: Tensor) -> tuple[Tensor, Tensor]:
    """Split off what EOS takes: (T+1, S+1) with the EOS row and column -> (T, S) and (T,).

    The target EOS row is not a word and is dropped. The source EOS column often soaks up the
    attention of tokens with no clear counterpart; its share is reported as `eos_mass` and each
    row is renormalised over the real source tokens, so rows stay comparable distributions.
    """
    rows = attention[:-1].float()
    total = rows.sum(1).clamp_min(1e-9)  # 1 for softmax attention, less for local-p windows
    real = rows[:, :-1]
    return real / real.sum(1, keepdim=True).clamp_min(1e-9), rows[:, -1] / total


def word_groups(pieces: Sequence[str]) -> list[list[int]]:
    """Piece indices of each word: a piece that starts with the ▁ marker starts a new word.

    A piece that is only markers (a bare ▁, which a model may emit before another word-start
    piece) is no word of its own: it joins the word after it, or the last one at the end, so
    the groups are the words of the decoded text, `"".join(pieces).replace("▁", " ").split()`.
    """
    groups: list[list[int]] = []
    pending: list[int] = []  # bare markers waiting for the word they start
    for i, piece in enumerate(pieces):
        if not piece.replace(WORD_MARK, "").strip():
            pending.append(i)
        elif piece.startswith(WORD_MARK) or pending or not groups:
            groups.append([*pending, i])
            pending = []
        else:
            groups[-1].append(i)
    if pending and groups:
        groups[-1].extend(pending)
    return groups


def word_labels(pieces: Sequence[str], groups: Sequence[Sequence[int]], text: str) -> list[str]:
    """The words of `text` when they match the groups (so unknown characters show as
    themselves, not as <unk>), else each group's pieces joined."""
    words = normalize(text).split()
    if len(words) == len(groups):
        return words
    return ["".join(pieces[i] for i in g).replace(WORD_MARK, "") for g in groups]


def _membership(groups: Sequence[Sequence[int]], n: int, mean: bool) -> Tensor:
    """(groups, n) 0/1 matrix of which piece is in which group, rows averaged when `mean`."""
    m = torch.zeros(len(groups), n)
    for g, members in enumerate(groups):
        m[g, list(members)] = 1.0 / len(members) if mean else 1.0
    return m


def merge_pieces(
    weights: Tensor,
    eos_mass: Tensor,
    tgt_groups: Sequence[Sequence[int]],
    src_groups: Sequence[Sequence[int]],
) -> tuple[Tensor, Tensor]:
    """Word-level weights: the sum over a source word's pieces of the mean over a target word's.

    Averaging target pieces keeps every row a distribution, whatever the word's length; summing
    source pieces gives a word all the attention its pieces receive. (T, S) -> (Tw, Sw).
    """
    tgt = _membership(tgt_groups, weights.size(0), mean=True)  # (Tw, T)
    src = _membership(src_groups, weights.size(1), mean=False)  # (Sw, S)
    return tgt @ weights @ src.T, tgt @ eos_mass


# A target word's own argmax joins the mutual links when at least this sure (LinkRule
# "mutual"); chosen on the development gold, 0.5-0.7 within 0.5 AER points (docs/alignment.md).
CONFIDENT = 0.6


def hard_links(weights: Tensor, threshold: float | None = None, rule: LinkRule = "argmax") -> set[Link]:
    """Hard (source, target) links from a (target × source) weight matrix: every weight ≥
    `threshold` when given; else by `rule`: "argmax", the strongest source token of each target
    token; "mutual", the cells strongest in both their row and column (SimAlign's ArgMax,
    Jalili Sabet et al., 2020), which drops the weak guesses of words with no counterpart, plus
    each target token's argmax where its weight is at least CONFIDENT."""
    if weights.numel() == 0:
        return set()
    if threshold is not None:
        return {(s, t) for t, s in (weights >= threshold).nonzero().tolist()}
    best = weights.max(1)
    rows = {(s, t) for t, s in enumerate(best.indices.tolist())}
    if rule == "argmax":
        return rows
    mutual = rows & {(s, t) for s, t in enumerate(weights.argmax(0).tolist())}
    sure = {
        (s, t) for t, (s, w) in enumerate(zip(best.indices.tolist(), best.values.tolist())) if w >= CONFIDENT
    }
    return mutual | sure


def shift_by_one(attention: Tensor) -> Tensor:
    """Each target token's row from the step that reads it as input, not the one that emits it
    (Chen et al., 2020): rows 1..T of (T+1, S+1), the last repeated to keep the shape."""
    return torch.cat([attention[1:], attention[-1:]]) if attention.size(0) > 1 else attention


def to_alignment(
    pair: tuple[str, str],
    pieces: tuple[list[str], list[str]],
    attention: Tensor,
    score: float | None,
    *,
    level: Level,
    threshold: float | None,
    shift: bool = False,
    rule: LinkRule = "mutual",
) -> Alignment:
    """An Alignment from a (source, target) pair, their pieces and raw attention (T+1, S+1);
    with `shift`, read one step later (shift_by_one); links by `threshold` or `rule`
    (hard_links)."""
    (source, target), (src_pieces, tgt_pieces) = pair, pieces
    attention = shift_by_one(attention) if shift else attention
    weights, eos = drop_eos(attention.cpu())
    src_tokens, tgt_tokens = src_pieces, tgt_pieces
    if level == "word":
        src_groups, tgt_groups = word_groups(src_pieces), word_groups(tgt_pieces)
        weights, eos = merge_pieces(weights, eos, tgt_groups, src_groups)
        src_tokens = word_labels(src_pieces, src_groups, source)
        tgt_tokens = word_labels(tgt_pieces, tgt_groups, target)
    links = sorted(hard_links(weights, threshold, rule))
    return Alignment(source, target, src_tokens, tgt_tokens, weights.tolist(), eos.tolist(), links, score)


def align_pairs(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    sources: Sequence[str],
    targets: Sequence[str] | None = None,
    decode_cfg: DecodeConfig | None = None,
    *,
    level: Level = "word",
    threshold: float | None = None,
    shift: bool | None = None,
    rule: LinkRule = "mutual",
) -> list[Alignment]:
    """Align each source with its translation by the model, or with the given target.

    Without `targets` the sources are translated with `decode_cfg` and `score` is the search
    score (length-normalised under beam search); an empty source gives an empty Alignment.
    With `targets` each one is force-decoded and `score` is its log-probability including EOS.
    `level="word"` merges subword pieces into words (see merge_pieces); hard links are made
    by `rule`, or are every weight ≥ `threshold` when given (hard_links). `decode_cfg.attention`
    picks the attention read (a Transformer's layer and head); `shift` reads each token's
    attention one step later (shift_by_one); None: as the model was trained to align
    (ModelConfig.align_shift).
    """
    cfg = replace(decode_cfg or DecodeConfig(), keep_attention=True)
    shift = model.cfg.align_shift if shift is None else shift
    read = functools.partial(to_alignment, level=level, threshold=threshold, shift=shift, rule=rule)
    model.check_attention(cfg.attention)
    if targets is None:
        out = []
        for tr in translate(model, tokenizer, sources, cfg):
            if not tr.hypotheses:  # empty, or copied whole (only protected spans): word for word
                words = tr.text.split()
                eye = [[float(i == j) for j in range(len(words))] for i in range(len(words))]
                links = [(i, i) for i in range(len(words))]
                out.append(Alignment(tr.source, tr.text, words, words, eye, [0.0] * len(words), links, None))
                continue
            best = tr.hypotheses[0]
            assert best.attention is not None
            pieces = (tokenizer.src_pieces(tr.src_ids), tokenizer.tgt_pieces(best.tokens))
            attention = best.attention[:, : len(tr.src_ids) + 1]  # drop the batch's padding columns
            pair = (tr.source, tr.text)
            out.append(read(pair, pieces, attention, best.score))
        return out
    if len(targets) != len(sources):
        raise NMTError(f"{len(sources)} sources but {len(targets)} targets")
    src_ids, tgt_ids = tokenizer.encode_src(sources), tokenizer.encode_tgt(targets)
    forced = force_decode(model, src_ids, tgt_ids, cfg.batch_size, cfg.attention)
    out = []
    for s, t, si, ti, (attn, score) in zip(sources, targets, src_ids, tgt_ids, forced, strict=True):
        pieces = (tokenizer.src_pieces(si), tokenizer.tgt_pieces(ti))
        out.append(read((s, t), pieces, attn, score))
    return out


def to_pharaoh(links: Collection[Link]) -> str:
    """`i-j` for each link (source i, target j), as fast_align and GIZA++ write them."""
    return " ".join(f"{s}-{t}" for s, t in sorted(links))


def to_json(alignment: Alignment, digits: int = 4) -> str:
    """One JSON object: tokens, rounded weights, EOS mass, links as [source, target], score."""
    data = asdict(alignment)
    data["weights"] = [[round(w, digits) for w in row] for row in alignment.weights]
    data["eos_mass"] = [round(m, digits) for m in alignment.eos_mass]
    data["links"] = [list(link) for link in alignment.links]
    from nmt_cli.io.lines import json_line

    return json_line(data)
