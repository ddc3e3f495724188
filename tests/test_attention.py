"""Attention scoring functions, masking, and local windows."""

import math

import torch

from nmt_cli.models.attention import AdditiveScore, DotScore, GeneralScore, attend, local_attend


def test_dot_general_additive_match_hand_computation():
    torch.manual_seed(0)
    s = torch.tensor([[1.0, 2.0]])  # (1, 2) decoder query
    h = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # (1, 3, 2) encoder states
    dot = DotScore()
    assert torch.allclose(dot(s, dot.project_keys(h)), torch.tensor([[1.0, 2.0, 3.0]]))

    gen = GeneralScore(2, 2)
    with torch.no_grad():
        gen.W.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    # sᵀ W h_i: W h = [2,0], [0,3], [2,3] -> s·Wh = 2, 6, 8
    assert torch.allclose(gen(s, gen.project_keys(h)), torch.tensor([[2.0, 6.0, 8.0]]))

    add = AdditiveScore(2, 2, 2)
    expected = []
    for i in range(3):
        e = add.v.weight @ torch.tanh(add.W1.weight @ h[0, i] + add.W2.weight @ s[0])
        expected.append(float(e.detach()))
    got = add(s, add.project_keys(h)).detach()
    assert torch.allclose(got, torch.tensor([expected]), atol=1e-6)


def test_weights_sum_to_one_and_padding_gets_exactly_zero():
    energies = torch.randn(4, 6)
    values = torch.randn(4, 6, 3)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5, [True] * 5 + [False]])
    context, weights = attend(energies, values, mask)
    assert torch.allclose(weights.sum(-1), torch.ones(4))
    assert (weights[~mask] == 0).all()
    assert torch.allclose(context, torch.einsum("ns,nsh->nh", weights, values))


def test_local_windows_put_exactly_zero_outside_the_window():
    torch.manual_seed(0)
    n, s, d = 3, 20, 2
    energies, values = torch.randn(n, s), torch.randn(n, s, 4)
    mask = torch.ones(n, s, dtype=torch.bool)
    mask[2, 12:] = False
    step = torch.tensor(7)
    _, w = local_attend(energies, values, mask, "local-m", d, step, None)
    pos = torch.arange(s)
    outside = (pos - 7).abs() > d
    assert (w[:, outside] == 0).all() and (w[:, ~outside] > 0).all()
    assert torch.allclose(w.sum(-1), torch.ones(n))

    centre = torch.tensor([3.2, 15.0, 9.9])
    _, w = local_attend(energies, values, mask, "local-p", d, step, centre)
    for i in range(n):
        c = min(float(centre[i]), float(mask[i].sum() - 1))
        out = ((pos - c).abs() > d) | ~mask[i]
        assert (w[i, out] == 0).all()
        inside = ~out
        # Gaussian with sigma = D/2 multiplies the windowed softmax
        gauss = torch.exp(-((pos[inside] - centre[i]) ** 2) / (2 * (d / 2) ** 2))
        soft = torch.softmax(energies[i, inside], -1)
        assert torch.allclose(w[i, inside], soft * gauss, atol=1e-6)


def test_local_m_past_the_end_still_attends_to_the_last_tokens():
    energies, values = torch.zeros(1, 5), torch.randn(1, 5, 2)
    mask = torch.tensor([[True, True, True, False, False]])
    _, w = local_attend(energies, values, mask, "local-m", 1, torch.tensor(10), None)
    assert not math.isnan(float(w.sum()))
    assert torch.allclose(w, torch.tensor([[0.0, 0.5, 0.5, 0.0, 0.0]]))


def test_additive_energies_in_bf16_are_the_tanh_definitions_within_rounding():
    """Under bf16, additive scoring goes through the logistic form of tanh (faster on CPUs):
    the same energies, and gradients, as vᵀ tanh(W1 h + W2 s) in fp32, up to bf16 rounding."""
    torch.manual_seed(0)
    score = AdditiveScore(64, 64, 64)
    query = torch.randn(5, 64, requires_grad=True)
    keys = score.project_keys(torch.randn(5, 7, 64)).detach().requires_grad_()
    want = torch.tanh(keys + score.W2(query).unsqueeze(1)) @ score.v.weight.squeeze(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = score(query, keys.bfloat16())
    assert got.dtype == torch.bfloat16
    assert (got.float() - want).abs().max() <= 0.02 * want.abs().max()
    weights = torch.randn_like(want)
    for g, w in zip(
        torch.autograd.grad((got.float() * weights).sum(), [query, keys, score.v.weight]),
        torch.autograd.grad((want * weights).sum(), [query, keys, score.v.weight]),
        strict=True,
    ):
        assert (g.float() - w).norm() <= 0.02 * w.norm()
