"""The compiled loss kernel (loss_kernel.c): the label-smoothed loss and gradient of bf16 logits,
as loss.py's torch operations compute them, on both its paths."""

import dataclasses
import shutil
import subprocess
import sys

import pytest
import torch

from nmt_cli.accel import loss_rows, native, ops
from nmt_cli.training.loss import output_loss

needs_kernel = pytest.mark.skipif(native.loss_library() is None, reason="the loss kernel was not built here")


def test_the_loss_kernel_is_built_wherever_a_c_compiler_is():
    """setup.py builds it optionally: a failed build must not pass unnoticed where it can work."""
    if sys.platform.startswith("linux") and shutil.which("cc"):
        assert native.loss_library() is not None


def _torch_rows(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, ...]:
    """Each row's loss and the bf16 gradient from torch's operations (loss_rows.py)."""
    safe, keep = loss_rows._targets(target, -1)
    rows = []
    grads = []
    for r in range(logits.size(0)):  # one row at a time: _rows returns the rows' sum
        total, p = loss_rows._rows(
            logits[r : r + 1].float(), safe[r : r + 1], keep[r : r + 1], smoothing, True
        )
        rows.append(total)
        grads.append(p.to(torch.bfloat16))
    return torch.stack(rows), torch.cat(grads)


@needs_kernel
@pytest.mark.parametrize("vocab", [1, 15, 16, 17, 300, 8000])
@pytest.mark.parametrize("simd", [True, False])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_kernel_rows_equal_torch_operations(vocab, simd, smoothing):
    gen = torch.Generator().manual_seed(vocab)
    logits = (torch.randn(7, vocab, generator=gen) * 4).to(torch.bfloat16)
    logits[1] += 80  # a row far from 0: every term is taken relative to the row maximum
    logits[2, 0] = 60  # a confident row, whose small loss must not vanish in rounding
    target = torch.randint(0, vocab, (7,), generator=gen)
    target[3] = 0  # ignore = -1 below: id 0 is a class like any other here
    grad = torch.empty_like(logits)
    got = native.smoothed_ce_rows(logits, target, -1, smoothing, grad, simd=simd)
    want, want_grad = _torch_rows(logits, target, smoothing)
    assert torch.allclose(got, want, rtol=2e-6, atol=2e-6)
    # the exponentials differ by an ulp or two in fp32: the bf16 gradient by at most one step
    diff = (grad.float() - want_grad.float()).abs()
    step = (want_grad.float().abs() * 2**-7).clamp(min=1e-7)  # floor: 1 - ε/V - (1-ε) = 0 for V = 1
    assert bool((diff <= step).all())
    if vocab > 1:  # a one-word vocabulary has only the cancelling entry
        assert (diff == 0).float().mean() > 0.99


@needs_kernel
def test_ignored_rows_cost_nothing_and_get_no_gradient():
    logits = torch.randn(3, 40).to(torch.bfloat16)
    grad = torch.full_like(logits, 7.0)
    got = native.smoothed_ce_rows(logits, torch.tensor([5, 0, 9]), 0, 0.1, grad)
    assert got[1] == 0 and bool((grad[1] == 0).all())
    assert got[0] > 0 and got[2] > 0
    without_grad = native.smoothed_ce_rows(logits, torch.tensor([5, 0, 9]), 0, 0.1, None)
    assert torch.equal(without_grad, got)


@needs_kernel
def test_fused_loss_under_bf16_takes_the_kernel_and_matches_torch_operations(monkeypatch):
    """Training's output layer and loss: the kernel's loss and every gradient equal what the
    torch operations give, up to the exponentials' rounding."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 300, bias=True)
    hidden = torch.randn(4, 300, 32, requires_grad=True)  # 1,200 rows: several chunks and groups
    target = torch.randint(1, 300, (4, 300))
    target[0, :5] = 0  # padding

    def run() -> tuple[torch.Tensor, ...]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = output_loss(hidden, layer, target, 0.1)
        return (value, *torch.autograd.grad(value, [hidden, layer.weight, layer.bias]))

    calls = []
    real = native.smoothed_ce_rows
    monkeypatch.setattr(native, "smoothed_ce_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = run()
    kernel_calls = len(calls)
    assert kernel_calls
    kernels = ops.compiled()
    monkeypatch.setattr(ops, "compiled", lambda: dataclasses.replace(kernels, loss=False))
    want = run()
    assert len(calls) == kernel_calls  # the second run took torch's operations
    assert torch.allclose(got[0], want[0], rtol=1e-6)
    for g, w in zip(got[1:], want[1:], strict=True):
        assert (g.float() - w.float()).norm() <= 1e-2 * w.float().norm()


@pytest.mark.slow
def test_nmt_native_0_switches_the_loss_kernel_off():
    code = "from nmt_cli.accel import native; print(native.loss_library() is None, native.loss_fast())"
    env = {"NMT_NATIVE": "0", "PATH": ""}
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "False"]
