"""Additive attention's energies in BiLSTM training by the compiled kernel (additive_energies.py):
torch's function and gradients, the keys' and v's gradients made once for all steps."""

import shutil
import sys

import pytest
import torch
from conftest import rnn_config

from nmt_cli.accel import additive_energies, native
from nmt_cli.accel.additive_energies import SummedEnergies
from nmt_cli.models.rnn import RNNSeq2Seq

needs_kernel = pytest.mark.skipif(
    native.energies_library() is None, reason="the attention kernel was not built here, or no AVX-512"
)


def test_the_attention_kernel_is_built_wherever_a_c_compiler_and_avx512_are():
    """setup.py builds it optionally: a failed build must not pass unnoticed where it can work."""
    # native.fast(): the dropout kernel loaded and this CPU has AVX-512
    if sys.platform.startswith("linux") and shutil.which("cc") and native.fast():
        assert native.energies_library() is not None


def _bf16_step_size(x: torch.Tensor) -> torch.Tensor:
    """Half a bf16 step at each value: what rounding a gradient to bf16 may cost."""
    return x.abs() * 2**-8 + 1e-6


@needs_kernel
@pytest.mark.parametrize(
    ("sentences", "positions", "width", "steps"), [(5, 7, 32, 4), (1, 1, 16, 1), (3, 12, 64, 9)]
)
def test_energies_and_every_gradient_equal_torchs_over_several_steps(sentences, positions, width, steps):
    torch.manual_seed(sentences * 100 + width)
    keys = (torch.randn(sentences, positions, width) * 1.5).bfloat16().requires_grad_()
    v = torch.randn(width, requires_grad=True)
    queries = [torch.randn(sentences, width).bfloat16().requires_grad_() for _ in range(steps)]
    weights = [torch.randn(sentences, positions) for _ in range(steps)]
    weights[0][0, positions // 2 :] = 0  # masked positions pass no gradient, and are skipped
    # the definition, in fp64 from the same bf16 inputs
    k64, v64 = keys.detach().double().requires_grad_(), v.detach().double().requires_grad_()
    q64 = [q.detach().double().requires_grad_() for q in queries]
    want = [torch.tanh(k64 + q.unsqueeze(1)) @ v64 for q in q64]
    sum((e * w.double()).sum() for e, w in zip(want, weights, strict=True)).backward()

    summed = SummedEnergies(keys, v)
    got = [summed.energies(q, summed.keys) for q in queries]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        assert torch.allclose(g.double(), w, atol=1e-5, rtol=1e-5)
    sum((e * w).sum() for e, w in zip(got, weights, strict=True)).backward()
    assert keys.grad.dtype == torch.bfloat16
    assert bool(((keys.grad.double() - k64.grad).abs() <= _bf16_step_size(k64.grad)).all())
    assert torch.allclose(v.grad.double(), v64.grad, atol=1e-4, rtol=1e-5)
    for q, q_want in zip(queries, q64, strict=True):
        assert bool(((q.grad.double() - q_want.grad).abs() <= _bf16_step_size(q_want.grad)).all())


@needs_kernel
def test_summed_energies_score_only_their_own_keys():
    keys = torch.zeros(2, 3, 16, dtype=torch.bfloat16)
    summed = SummedEnergies(keys, torch.zeros(16))
    with pytest.raises(ValueError, match="only the keys"):
        summed.energies(torch.zeros(2, 16), keys)


def test_the_kernel_takes_only_bf16_keys_of_a_width_it_vectorises():
    assert not additive_energies.takes(torch.zeros(2, 3, 16))  # fp32: torch's operations
    assert not additive_energies.takes(torch.zeros(2, 3, 24, dtype=torch.bfloat16))


@needs_kernel
def test_bf16_training_takes_the_kernel_and_is_as_close_to_fp32_as_torchs_operations(monkeypatch):
    """Training's precision: every gradient as close to fp32's as torch's bf16 operations get,
    or closer (the kernel adds and takes tanh in fp32 where torch rounds each result to bf16:
    measured, W2's gradient 1.1% from fp32's against 12.7%)."""
    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config(attention="additive", decoder="luong", hidden_dim=32, embed_dim=16)).train()
    src = torch.tensor([[5, 6, 7, 3, 4], [5, 3, 0, 0, 0], [8, 9, 10, 11, 3]])
    tgt_in = torch.tensor([[2, 5, 6, 7], [2, 9, 3, 0], [2, 4, 4, 3]])

    def gradients(bf16: bool) -> list[torch.Tensor]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(src, src != 0, tgt_in)
        weights = torch.linspace(-1, 1, logits.numel()).view_as(logits)
        return list(torch.autograd.grad((logits.float() * weights).sum(), list(model.parameters())))

    calls = []
    real = additive_energies.energies
    monkeypatch.setattr(additive_energies, "energies", lambda *a: calls.append(1) or real(*a))
    kernel = gradients(True)
    assert len(calls) == tgt_in.size(1)  # one call per decoder step
    monkeypatch.setattr(additive_energies, "takes", lambda keys: False)
    torch_bf16, fp32 = gradients(True), gradients(False)
    assert len(calls) == tgt_in.size(1)  # torch's operations for these
    for k, t, f in zip(kernel, torch_bf16, fp32, strict=True):
        assert (k - f).norm() <= 1.2 * (t - f).norm() + 0.002 * f.norm()
        assert (k - f).norm() <= 0.03 * f.norm()
