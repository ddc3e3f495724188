"""The cheap CPU dropout: right rate, unbiased, seeded, identity outside training."""

import pytest
import torch

from nmt_cli.dropout import Dropout, dropout, keep_mask


def test_drop_rate_matches_p_and_every_lane_is_uniform():
    torch.manual_seed(0)
    keep, p = keep_mask(torch.Size([400, 1001]), 0.3, torch.device("cpu"))
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
    keep, _ = keep_mask(y.shape, 0.1, y.device)
    assert torch.equal(y, torch.ones_like(y) * keep.to(dtype).mul_(scale))
