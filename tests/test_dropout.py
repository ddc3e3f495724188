"""The cheap CPU dropout: right rate, unbiased, seeded, identity outside training; the compiled
kernel and torch's operations give the same masks, products and gradients bit for bit."""

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest
import torch

from nmt_cli.accel import native, ops
from nmt_cli.accel.dropout import (
    _scale,
    _scaled,
    draw_key,
    drop_threshold,
    keep_mask,
    scale_bits,
    splitmix_words,
)
from nmt_cli.accel.ops import dropout, relu_dropout
from nmt_cli.models.dropout import Dropout


def test_drop_rate_matches_p_and_every_lane_is_uniform():
    keep, p = keep_mask(torch.Size([400, 1001]), 0.3, 12345, torch.device("cpu"))
    assert abs(p - 0.3) < 1 / 32768
    assert abs((1 - keep.float().mean().item()) - 0.3) < 0.005
    # each of the four 16-bit lanes of a word must drop at the same rate (the top lane is 15-bit)
    lanes = keep.flatten()[: 4 * (keep.numel() // 4)].view(-1, 4).float().mean(0)
    assert torch.all((lanes - 0.7).abs() < 0.01)


def test_expectation_is_preserved_and_dropped_elements_are_zero():
    torch.manual_seed(1)
    x = torch.full((500, 500), 2.0)
    y = dropout(x, 0.1, training=True)
    assert abs(y.mean().item() - 2.0) < 0.02
    kept = y != 0
    assert torch.allclose(y[kept], torch.tensor(2.0 / (1 - round(0.1 * 32768) / 32768)))


def test_gradient_flows_through_kept_elements_only():
    torch.manual_seed(2)
    x = torch.ones(64, 64, requires_grad=True)
    y = dropout(x, 0.5, training=True)
    y.sum().backward()
    assert torch.equal(x.grad != 0, y != 0)


def test_same_seed_same_mask_and_eval_is_identity():
    x = torch.randn(33, 17)
    torch.manual_seed(3)
    a = dropout(x, 0.2, True)
    torch.manual_seed(3)
    b = dropout(x, 0.2, True)
    assert torch.equal(a, b)
    m = Dropout(0.2).eval()
    assert m(x) is x
    assert dropout(x, 0.0, True) is x


def test_bf16_input_keeps_its_dtype():
    x = torch.randn(8, 8, dtype=torch.bfloat16)
    assert dropout(x, 0.1, True).dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_kept_elements_are_scaled_by_the_drawn_rate_in_their_dtype(dtype):
    torch.manual_seed(4)
    y = dropout(torch.ones(300, 300, dtype=dtype), 0.1, training=True)
    assert y.dtype == dtype
    scale = 1 / (1 - round(0.1 * 32768) / 32768)
    assert set(y.unique().tolist()) == {0.0, torch.tensor(scale, dtype=dtype).item()}
    # the same values as converting the mask and multiplying by the scale
    torch.manual_seed(4)
    keep, _ = keep_mask(y.shape, 0.1, draw_key(), y.device)
    assert torch.equal(y, torch.ones_like(y) * keep.to(dtype).mul_(scale))


def _splitmix64_reference(seed: int, count: int) -> list[int]:
    """SplitMix64 as published (Steele, Lea and Flood, 2014), in Python integers."""
    mask, out, state = (1 << 64) - 1, [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


@pytest.mark.parametrize("key", [0, 1, 12345, (1 << 63) - 1])
def test_mask_words_are_splitmix64_seeded_with_the_key(key):
    words = splitmix_words(key, 6, torch.device("cpu")).tolist()
    assert [w & ((1 << 64) - 1) for w in words] == _splitmix64_reference(key, 6)


needs_kernel = pytest.mark.skipif(native.library() is None, reason="the dropout kernel was not built here")


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bits, with every NaN the same (torch and the kernel keep different payloads)."""
    t = torch.where(t.isnan(), torch.full_like(t, float("nan")), t)
    return t.view(torch.int16 if t.element_size() == 2 else torch.int32)


def test_the_kernel_is_built_wherever_a_c_compiler_is():
    """setup.py builds it optionally: a failed build must not pass unnoticed where it can work."""
    if sys.platform.startswith("linux") and shutil.which("cc"):
        assert native.library() is not None


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 1000, 100_003, 300_007])  # the last shared among threads
@pytest.mark.parametrize("simd", [True, False])
@pytest.mark.parametrize("relu", [False, True])
def test_kernel_equals_torch_operations_bit_for_bit(dtype, n, simd, relu):
    x = (torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3).to(dtype)
    if n > 40:
        x[3], x[5], x[7], x[9], x[11] = float("nan"), -0.0, 1e-39, float("inf"), -float("inf")
    key = 987654321 + n
    keep, _ = keep_mask(x.shape, 0.1, key, x.device)
    expected = (torch.relu(x) if relu else x) * _scaled(keep, _scale(0.1), dtype)
    got = native.masked_product(
        x, key, drop_threshold(0.1), scale_bits(_scale(0.1), dtype), simd=simd, relu=relu
    )
    assert got.dtype == dtype
    assert torch.equal(_bits(got), _bits(expected))


@needs_kernel
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 100_003, 300_007])
@pytest.mark.parametrize("simd", [True, False])
def test_relu_dropout_gradient_passes_where_the_output_is_positive(n, simd):
    g = torch.Generator().manual_seed(n)
    y = (torch.randn(n, generator=g) * 3).bfloat16()
    grad = (torch.randn(n, generator=g) * 3).bfloat16()
    if n > 40:
        y[3], y[5], y[7], grad[9] = float("nan"), -0.0, 1e-39, float("inf")
    bits = scale_bits(_scale(0.1), torch.bfloat16)
    scale = torch.tensor(_scale(0.1), dtype=torch.bfloat16)  # as dropout's masks hold it
    expected = torch.where(y > 0, grad * scale, torch.zeros_like(grad))
    assert torch.equal(_bits(native.relu_dropout_grad(y, grad, bits, simd=simd)), _bits(expected))


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_relu_dropout_gives_the_values_and_gradients_of_relu_then_dropout(dtype):
    """Fused or not, the same draws from the generator, outputs and input gradients (up to the
    sign of zero: a dropped element's gradient is +0 here, -0 or +0 apart)."""
    x = (torch.randn(64, 300) * 2).to(dtype)
    grad = torch.randn(64, 300).to(dtype)
    results = []
    for fused in (True, False):
        xi = x.clone().requires_grad_()
        torch.manual_seed(7)
        y = relu_dropout(xi, 0.2, True) if fused else dropout(torch.relu(xi), 0.2, True)
        y.backward(grad)
        results.append((y.detach(), xi.grad, torch.empty((), dtype=torch.int64).random_()))
    (y1, g1, after1), (y0, g0, after0) = results
    assert torch.equal(y1, y0) and torch.equal(after1, after0)  # same values, same random stream after
    assert torch.equal(g1, g0)  # == treats -0 and +0 as equal


def _transformer_weights_after_three_updates() -> list[torch.Tensor]:
    """A small Transformer with dropout 0.3 after three bf16 updates from seed 0."""
    from nmt_cli.config import model_config
    from nmt_cli.data.batch import collate
    from nmt_cli.models.seq2seq import build_model
    from nmt_cli.training import step

    pairs = [([5, 6, 7, 8][: 2 + i % 3], [9, 10, 11][: 1 + i % 3]) for i in range(12)]
    batch = collate(*zip(*pairs, strict=True))
    torch.manual_seed(0)
    sizes = dict(vocab_size=16, src_vocab_size=16, d_model=32, ff_dim=64, heads=2, layers=1)
    model = build_model(model_config("transformer", dropout=0.3, **sizes)).train()
    opt = step.make_optimizer(model, 1e-3)
    for _ in range(3):
        step.train_step(model, opt, [batch], label_smoothing=0.1, clip_norm=1.0, precision="bf16")
    return [p.detach().clone() for p in model.parameters()]


@needs_kernel
def test_fused_relu_dropout_trains_a_transformer_to_the_same_weights(monkeypatch):
    from nmt_cli.accel import ops

    calls = []
    real_grad = native.relu_dropout_grad
    monkeypatch.setattr(native, "relu_dropout_grad", lambda *a, **k: calls.append(1) or real_grad(*a, **k))
    fused = _transformer_weights_after_three_updates()
    assert len(calls) == 3 * 2  # the fused backward ran: 3 updates, 2 feed-forward layers
    monkeypatch.setattr(ops, "relu_dropout", lambda x, p, training: dropout(torch.relu(x), p, training))
    apart = _transformer_weights_after_three_updates()
    for a, b in zip(fused, apart, strict=True):
        assert torch.equal(a, b)


@needs_kernel
def test_kernel_and_torch_operations_train_to_the_same_weights(monkeypatch):
    """With or without the compiled kernel, forward and backward give the same numbers."""
    with_kernel = _transformer_weights_after_three_updates()
    kernels = ops.compiled()
    monkeypatch.setattr(ops, "compiled", lambda: dataclasses.replace(kernels, dropout=False))
    without = _transformer_weights_after_three_updates()
    for a, b in zip(with_kernel, without, strict=True):
        assert torch.equal(a, b)


def test_dropout_backward_multiplies_by_the_forward_mask():
    torch.manual_seed(5)
    for dtype in (torch.float32, torch.bfloat16):
        x = (torch.rand(300, 70) + 0.5).to(dtype).requires_grad_()
        y = dropout(x, 0.25, training=True)
        grad = torch.randn_like(y)
        y.backward(grad)
        assert x.grad is not None
        # x > 0, so the kept elements are those with y != 0
        mask = torch.where(y != 0, _scale(0.25), 0.0).to(dtype)
        assert torch.equal(x.grad, grad * mask)


@pytest.mark.slow
def test_nmt_native_0_switches_the_kernel_off():
    code = "from nmt_cli.accel import native; print(native.library() is None, native.dropout_path())"
    env = {**os.environ, "NMT_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split(maxsplit=1) == ["True", "torch operations (no compiled kernel)\n"]
