"""Greedy and beam search: agreement, optimality against greedy, n-best, batching, line bookkeeping."""

import torch
from toy import src_batch

from nmt_cli.config import EOS_ID, DecodeConfig
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.greedy import greedy
from nmt_cli.decoding.search import batch_budget, length_batches
from nmt_cli.decoding.translate import translate


class IdTokenizer:
    """Lines of space-separated ids; enough for `translate` on toy models."""

    def encode_src(self, lines):
        return [[int(w) for w in line.split()] for line in lines]

    def decode_tgt(self, ids):
        return [" ".join(map(str, x)) for x in ids]


def run(fn, model, pairs, **kw):
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        return fn(model, src, mask, DecodeConfig(**kw))


def test_beam_of_one_equals_greedy(trained):
    model, pairs = trained
    g = run(greedy, model, pairs, beam_size=1)
    b = run(beam_search, model, pairs, beam_size=1, length_penalty=0.0)
    assert [h.tokens for h in g] == [h[0].tokens for h in b]
    assert torch.allclose(
        torch.tensor([h.score for h in g]), torch.tensor([h[0].score for h in b]), atol=1e-4
    )


def test_beam_of_five_never_scores_below_greedy(trained):
    model, pairs = trained
    g = run(greedy, model, pairs, beam_size=1)
    b = run(beam_search, model, pairs, beam_size=5, length_penalty=0.0)
    for gh, bh in zip(g, b):
        assert bh[0].score >= gh.score - 1e-4


def test_nbest_is_sorted_and_complete(trained):
    model, pairs = trained
    b = run(beam_search, model, pairs[:20], beam_size=5, nbest=5, length_penalty=1.0)
    for hyps in b:
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5


def test_stopping_once_the_best_is_certain_gives_the_same_best_as_waiting_for_all_k(trained):
    model, pairs = trained
    best = run(beam_search, model, pairs[:40], beam_size=5, nbest=1, length_penalty=1.0)
    all_k = run(beam_search, model, pairs[:40], beam_size=5, nbest=5, length_penalty=1.0)
    assert [(h[0].tokens, round(h[0].score, 5)) for h in best] == [
        (h[0].tokens, round(h[0].score, 5)) for h in all_k
    ]


def test_beam_search_gets_twice_the_default_batch_budget_and_an_explicit_one_is_kept():
    assert batch_budget(DecodeConfig(beam_size=1), 5000) == 5000
    assert batch_budget(DecodeConfig(beam_size=5), 5000) == 10000
    assert batch_budget(DecodeConfig(beam_size=5, sampling="topk:5", nbest=3), 5000) == 5000
    assert batch_budget(DecodeConfig(beam_size=5, batch_tokens=777), 5000) == 777


def test_batched_search_equals_one_sentence_at_a_time(trained):
    model, pairs = trained
    pairs = pairs[:12]
    for fn, kw in ((greedy, {"beam_size": 1}), (beam_search, {"beam_size": 4})):
        together = run(fn, model, pairs, **kw)
        alone = [run(fn, model, [p], **kw)[0] for p in pairs]
        tokens = lambda hs: [h.tokens if hasattr(h, "tokens") else h[0].tokens for h in hs]  # noqa: E731
        assert tokens(together) == tokens(alone)


def test_translate_gives_one_output_per_line_in_order(trained):
    model, pairs = trained
    lines = [" ".join(map(str, p[0])) for p in pairs[:9]]
    lines[2:2] = ["", "   "]
    lines.append("")
    for beam in (1, 3):
        out = translate(model, IdTokenizer(), lines, DecodeConfig(beam_size=beam, batch_size=4))
        assert len(out) == len(lines)
        assert [o.source for o in out] == lines
        for o in out:
            if not o.source.strip():
                assert o.text == "" and o.hypotheses == []
        # sorting by length and restoring the order changes nothing: same as one at a time
        alone = [
            translate(model, IdTokenizer(), [line], DecodeConfig(beam_size=beam))[0].text for line in lines
        ]
        assert [o.text for o in out] == alone
        correct = sum(o.text.split() == o.source.split()[::-1] for o in out if o.source.strip())
        assert correct >= 8  # and the model does reverse


def test_attention_rows_cover_every_output_token_and_eos(trained):
    model, pairs = trained
    for fn, kw in ((greedy, {"beam_size": 1}), (beam_search, {"beam_size": 3})):
        hyps = run(fn, model, pairs[:10], keep_attention=True, **kw)
        for h, (src, _) in zip(hyps, pairs[:10]):
            h = h if hasattr(h, "tokens") else h[0]
            assert h.attention.shape[0] == len(h.tokens) + 1
            assert torch.allclose(h.attention.sum(-1), torch.ones(len(h.tokens) + 1), atol=1e-4)
            # columns past this sentence's source (+ EOS) are padding: exactly zero
            assert (h.attention[:, len(src) + 1 :] == 0).all()


def test_length_batches_cover_each_source_once_within_both_budgets():
    lengths = [5, 0, 30, 2, 2, 17, 9, 0, 1, 30, 12] * 7
    for beam, size, tokens in ((1, 256, 100), (5, 4, 400), (5, 256, 10)):
        cfg = DecodeConfig(beam_size=beam, batch_size=size, batch_tokens=tokens)
        batches = length_batches(lengths, cfg)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == [i for i, n in enumerate(lengths) if n]  # empties are left out
        assert [lengths[i] for i in flat] == sorted((n for n in lengths if n), reverse=True)
        for b in batches:
            assert len(b) <= size
            # a single over-budget sentence still gets a batch of its own
            assert len(b) == 1 or len(b) * (lengths[b[0]] + 1) * beam <= tokens


def test_dropping_finished_sentences_only_every_few_steps_changes_nothing(trained, monkeypatch):
    """On CUDA finished sentences leave the batch only every 4th step (to avoid host syncs):
    the rows that linger after their end must not change any result."""
    import nmt_cli.decoding.beam as beam
    import nmt_cli.decoding.greedy as greedy_module

    model, pairs = trained
    every_step = [run(greedy, model, pairs, beam_size=1), run(beam_search, model, pairs, beam_size=4)]
    for module in (greedy_module, beam):
        monkeypatch.setattr(module, "sync_now", lambda device, t: t % 4 == 3)
    lazy = [run(greedy, model, pairs, beam_size=1), run(beam_search, model, pairs, beam_size=4)]
    for a, b in zip(every_step[0], lazy[0]):
        assert a.tokens == b.tokens and abs(a.score - b.score) < 1e-5
    for a, b in zip(every_step[1], lazy[1]):
        assert [h.tokens for h in a] == [h.tokens for h in b]


def test_beam_attention_is_each_hypothesis_own_attention(trained):
    """The attention beam search keeps for every n-best hypothesis (traced back along the
    beams' backpointers, across reordering and finished sentences leaving the batch) is the
    attention of that hypothesis's own tokens, decoded one by one."""
    from nmt_cli.config import BOS_ID

    model, pairs = trained
    hyps = run(beam_search, model, pairs[:12], beam_size=4, nbest=4, keep_attention=True)
    checked = 0
    with torch.inference_mode():
        for nbest, (src_ids, _) in zip(hyps, pairs[:12]):
            src, mask = src_batch([(src_ids, [])])
            for h in nbest:
                memory = model.encode(src, mask)
                state = model.init_state(memory)
                rows = []
                for tok in [BOS_ID, *h.tokens]:
                    _, state, attn = model.decode_step(torch.tensor([tok]), memory, state)
                    rows.append(attn[0, : len(src_ids) + 1])
                expected = torch.stack(rows)
                assert torch.allclose(h.attention[:, : len(src_ids) + 1], expected, atol=1e-4)
                checked += 1
    assert checked > 12  # the n-best lists, not only the best


class EndsAtOnce:
    """A model that always puts EOS first: what a one-word fragment often gets from a real one."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        return getattr(self.model, name)

    def decode_step(self, prev, memory, state, attention):
        logits, state, attn = self.model.decode_step(prev, memory, state, attention)
        logits = logits.clone()
        logits[:, EOS_ID] += 100.0
        return logits, state, attn


def test_a_non_empty_source_never_gets_an_empty_translation(trained):
    """EOS is ruled out at the first step only: one token, then the model's EOS."""
    model, pairs = trained
    ends = EndsAtOnce(model)
    g = run(greedy, ends, pairs, beam_size=1)
    b = run(beam_search, ends, pairs, beam_size=4)
    assert all(len(h.tokens) == 1 and h.tokens[0] != EOS_ID for h in g)
    assert all(len(h[0].tokens) == 1 and h[0].tokens[0] != EOS_ID for h in b)


def test_entities_a_model_learned_from_escaped_text_become_characters_unless_the_source_has_them():
    from nmt_cli.decoding.translate import unescaped

    assert unescaped("Der Mann & die Frau.", "The man &amp; the woman.") == "The man & the woman."
    assert unescaped("a < b", "a &lt; b &gt; c &quot;d&quot;") == 'a < b > c "d"'
    assert unescaped("Schreibe &amp; in HTML.", "Write &amp; in HTML.") == "Write &amp; in HTML."
    assert unescaped("x", "AT&T and &nbsp;") == "AT&T and &nbsp;"  # only the five of markup


def test_library_callers_get_the_refusals_the_cli_gives(trained):
    """A line break inside a line (two sentences given together lose the second) and settings
    no search can run are one NMTError, as the CLI's options refuse them."""
    import pytest

    from nmt_cli.errors import NMTError

    model, _ = trained
    for cfg, lines, message in (
        (DecodeConfig(), ["ein hund.\nzwei katzen."], "line 1 holds a line break"),
        (DecodeConfig(beam_size=0), ["ein hund"], "beam_size=0"),
        (DecodeConfig(beam_size=2, nbest=3), ["ein hund"], "beam_size=2"),
        (DecodeConfig(max_len_ratio=float("nan")), ["ein hund"], "max_len_ratio=nan"),
    ):
        with pytest.raises(NMTError, match=message):
            translate(model, IdTokenizer(), lines, cfg)
