"""Lexically constrained search on the toy reversal models: forced terms that the model would
never produce appear exactly once, with greedy and beam search, for ensembles too."""

import logging

import pytest
import torch
from toy import src_batch

from nmt_cli.config import DecodeConfig
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.constraints import Constraints, fit_terms
from nmt_cli.decoding.greedy import greedy
from nmt_cli.models.ensemble import Ensemble


def count(seq: list[int], term: list[int]) -> int:
    return sum(seq[i : i + len(term)] == term for i in range(len(seq) - len(term) + 1))


def decode(model, pairs, terms, beam: int, **kw):
    src, mask = src_batch(pairs)
    cons = Constraints.build([terms] * len(pairs), src.device)
    cfg = DecodeConfig(beam_size=beam, **kw)
    with torch.inference_mode():
        if beam == 1:
            return [h.tokens for h in greedy(model, src, mask, cfg, constraints=cons)]
        return [hs[0].tokens for hs in beam_search(model, src, mask, cfg, cons)]


def improbable(pairs) -> list[int]:
    """Two tokens in a row that no reversed source of these pairs contains."""
    for a in range(4, 20):
        for b in range(4, 20):
            if all(count(p[1], [a, b]) == 0 for p in pairs):
                return [a, b]
    raise AssertionError("no improbable bigram")


@pytest.mark.parametrize("beam", [1, 4])
def test_a_forced_term_appears_exactly_once(trained, beam):
    model, pairs = trained
    pairs = pairs[:30]
    term = improbable(pairs)
    assert all(count(h, term) == 0 for h in decode(model, pairs, [], beam))
    for hyp in decode(model, pairs, [term], beam):
        assert count(hyp, term) == 1


@pytest.mark.parametrize("beam", [1, 5])
def test_two_terms_both_appear(trained, beam):
    model, pairs = trained
    pairs = pairs[:30]
    first = improbable(pairs)
    second = [first[1], first[0] + 1 if first[0] < 19 else 4, 7]
    for hyp in decode(model, pairs, [first, second], beam):
        assert count(hyp, first) >= 1 and count(hyp, second) >= 1


@pytest.mark.parametrize("beam", [1, 5])
def test_overlapping_terms_both_appear(trained, beam):
    """Terms that share tokens ([a b] and [b c]) are each produced, not one inside the other."""
    model, pairs = trained
    pairs = pairs[:20]
    a, b = improbable(pairs)
    c = 4 if b != 4 else 5
    for hyp in decode(model, pairs, [[a, b], [b, c]], beam):
        assert count(hyp, [a, b]) >= 1 and count(hyp, [b, c]) >= 1


@pytest.mark.parametrize("beam", [1, 4])
def test_an_ensemble_is_constrained_like_a_model(trained, beam):
    model, pairs = trained
    pairs = pairs[:10]
    term = improbable(pairs)
    assert decode(Ensemble([model]), pairs, [term], beam) == decode(model, pairs, [term], beam)


def test_sentences_without_terms_decode_as_without_constraints(trained):
    model, pairs = trained
    pairs = pairs[:20]
    src, mask = src_batch(pairs)
    term = improbable(pairs)
    terms = [[term] if i % 2 else [] for i in range(len(pairs))]
    cons = Constraints.build(terms, src.device)
    cfg = DecodeConfig(beam_size=4)
    with torch.inference_mode():
        plain = beam_search(model, src, mask, cfg)
        mixed = beam_search(model, src, mask, cfg, cons)
    for i, (a, b) in enumerate(zip(plain, mixed)):
        if i % 2 == 0:
            assert a[0].tokens == b[0].tokens
        else:
            assert count(b[0].tokens, term) == 1


def test_tracking_follows_a_term_through_a_sequence():
    cons = Constraints.build([[[5, 6, 7], [9]]], torch.device("cpu"))
    for tok in [5, 6, 4, 5, 6, 7, 9]:  # a false start, then the term, then the second
        cons = cons.advance(torch.tensor([tok]))
    assert bool(cons.met.all()) and int(cons.remaining()) == 0


def test_a_term_that_cannot_fit_is_left_out_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="nmt_cli"):
        kept = fit_terms([[5, 6], list(range(4, 20))], 10, ["short", "very long term"])
    assert kept == [[5, 6]]
    assert "'very long term'" in caplog.text and "does not fit" in caplog.text


def test_greedy_places_a_term_where_the_model_attends_to_its_source(trained):
    """Without its source span, greedy search can only put a term the model would not write
    where the model wants to end; with it, the term begins at the first step whose attention
    peaks on the term's source subwords (here the last one: the toy models reverse)."""
    model, pairs = trained
    term = improbable(pairs[:60])
    pairs = [p for p in pairs[:60] if len(p[0]) >= 5 and term[0] not in p[0]][:20]
    src, mask = src_batch(pairs)
    cfg = DecodeConfig(beam_size=1, keep_attention=True)
    last = [[(len(p[0]) - 1, len(p[0]))] for p in pairs]
    with torch.inference_mode():
        at_end = greedy(
            model, src, mask, cfg, constraints=Constraints.build([[term]] * len(pairs), src.device)
        )
        cons = Constraints.build([[term]] * len(pairs), src.device, spans=last)
        placed = greedy(model, src, mask, cfg, constraints=cons)
    assert all(count(h.tokens, term) == 1 and h.tokens[:2] != term for h in at_end)
    moved = 0
    for h, (start, end) in zip(placed, (s[0] for s in last)):
        assert count(h.tokens, term) == 1
        peaks = h.attention.argmax(-1).tolist()
        first = next(t for t, at in enumerate(peaks) if start <= at < end or t == len(h.tokens) - 2)
        assert h.tokens[first : first + 2] == term
        moved += first < len(h.tokens) - 2
    assert moved >= len(pairs) // 2


def test_a_required_token_costs_a_hypothesis_at_most_a_uniform_guess():
    """Beam search under constraints: a term token the model finds far less likely than chance
    is scored at log(1/V), so placing the term where it belongs does not lose, by length
    normalisation, to appending it after the sentence ('The dog is running. hound.')."""
    import math

    from nmt_cli.decoding.beam import _constrained_step

    vocab, k = 50, 2
    logits = torch.zeros(k, vocab)
    logits[:, 7] = -40.0  # the required token: far below chance
    logp = torch.log_softmax(logits, -1)
    cons = Constraints.build([[[7]]], torch.device("cpu")).select(torch.zeros(k, dtype=torch.long))
    scores = torch.tensor([[0.0, -math.inf]])
    top_s, toks, _, _ = _constrained_step(logp, scores, cons, k)
    placed = top_s[toks == 7]
    assert placed.numel() == 1 and placed.item() == pytest.approx(-math.log(vocab))
    others = top_s[(toks != 7) & torch.isfinite(top_s)]
    assert torch.allclose(others, logp[0, 0].expand_as(others))  # the rest keep their own


def test_a_finished_term_is_not_continued_by_a_glued_piece():
    """After a term, no piece that glues onto its last word: a letter or digit ("Berlin" ->
    "Berlins"), or a separator and a digit (a copied 3 -> 3:30); punctuation and new words may."""
    from nmt_cli.decoding.constraints import joining_pieces

    pieces = ["▁Hund", "s", "9", ":30", ".000", ",5", ".", ",", "▁3", ":", "-"]
    assert joining_pieces(pieces).tolist() == [
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
