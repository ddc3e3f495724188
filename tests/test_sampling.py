"""Sampling (top-k, nucleus, full, temperature, seeds) and n-gram blocking in every search."""

import pytest
import torch
from conftest import rnn_config, transformer_config
from hypothesis import given, settings
from hypothesis import strategies as st
from toy import make_pairs, src_batch

from nmt_cli.config import BOS_ID, EOS_ID, DecodeConfig
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.greedy import greedy, sample
from nmt_cli.decoding.sampling import Sampler, Sampling, block_repeats, restrict
from nmt_cli.decoding.search import make_sampler
from nmt_cli.decoding.translate import translate
from nmt_cli.errors import NMTError
from nmt_cli.models.seq2seq import build_model


class IdTokenizer:
    def encode_src(self, lines):
        return [[int(w) for w in line.split()] for line in lines]

    def decode_tgt(self, ids):
        return [" ".join(map(str, x)) for x in ids]


def draw(model, pairs, **kw):
    cfg = DecodeConfig(beam_size=1, **kw)
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        return sample(model, src, mask, cfg, make_sampler(cfg, torch.device("cpu")))


def tokens(hyps):
    return [[h.tokens for h in hs] for hs in hyps]


@pytest.fixture(scope="module")
def untrained():
    """Random weights: their outputs repeat themselves, which is what blocking must prevent."""
    torch.manual_seed(3)
    models = [build_model(rnn_config(vocab_size=12, src_vocab_size=12)), build_model(transformer_config())]
    return [m.eval() for m in models]


def test_top_k_of_one_equals_greedy(trained):
    model, pairs = trained
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        g = greedy(model, src, mask, DecodeConfig(beam_size=1))
    for temperature in (1.0, 3.0):
        s = draw(model, pairs, sampling="topk:1", temperature=temperature, seed=7)
        assert [h[0].tokens for h in s] == [h.tokens for h in g]
        assert torch.allclose(torch.tensor([h[0].score for h in s]), torch.tensor([h.score for h in g]))


def test_a_fixed_seed_repeats_and_different_seeds_differ(untrained):
    pairs = make_pairs(30, 12, 3, 8, "copy", seed=5)
    for model in untrained:
        for spec in ("full", "topk:5", "topp:0.9"):
            a = draw(model, pairs, sampling=spec, nbest=3, seed=11)
            assert tokens(a) == tokens(draw(model, pairs, sampling=spec, nbest=3, seed=11))
            assert tokens(a) != tokens(draw(model, pairs, sampling=spec, nbest=3, seed=12))


def test_nbest_samples_are_sorted_and_differ(untrained):
    pairs = make_pairs(20, 12, 3, 8, "copy", seed=1)
    for hyps in draw(untrained[0], pairs, sampling="full", nbest=4, temperature=2.0):
        assert len(hyps) == 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert any(
        len({tuple(h.tokens) for h in hs}) > 1 for hs in draw(untrained[0], pairs, sampling="full", nbest=4)
    )


def test_top_k_and_top_p_keep_exactly_their_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]]))
    assert torch.isfinite(restrict(logits, Sampling("topk", 2))).sum(1).tolist() == [2, 2]
    kept = torch.isfinite(restrict(logits, Sampling("topp", 0.8))).tolist()
    assert kept == [[True, True, False, False], [False, False, True, True]]
    # the most probable token is kept even when it alone exceeds p
    assert torch.isfinite(restrict(logits, Sampling("topp", 0.1))).sum(1).tolist() == [1, 1]
    # samples come only from the kept tokens
    sampler = Sampler(Sampling("topk", 2), 5.0, 0, torch.device("cpu"))
    drawn = sampler(logits.repeat(500, 1)).view(500, 2)
    assert set(drawn[:, 0].tolist()) == {0, 1} and set(drawn[:, 1].tolist()) == {2, 3}


def test_top_k_keeps_k_tokens_even_when_others_tie_with_the_kth():
    logits = torch.tensor([[2.0, 1.0, 1.0, 1.0, 0.0]])  # ties, as bf16-rounded logits have
    assert torch.isfinite(restrict(logits, Sampling("topk", 2))).sum().item() == 2
    one = Sampler(Sampling("topk", 1), 1.0, 0, torch.device("cpu"))
    tied = torch.tensor([[1.0, 3.0, 3.0, 0.0]]).repeat(200, 1)
    assert set(one(tied).tolist()) == {tied[0].argmax().item()}  # greedy's choice, every time


@pytest.mark.parametrize("text", ["topk", "topk:0", "topp:1.5", "topp:x", "nucleus:0.9", "full:3"])
def test_bad_sampling_specs_are_refused(text):
    with pytest.raises(NMTError, match="--sampling"):
        Sampling.parse(text)


def test_non_positive_temperature_is_refused():
    with pytest.raises(NMTError, match="--temperature"):
        Sampler(Sampling("full"), 0.0, 1, torch.device("cpu"))


def repeats(seq: list[int], n: int) -> bool:
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    return len(grams) != len(set(grams))


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 3), seed=st.integers(0, 10_000), which=st.integers(0, 1))
def test_no_output_repeats_an_ngram_when_blocked(untrained, n, seed, which):
    model = untrained[which]
    pairs = make_pairs(12, 12, 2, 8, "copy", seed=seed)
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        unblocked = [h.tokens for h in greedy(model, src, mask, DecodeConfig(beam_size=1))]
        outputs = [h.tokens for h in greedy(model, src, mask, DecodeConfig(beam_size=1, no_repeat_ngram=n))]
        for hs in beam_search(model, src, mask, DecodeConfig(beam_size=3, nbest=3, no_repeat_ngram=n)):
            outputs += [h.tokens for h in hs]
    outputs += [
        h.tokens
        for hs in draw(model, pairs, sampling="full", nbest=2, seed=seed, no_repeat_ngram=n)
        for h in hs
    ]
    assert any(repeats(t, n) for t in unblocked)  # the task is not trivially met
    assert not any(repeats(t, n) for t in outputs)


def reference_greedy(model, src_ids: list[int], n: int, max_len: int) -> list[int]:
    """Greedy search one sentence at a time, with repeated n-grams banned by Python lists and
    no EOS first."""
    src = torch.tensor([src_ids + [EOS_ID]])
    memory = model.encode(src, src != 0)
    state, prev, out = model.init_state(memory), torch.tensor([BOS_ID]), []
    for _ in range(max_len):
        logits, state, _ = model.decode_step(prev, memory, state)
        logp = torch.log_softmax(logits.float(), -1)[0]
        seen = {tuple(out[i : i + n]) for i in range(len(out) - n + 1)}
        for tok in range(logp.numel()):
            if tok != EOS_ID and len(out) >= n - 1 and tuple(out[len(out) - n + 1 :] + [tok]) in seen:
                logp[tok] = -float("inf")
        if not out:  # a non-empty source never translates to nothing
            logp[EOS_ID] = -float("inf")
        tok = int(logp.argmax())
        if tok == EOS_ID:
            break
        out.append(tok)
        prev = torch.tensor([tok])
    return out


def test_batched_blocking_equals_one_sentence_reference(untrained):
    pairs = make_pairs(10, 12, 2, 6, "copy", seed=2)
    src, mask = src_batch(pairs)
    for model in untrained:
        for n in (1, 2, 3):
            with torch.inference_mode():
                hyps = greedy(
                    model, src, mask, DecodeConfig(beam_size=1, no_repeat_ngram=n, max_len_ratio=1.0)
                )
                for (s, _), h in zip(pairs, hyps):
                    if len(h.tokens) < len(s) + 11:  # not cut by the length limit
                        assert h.tokens == reference_greedy(model, s, n, 100)


def test_block_repeats_bans_exactly_the_completing_tokens():
    prefix = torch.tensor([[4, 5, 4, 6, 4], [7, 7, 7, 7, 7]])
    logp = torch.zeros(2, 10)
    banned = ~torch.isfinite(block_repeats(logp, prefix, 2))
    assert banned[0].nonzero().squeeze(1).tolist() == [5, 6]  # 4 5 and 4 6 are taken
    assert banned[1].nonzero().squeeze(1).tolist() == [7]
    assert not banned[:, EOS_ID].any()


def test_search_is_unchanged_by_a_block_longer_than_any_output(trained):
    model, pairs = trained
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        for fn, beam in ((greedy, 1), (beam_search, 4)):
            plain = fn(model, src, mask, DecodeConfig(beam_size=beam))
            blocked = fn(model, src, mask, DecodeConfig(beam_size=beam, no_repeat_ngram=40))
            hyp = lambda h: h if hasattr(h, "tokens") else h[0]  # noqa: E731
            assert [hyp(h).tokens for h in plain] == [hyp(h).tokens for h in blocked]


def test_translate_samples_every_line_and_repeats_by_seed(trained):
    model, pairs = trained
    lines = [" ".join(map(str, p[0])) for p in pairs[:15]] + [""]
    cfg = DecodeConfig(sampling="full", temperature=1.5, nbest=2, seed=3, batch_size=4)
    a = translate(model, IdTokenizer(), lines, cfg)
    assert [len(t.hypotheses) for t in a] == [2] * 15 + [0]
    assert [t.text for t in a] == [t.text for t in translate(model, IdTokenizer(), lines, cfg)]


def test_cli_top_k_one_sample_is_the_greedy_translation_and_bad_specs_fail(toy_model_dir):
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    runner = CliRunner()
    text = "ein hund läuft\nder mann schläft im park\n"
    base = ["translate", "-m", str(toy_model_dir), "--threads", "1"]
    greedy_out = runner.invoke(app, [*base, "-k", "1"], input=text)
    sampled = runner.invoke(app, [*base, "--sampling", "topk:1", "--seed", "5"], input=text)
    assert greedy_out.exit_code == 0 and sampled.exit_code == 0, sampled.output
    assert sampled.stdout == greedy_out.stdout
    several = runner.invoke(
        app, [*base, "--sampling", "full", "--nbest", "3", "--no-repeat-ngram", "2"], input=text
    )
    assert several.exit_code == 0, several.output
    assert [line.split(" ||| ")[0] for line in several.stdout.splitlines()] == ["0"] * 3 + ["1"] * 3
    for bad, code in ((["--sampling", "topq:3"], 1), (["--sampling", "full", "--temperature", "0"], 2)):
        result = runner.invoke(app, [*base, *bad], input=text)
        assert result.exit_code == code and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize(("spec", "temperature"), [("topp:1e-300", 1.0), ("full", 1e-40), ("topk:3", 1e-30)])
def test_extreme_but_valid_settings_draw_the_most_probable_token(spec, temperature):
    """p that rounds to 0 in float32 and a T that overflows every logit to -inf made every
    probability NaN (a torch error); both limits are greedy search."""
    logp = torch.log_softmax(torch.randn(4, 50, generator=torch.Generator().manual_seed(0)), dim=-1)
    sampler = Sampler(Sampling.parse(spec), temperature, seed=1, device=torch.device("cpu"))
    assert torch.equal(sampler(logp), logp.argmax(dim=-1))
