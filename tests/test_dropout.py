"""The cheap CPU dropout: right rate, unbiased, seeded, identity outside training."""

import pytest
import torch

from nmt_cli.dropout import Dropout, dropout, keep_mask


@pytest.mark.parametrize(
    ("p", "lanes", "step"),
    [(0.3, 8, 1 / 128), (0.1, 8, 1 / 128), (0.05, 4, 1 / 32768), (0.004, 4, 1 / 32768)],
)
def test_drop_rate_matches_p_and_every_lane_is_uniform(p, lanes, step):
    torch.manual_seed(0)
    keep, drawn = keep_mask(torch.Size([400, 1001]), p, torch.device("cpu"))
    # 7-bit lanes where p rounded to 1/128 is within 2% of p, else 15-bit ones
    assert abs(drawn - p) <= min(0.02 * p, step / 2) + 1e-12
    assert round(drawn / step) * step == pytest.approx(drawn)
    assert abs((1 - keep.float().mean().item()) - drawn) < 0.005
    # each lane of a word must drop at the same rate (the top lane has one random bit less)
    per_lane = keep.flatten()[: lanes * (keep.numel() // lanes)].view(-1, lanes).float().mean(0)
    assert torch.all((per_lane - (1 - drawn)).abs() < 0.012)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_kept_elements_are_scaled_by_the_drawn_rate_in_their_dtype(dtype):
    torch.manual_seed(4)
    y = dropout(torch.ones(300, 300, dtype=dtype), 0.1, training=True)
    assert y.dtype == dtype
    assert set(y.unique().tolist()) == {0.0, torch.tensor(1 / (1 - 13 / 128), dtype=dtype).item()}


def test_expectation_is_preserved_and_dropped_elements_are_zero():
    torch.manual_seed(1)
    x = torch.full((500, 500), 2.0)
    y = dropout(x, 0.1, training=True)
    assert abs(y.mean().item() - 2.0) < 0.02
    kept = y != 0
    assert torch.allclose(y[kept], torch.tensor(2.0 / (1 - 13 / 128)))  # 0.1 rounded to 1/128


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
