"""The cheap CPU dropout: right rate, unbiased, seeded, identity outside training; the compiled
kernel and torch's operations give the same masks, products and gradients bit for bit."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from nmt_cli import native
from nmt_cli.dropout import (
    Dropout,
    _scale,
    _scaled,
    draw_key,
    drop_threshold,
    dropout,
    keep_mask,
    scale_bits,
    splitmix_words,
)


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
@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 1000, 100_003])
@pytest.mark.parametrize("simd", [True, False])
def test_kernel_equals_torch_operations_bit_for_bit(dtype, n, simd):
    x = (torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3).to(dtype)
    if n > 40:
        x[3], x[5], x[7], x[9], x[11] = float("nan"), -0.0, 1e-39, float("inf"), -float("inf")
    key = 987654321 + n
    keep, _ = keep_mask(x.shape, 0.1, key, x.device)
    expected = x * _scaled(keep, _scale(0.1), dtype)
    got = native.masked_product(x, key, drop_threshold(0.1), scale_bits(_scale(0.1), dtype), simd=simd)
    assert got.dtype == dtype
    assert torch.equal(_bits(got), _bits(expected))


@needs_kernel
def test_kernel_and_torch_operations_train_to_the_same_weights(monkeypatch):
    """With or without the compiled kernel, forward and backward give the same numbers."""
    from nmt_cli import step
    from nmt_cli.config import model_config
    from nmt_cli.data import collate
    from nmt_cli.model import build_model

    pairs = [([5, 6, 7, 8][: 2 + i % 3], [9, 10, 11][: 1 + i % 3]) for i in range(12)]
    batch = collate(*zip(*pairs, strict=True))

    def train(use_kernel: bool) -> list[torch.Tensor]:
        if not use_kernel:
            monkeypatch.setattr(native, "supports", lambda x: False)
        torch.manual_seed(0)
        sizes = dict(vocab_size=16, src_vocab_size=16, d_model=32, ff_dim=64, heads=2, layers=1)
        cfg = model_config("transformer", dropout=0.3, **sizes)
        model = build_model(cfg).train()
        opt = step.make_optimizer(model, 1e-3)
        for _ in range(3):
            step.train_step(model, opt, [batch], 0.1, 1.0, "bf16")
        monkeypatch.undo()
        return [p.detach().clone() for p in model.parameters()]

    for a, b in zip(train(True), train(False), strict=True):
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


def test_nmt_native_0_switches_the_kernel_off():
    code = "from nmt_cli import native; print(native.library() is None, native.dropout_path())"
    env = {**os.environ, "NMT_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split(maxsplit=1) == ["True", "torch operations (no compiled kernel)\n"]
