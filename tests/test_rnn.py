"""The attentional BiLSTM learns, attends where it should, and steps as its paper says."""

import pytest
import torch
from conftest import rnn_config
from toy import exact_match, src_batch, train_toy

from nmt_cli.config import DecodeConfig
from nmt_cli.decoding.greedy import greedy
from nmt_cli.models.rnn import RNNSeq2Seq


def greedy_tokens(model, pairs, keep_attention=False):
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        return greedy(model, src, mask, DecodeConfig(beam_size=1, keep_attention=keep_attention))


def assert_diagonal(hyps, pairs, anti: bool):
    """The argmax source position of each target token (EOS excluded) follows the (anti-)diagonal."""
    hits = total = 0
    for h, (src, tgt) in zip(hyps, pairs):
        if h.tokens != tgt:
            continue
        n = len(src)
        best = h.attention[: len(tgt)].argmax(-1).tolist()
        want = [n - 1 - j for j in range(n)] if anti else list(range(n))
        hits += sum(b == w for b, w in zip(best, want))
        total += n
    assert total > 0 and hits / total >= 0.9


@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
def test_learns_reversal_with_each_attention_and_aligns_anti_diagonally(attention, rnn_reverse):
    model, pairs = (
        rnn_reverse if attention == "additive" else train_toy(rnn_config(attention=attention), steps=500)
    )
    hyps = greedy_tokens(model, pairs, keep_attention=True)
    assert exact_match([h.tokens for h in hyps], pairs) >= 0.95
    assert_diagonal(hyps, pairs, anti=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("decoder", "span", "task"),
    [
        ("bahdanau", "global", "reverse"),
        ("luong", "local-p", "reverse"),
        ("bahdanau", "local-p", "reverse"),
        # local-m centres the window on p_t = t: only a monotonic task fits it
        ("luong", "local-m", "copy"),
        ("bahdanau", "local-m", "copy"),
    ],
)
def test_each_decoder_and_span_learns(decoder, span, task):
    cfg = rnn_config(attention="additive", decoder=decoder, attention_span=span, window=3)
    model, pairs = train_toy(cfg, task, steps=500)
    hyps = greedy_tokens(model, pairs, keep_attention=True)
    assert exact_match([h.tokens for h in hyps], pairs) >= 0.95


def test_bahdanau_step_scores_attention_with_the_previous_state():
    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config(decoder="bahdanau", attention="general")).eval()
    src = torch.tensor([[5, 6, 7, 8, 3]])
    mask = src != 0
    memory = model.encode(src, mask)
    state = model.init_state(memory)
    _, new_state, attn = model.decode_step(torch.tensor([2]), memory, state)
    dec = model.decoder

    def weights(query):
        return torch.softmax(dec.scorer(query, memory.keys), -1)

    assert torch.allclose(attn, weights(state.h[-1]), atol=1e-6)  # h_{t-1}
    assert not torch.allclose(attn, weights(new_state.h[-1]), atol=1e-3)  # not h_t


def test_luong_step_scores_attention_with_the_current_state():
    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config(decoder="luong", attention="general")).eval()
    src = torch.tensor([[5, 6, 7, 8, 3]])
    memory = model.encode(src, src != 0)
    state = model.init_state(memory)
    _, new_state, attn = model.decode_step(torch.tensor([2]), memory, state)
    w = torch.softmax(model.decoder.scorer(new_state.h[-1], memory.keys), -1)
    assert torch.allclose(attn, w, atol=1e-6)


def padded_pair():
    """An untrained model (seed 0) and a two-sentence batch whose second sentence is padded."""
    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config()).eval()
    return model, torch.tensor([[5, 6, 7, 3], [5, 3, 0, 0]]), torch.tensor([[2, 5, 6], [2, 9, 0]])


def test_padding_gets_zero_attention_in_training_forward():
    model, src, tgt_in = padded_pair()
    _, attn = model(src, src != 0, tgt_in)
    assert (attn[1, :, 2:] == 0).all()
    assert torch.allclose(attn.sum(-1), torch.ones(2, 3))


def test_bf16_training_forward_casts_the_encoder_states_once_and_stays_close_to_fp32():
    model, src, tgt_in = padded_pair()
    want, want_attn = model(src, src != 0, tgt_in)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # the states every decoder step reads are bf16 already, so no step casts them again
        assert model.encode(src, src != 0).states.dtype == torch.bfloat16
        got, attn = model(src, src != 0, tgt_in)
    assert torch.allclose(got.float(), want, atol=5e-2)
    assert torch.allclose(attn.float(), want_attn, atol=2e-2)


@pytest.mark.parametrize("decoder", ["luong", "bahdanau"])
@pytest.mark.parametrize("layers", [1, 2])
def test_teacher_forcing_equals_decoding_step_by_step_with_the_same_gradients(decoder, layers):
    """Training's teacher-forced `forward` and decoding's `decode_step` are separate code paths
    (the first makes the output layer's input for all steps and projects it once): they compute
    the same function, so logits, attention and every parameter's gradient agree (fp64)."""
    torch.manual_seed(0)
    cfg = rnn_config(decoder=decoder, attention="additive", layers=layers, dropout=0.0)
    model = RNNSeq2Seq(cfg).double().train()
    src, tgt_in = torch.tensor([[5, 6, 7, 3], [5, 3, 0, 0]]), torch.tensor([[2, 5, 6, 7], [2, 9, 3, 0]])
    mask = src != 0
    params = list(model.parameters())

    def grads(out):
        return torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum(), params)

    logits, attn = model(src, mask, tgt_in)
    want = grads(logits)

    memory = model.encode(src, mask)
    state = model.init_state(memory)
    steps, step_attn = [], []
    for t in range(tgt_in.size(1)):
        out, state, a = model.decode_step(tgt_in[:, t], memory, state)
        steps.append(out)
        step_attn.append(a)
    stepped = torch.stack(steps, 1)
    got = grads(stepped)

    assert torch.allclose(stepped, logits, atol=1e-12)
    assert torch.allclose(torch.stack(step_attn, 1), attn, atol=1e-12)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-12)
