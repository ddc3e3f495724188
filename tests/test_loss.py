"""The objective: label-smoothed cross-entropy over real tokens, perplexity's per-token loss."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import rnn_config
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.data.shards import Shard, ShardSet, ShardWriter
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import loss
from nmt_cli.training.loss import loss_fn, output_loss, pairs_loss, shard_loss, smoothed_cross_entropy
from nmt_cli.training.loss_rows import torch_rows


def test_padding_costs_nothing_and_smoothing_raises_a_confident_loss():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 9.0], [5.0, 1.0, 1.0, 1.0]]])
    target = torch.tensor([[3, 0]])  # the second position is padding
    plain = loss_fn(logits, target, 0.0)
    expected = -torch.log_softmax(logits[0, 0], -1)[3]
    # a confident row's loss (3.7e-4 here) is log of a sum near 1: both ways round it at fp32's
    # resolution near 1 (1.2e-7), not to a relative precision
    assert torch.allclose(plain, expected, rtol=0, atol=2.5e-7)
    assert loss_fn(logits, target, 0.1) > plain


SRC_IDS, TGT_IDS = [[5, 6], [7]], [[8], [9, 10, 11]]


def test_pairs_loss_is_the_mean_over_target_tokens_including_eos():
    torch.manual_seed(0)
    model = build_model(rnn_config(embed_dim=16, hidden_dim=32)).eval()
    loss = pairs_loss(model, SRC_IDS, TGT_IDS, torch.device("cpu"), "fp32")
    # A model that knows nothing spreads its probability: close to log V per token.
    assert abs(loss - math.log(20)) < 1.0
    total = 0.0
    for src, tgt in zip(SRC_IDS, TGT_IDS):
        s = torch.tensor([src + [3]])
        t_in, t_out = torch.tensor([[2] + tgt]), torch.tensor([tgt + [3]])
        with torch.no_grad():
            logits, _ = model(s, s != 0, t_in)
        total += float(loss_fn(logits, t_out, 0.0))
    assert abs(loss - total / 6) < 1e-5  # 2 + 4 target tokens with EOS


def test_perplexity_of_pairs_in_memory_is_the_validation_loss_of_the_same_pairs_as_a_shard(tmp_path):
    torch.manual_seed(0)
    model = build_model(rnn_config(embed_dim=16, hidden_dim=32)).eval()
    writer = ShardWriter(tmp_path, "valid", np.dtype(np.uint16))
    writer.append(SRC_IDS, TGT_IDS)
    writer.close()
    shard = ShardSet([Shard(tmp_path, "valid")])
    cpu = torch.device("cpu")
    assert pairs_loss(model, SRC_IDS, TGT_IDS, cpu, "fp32") == pytest.approx(
        shard_loss(model, shard, cpu, "fp32"), rel=1e-6
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_loss_and_gradient_equal_torch_cross_entropy(smoothing, monkeypatch):
    monkeypatch.setattr(loss, "ROWS", 7)  # several chunks, the last one partial
    torch.manual_seed(0)
    logits = (torch.randn(3, 11, 50) * 4).requires_grad_()
    target = torch.randint(0, 50, (3, 11))
    target[0, 5:] = 0  # padding
    ref_logits = logits.detach().clone().requires_grad_()
    ref = F.cross_entropy(
        ref_logits.reshape(-1, 50),
        target.reshape(-1),
        ignore_index=0,
        label_smoothing=smoothing,
        reduction="sum",
    )
    ours = smoothed_cross_entropy(logits, target, smoothing, 0)
    (ref * 0.5).backward()
    (ours * 0.5).backward()
    assert torch.allclose(ours, ref, rtol=1e-5)
    assert torch.allclose(logits.grad, ref_logits.grad, atol=1e-6)
    assert torch.all(logits.grad[0, 5:] == 0)  # padding rows get no gradient


def test_bf16_logits_give_a_bf16_gradient_close_to_fp32():
    torch.manual_seed(1)
    base = torch.randn(40, 300) * 3
    target = torch.randint(1, 300, (40,))
    low = base.bfloat16().requires_grad_()
    high = base.bfloat16().float().requires_grad_()
    smoothed_cross_entropy(low, target, 0.1, 0).backward()
    smoothed_cross_entropy(high, target, 0.1, 0).backward()
    assert low.grad.dtype == torch.bfloat16
    assert torch.allclose(low.grad.float(), high.grad, atol=1e-2)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("weight_rows", [5, 10])
def test_fused_output_layer_and_loss_equal_the_layer_then_the_loss(bias, weight_rows, monkeypatch):
    monkeypatch.setattr(loss, "ROWS", 5)  # several chunks, the last one partial
    monkeypatch.setattr(loss, "WEIGHT_ROWS", weight_rows)  # weight-gradient groups of 1 or 2 chunks
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 40, bias=bias)
    hidden = torch.randn(3, 7, 16, requires_grad=True)
    target = torch.randint(1, 40, (3, 7))
    target[1, 4:] = 0  # padding
    ref = loss_fn(layer(hidden), target, 0.1)
    (ref * 0.25).backward()
    expected = [t.grad.clone() for t in (hidden, *layer.parameters())]
    hidden.grad = None
    layer.zero_grad()
    fused = output_loss(hidden, layer, target, 0.1)
    (fused * 0.25).backward()
    assert torch.allclose(fused, ref, rtol=1e-6)
    for want, tensor in zip(expected, (hidden, *layer.parameters()), strict=True):
        assert torch.allclose(tensor.grad, want, rtol=1e-5, atol=1e-7)
    assert torch.all(hidden.grad[1, 4:] == 0)  # padding positions get no gradient


def test_padding_positions_never_reach_the_output_layer():
    """Only real target positions are projected: whatever the features hold at padding (here
    NaN, which would poison a sum that multiplied it by 0) changes neither loss nor gradients."""
    torch.manual_seed(3)
    layer = torch.nn.Linear(16, 40, bias=False)
    target = torch.randint(1, 40, (2, 6))
    target[0, 3:] = 0
    clean = torch.randn(2, 6, 16)
    grads = []
    for pad_value in (0.0, float("nan")):
        hidden = clean.clone()
        hidden[0, 3:] = pad_value
        hidden.requires_grad_(True)
        layer.zero_grad()
        value = output_loss(hidden, layer, target, 0.1)
        value.backward()
        assert torch.isfinite(value)
        assert torch.all(hidden.grad[0, 3:] == 0)
        grads.append((value.detach(), hidden.grad.clone(), layer.weight.grad.clone()))
    for first, second in zip(*grads, strict=True):
        assert torch.equal(first, second)


def test_an_all_padding_batch_costs_zero_and_moves_nothing():
    """A process that has run out of data runs an empty batch under torchrun: zero loss, zero gradient."""
    layer = torch.nn.Linear(16, 40, bias=True)
    hidden = torch.randn(2, 3, 16, requires_grad=True)
    value = output_loss(hidden, layer, torch.zeros(2, 3, dtype=torch.long), 0.1)
    value.backward()
    assert value.item() == 0.0
    assert not hidden.grad.any() and not layer.weight.grad.any() and not layer.bias.grad.any()


def test_fused_loss_without_gradients_equals_the_layer_then_the_loss(monkeypatch):
    monkeypatch.setattr(loss, "ROWS", 5)
    torch.manual_seed(2)
    layer = torch.nn.Linear(16, 40, bias=False)
    hidden, target = torch.randn(2, 9, 16), torch.randint(1, 40, (2, 9))
    with torch.no_grad():
        assert torch.allclose(output_loss(hidden, layer, target, 0.1), loss_fn(layer(hidden), target, 0.1))


def test_fused_loss_under_bf16_autocast_multiplies_in_bf16_and_stays_close():
    torch.manual_seed(1)
    layer = torch.nn.Linear(32, 300, bias=False)
    hidden = torch.randn(4, 9, 32, requires_grad=True)
    target = torch.randint(1, 300, (4, 9))
    exact = output_loss(hidden, layer, target, 0.1)
    exact.backward()
    grad_fp32 = layer.weight.grad.clone()
    layer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = output_loss(hidden, layer, target, 0.1)
    rounded.backward()
    assert rounded != exact  # the products were rounded to bf16 ...
    assert abs(rounded.item() / exact.item() - 1) < 1e-2  # ... and no more than that
    assert layer.weight.grad.dtype == torch.float32
    assert (layer.weight.grad - grad_fp32).norm() / grad_fp32.norm() < 2e-2


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 9),
    vocab=st.integers(1, 70),
    smoothing=st.sampled_from([0.0, 0.1, 0.3]),
    scale=st.sampled_from([0.1, 3.0, 40.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_chunk_rows_are_torchs_label_smoothed_cross_entropy(rows, vocab, smoothing, scale, seed):
    """Loss and gradient of each row (loss_rows.torch_rows, what every chunk goes through) as
    torch's cross_entropy(label_smoothing) gives them, confident rows included; an ignored row
    counts nothing and gets no gradient."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, vocab, generator=gen) * scale
    target = torch.randint(0, vocab, (rows,), generator=gen)
    target[0] = -100
    grad = torch.empty(rows, vocab, dtype=torch.bfloat16)
    got, got_grad = torch_rows(z, target, -100, smoothing, grad)
    ref = z.clone().requires_grad_()
    want = F.cross_entropy(ref, target, ignore_index=-100, label_smoothing=smoothing, reduction="sum")
    (want_grad,) = torch.autograd.grad(want, ref)
    assert torch.allclose(got, want.detach(), rtol=1e-5, atol=1e-4)
    assert got_grad is not None and torch.allclose(got_grad, want_grad, atol=1e-6)
    assert torch.allclose(grad.float(), want_grad, rtol=2**-7, atol=1e-6)  # the bf16 copy: one step
    assert torch.all(got_grad[0] == 0)
