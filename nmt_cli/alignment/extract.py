"""Attention as word alignment: soft matrices, subword-to-word merging, hard links, the
intersection of two directions, and the windows of input `nmt align` reads.

The weights a model attends with while it emits a target token are a soft alignment of that
token to the source (Bahdanau et al., 2015); their argmax per target word is a hard alignment.
Alignments are written as Pharaoh links or JSON; gold alignments and AER are in aer.py.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from nmt_cli.alignment.aer import GoldLinks, Link

# Re-exported: the code of `nmt align` (cli.py) imports these three from here.
from nmt_cli.alignment.aer import GoldOrder as GoldOrder
from nmt_cli.alignment.aer import alignment_error as alignment_error
from nmt_cli.alignment.aer import read_gold as read_gold
from nmt_cli.alignment.symmetrize import Heuristic, symmetrize

# Re-exported: align_files.py and the tests read windows from here.
from nmt_cli.alignment.windows import read_windows as read_windows
from nmt_cli.alignment.windows import split_pairs as split_pairs
from nmt_cli.config import DEFAULT_ATTENTION, PAD_ID, AttentionChoice, DecodeConfig, Level
from nmt_cli.data.batch import collate
from nmt_cli.data.tokenizer import Tokenizer, normalize
from nmt_cli.decoding.search import translate
from nmt_cli.errors import NMTError
from nmt_cli.models.seq2seq import Seq2Seq

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


def hard_links(weights: Tensor, threshold: float | None = None) -> set[Link]:
    """The strongest source token of each target token, or every link with weight ≥ threshold."""
    if weights.numel() == 0:
        return set()
    if threshold is None:
        return {(s, t) for t, s in enumerate(weights.argmax(1).tolist())}
    return {(s, t) for t, s in (weights >= threshold).nonzero().tolist()}


def shift_by_one(attention: Tensor) -> Tensor:
    """Each target token's row from the step that reads it as input, not the one that emits it
    (Chen et al., 2020): rows 1..T of (T+1, S+1), the last repeated to keep the shape."""
    return torch.cat([attention[1:], attention[-1:]]) if attention.size(0) > 1 else attention


def to_alignment(
    pair: tuple[str, str],
    pieces: tuple[list[str], list[str]],
    attention: Tensor,
    score: float | None,
    level: Level,
    threshold: float | None,
    shift: bool = False,
) -> Alignment:
    """An Alignment from a (source, target) pair, their pieces and raw attention (T+1, S+1);
    with `shift`, read one step later (shift_by_one)."""
    (source, target), (src_pieces, tgt_pieces) = pair, pieces
    attention = shift_by_one(attention) if shift else attention
    weights, eos = drop_eos(attention.cpu())
    src_tokens, tgt_tokens = src_pieces, tgt_pieces
    if level == "word":
        src_groups, tgt_groups = word_groups(src_pieces), word_groups(tgt_pieces)
        weights, eos = merge_pieces(weights, eos, tgt_groups, src_groups)
        src_tokens = word_labels(src_pieces, src_groups, source)
        tgt_tokens = word_labels(tgt_pieces, tgt_groups, target)
    links = sorted(hard_links(weights, threshold))
    return Alignment(source, target, src_tokens, tgt_tokens, weights.tolist(), eos.tolist(), links, score)


def force_decode(
    model: Seq2Seq,
    src_ids: Sequence[Sequence[int]],
    tgt_ids: Sequence[Sequence[int]],
    batch_size: int,
    attention: AttentionChoice = DEFAULT_ATTENTION,
) -> list[tuple[Tensor, float]]:
    """Teacher-force each target: its `attention` (T+1, S+1), EOS row and column included, and
    its log-probability (the sum over its tokens and EOS)."""
    device = next(model.parameters()).device  # type: ignore[attr-defined]
    results: list[tuple[Tensor, float]] = [(torch.zeros(0), 0.0)] * len(src_ids)
    order = sorted(range(len(src_ids)), key=lambda i: -len(src_ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            b = collate([src_ids[i] for i in idx], [tgt_ids[i] for i in idx])
            tgt_out = b.tgt_out.to(device)
            logits, attn = model(
                b.src.to(device), b.src_mask.to(device), b.tgt_in.to(device), True, attention
            )
            assert attn is not None
            attn = attn.float().cpu()  # one transfer per batch, not per sentence
            logp = torch.log_softmax(logits.float(), dim=-1)
            logp = logp.gather(-1, tgt_out.unsqueeze(-1)).squeeze(-1)  # (B, T)
            scores = logp.masked_fill(tgt_out == PAD_ID, 0.0).sum(1)  # (B,)
            for row, i in enumerate(idx):
                a = attn[row, : len(tgt_ids[i]) + 1, : len(src_ids[i]) + 1]
                results[i] = (a, float(scores[row]))
    return results


def align_pairs(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    sources: Sequence[str],
    targets: Sequence[str] | None = None,
    decode_cfg: DecodeConfig | None = None,
    level: Level = "word",
    threshold: float | None = None,
    shift: bool = False,
) -> list[Alignment]:
    """Align each source with its translation by the model, or with the given target.

    Without `targets` the sources are translated with `decode_cfg` and `score` is the search
    score (length-normalised under beam search); an empty source gives an empty Alignment.
    With `targets` each one is force-decoded and `score` is its log-probability including EOS.
    `level="word"` merges subword pieces into words (see merge_pieces); hard links are the
    argmax per target token, or every weight ≥ `threshold` when given. `decode_cfg.attention`
    picks the attention read (a Transformer's layer and head); `shift` reads each token's
    attention one step later (shift_by_one).
    """
    cfg = replace(decode_cfg or DecodeConfig(), keep_attention=True)
    model.check_attention(cfg.attention)
    if targets is None:
        out = []
        for tr in translate(model, tokenizer, sources, cfg):
            if not tr.hypotheses:
                out.append(Alignment(tr.source, "", [], [], [], [], [], None))
                continue
            best = tr.hypotheses[0]
            assert best.attention is not None
            pieces = (tokenizer.src_pieces(tr.src_ids), tokenizer.tgt_pieces(best.tokens))
            attention = best.attention[:, : len(tr.src_ids) + 1]  # drop the batch's padding columns
            pair = (tr.source, tr.text)
            out.append(to_alignment(pair, pieces, attention, best.score, level, threshold, shift))
        return out
    if len(targets) != len(sources):
        raise NMTError(f"{len(sources)} sources but {len(targets)} targets")
    src_ids, tgt_ids = tokenizer.encode_src(sources), tokenizer.encode_tgt(targets)
    forced = force_decode(model, src_ids, tgt_ids, cfg.batch_size, cfg.attention)
    out = []
    for s, t, si, ti, (attn, score) in zip(sources, targets, src_ids, tgt_ids, forced, strict=True):
        pieces = (tokenizer.src_pieces(si), tokenizer.tgt_pieces(ti))
        out.append(to_alignment((s, t), pieces, attn, score, level, threshold, shift))
    return out


def intersect(forward: Sequence[Alignment], reverse: Sequence[Alignment]) -> list[Alignment]:
    """Keep only the links both directions agree on (see combine)."""
    return combine(forward, reverse, "intersect")


def combine(
    forward: Sequence[Alignment], reverse: Sequence[Alignment], heuristic: Heuristic
) -> list[Alignment]:
    """The forward alignments with their links symmetrised with the reverse ones by `heuristic`;
    `reverse[i]` aligns pair i with source and target swapped (by a target-to-source model), so
    its links are transposed first."""
    if len(forward) != len(reverse):
        raise NMTError(f"{len(forward)} forward alignments but {len(reverse)} reverse ones")
    out = []
    for f, r in zip(forward, reverse, strict=True):
        if len(r.src_tokens) != len(f.tgt_tokens) or len(r.tgt_tokens) != len(f.src_tokens):
            raise NMTError(f"the reverse model splits {f.source!r} ||| {f.target!r} into other tokens")
        back = {(s, t) for t, s in r.links}
        out.append(replace(f, links=sorted(symmetrize(f.links, back, heuristic))))
    return out


def align_corpus(
    model: Seq2Seq,
    tokenizer: Tokenizer,
    windows: Iterable[tuple[list[str], list[str] | None]],
    decode_cfg: DecodeConfig,
    level: Level = "word",
    threshold: float | None = None,
    reverse: tuple[Seq2Seq, Tokenizer] | None = None,
    shift: bool = False,
    heuristic: Heuristic = "grow-diag-final-and",
) -> Iterator[Alignment]:
    """Align window after window of (sources, targets or None), as align_pairs does; with a
    `reverse` target-to-source model, symmetrise both directions' links by `heuristic`.

    The reverse model reads its default attention: `decode_cfg.attention` names a layer and
    head of the forward model.
    """
    back_cfg = replace(decode_cfg, attention=DEFAULT_ATTENTION)
    for sources, targets in windows:
        pairs = align_pairs(model, tokenizer, sources, targets, decode_cfg, level, threshold, shift)
        if reverse is not None:
            swapped = [a.target for a in pairs], [a.source for a in pairs]
            back = align_pairs(*reverse, *swapped, back_cfg, level, threshold, shift)
            pairs = combine(pairs, back, heuristic)
        yield from pairs


def to_pharaoh(links: Collection[Link]) -> str:
    """`i-j` for each link (source i, target j), as fast_align and GIZA++ write them."""
    return " ".join(f"{s}-{t}" for s, t in sorted(links))


def to_json(alignment: Alignment, digits: int = 4) -> str:
    """One JSON object: tokens, rounded weights, EOS mass, links as [source, target], score."""
    data = asdict(alignment)
    data["weights"] = [[round(w, digits) for w in row] for row in alignment.weights]
    data["eos_mass"] = [round(m, digits) for m in alignment.eos_mass]
    data["links"] = [list(link) for link in alignment.links]
    return json.dumps(data, ensure_ascii=False)


def check_gold_range(gold: GoldLinks, alignment: Alignment, path: str | Path, line: int) -> None:
    """Refuse gold links outside the sentence pair they score: a typo, not a missed link."""
    n_src, n_tgt = len(alignment.src_tokens), len(alignment.tgt_tokens)
    for s, t in sorted(gold.possible):
        if s >= n_src or t >= n_tgt:
            raise NMTError(
                f"{path}: line {line}: link {s}-{t} (source-target) is outside the pair of "
                f"{n_src} source and {n_tgt} target words"
            )


def within_gold_ranges(
    alignments: Iterable[Alignment], gold: Sequence[GoldLinks], path: str | Path
) -> Iterator[Alignment]:
    """Pass alignments through, refusing the first gold line with a link outside its pair."""
    for i, a in enumerate(alignments):
        if i < len(gold):
            check_gold_range(gold[i], a, path, i + 1)
        yield a
