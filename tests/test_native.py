"""The compiled kernels check what they are given before they touch memory: a tensor of the
wrong dtype or shape, or a target outside the vocabulary, is refused as torch refuses it."""

import pytest
import torch

from nmt_cli.accel import native

needs_loss = pytest.mark.skipif(native.loss_library() is None, reason="loss kernel not built")
needs_energies = pytest.mark.skipif(native.energies_library() is None, reason="no additive kernel here")


@needs_loss
@pytest.mark.parametrize("bad", [-2, 7, 1000])
def test_a_target_outside_the_vocabulary_is_refused_as_torch_refuses_it(bad):
    logits = torch.randn(3, 7).to(torch.bfloat16)
    target = torch.tensor([0, bad, 6])
    with pytest.raises(IndexError):
        torch.nn.functional.cross_entropy(logits.float(), target)
    grad = torch.empty_like(logits)
    with pytest.raises(IndexError, match=f"target {bad} is out of bounds for 7 classes"):
        native.smoothed_ce_rows(logits, target, -1, 0.1, grad)


@needs_loss
def test_ignored_rows_may_hold_any_target_and_count_nothing():
    logits = torch.randn(2, 7).to(torch.bfloat16)
    losses = native.smoothed_ce_rows(logits, torch.tensor([3, -100]), -100, 0.1, None)
    assert losses[1] == 0 and losses[0] > 0


@needs_loss
@pytest.mark.parametrize(
    "logits, target",
    [
        (torch.zeros(3, 7), torch.zeros(3, dtype=torch.long)),  # fp32 logits
        (torch.zeros(3, 7, dtype=torch.bfloat16), torch.zeros(4, dtype=torch.long)),  # one target too many
        (torch.zeros(3, 7, 2, dtype=torch.bfloat16), torch.zeros(3, dtype=torch.long)),  # not (R, V)
        (torch.zeros(7, 3, dtype=torch.bfloat16).t(), torch.zeros(3, dtype=torch.long)),  # not contiguous
    ],
)
def test_the_loss_kernel_refuses_tensors_it_cannot_read(logits, target):
    with pytest.raises(ValueError, match="smoothed_ce_rows"):
        native.smoothed_ce_rows(logits, target, -1, 0.1, None)


@needs_energies
def test_the_energy_kernels_refuse_mismatched_shapes_and_dtypes():
    keys = torch.zeros(2, 5, 16, dtype=torch.bfloat16)
    query, v = torch.zeros(2, 16, dtype=torch.bfloat16), torch.zeros(16)
    assert native.energies(keys, query, v).shape == (2, 5)
    with pytest.raises(ValueError, match="query must be"):
        native.energies(keys, torch.zeros(3, 16, dtype=torch.bfloat16), v)
    with pytest.raises(ValueError, match="v must be"):
        native.energies(keys, query, v.to(torch.bfloat16))
    with pytest.raises(ValueError, match="A a multiple of 16"):
        native.energies(torch.zeros(2, 5, 12, dtype=torch.bfloat16), query, v)
    with pytest.raises(ValueError, match="grad must be"):
        native.energies_query_grad(keys, query, v, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="grads must be"):
        native.energies_keys_grads(keys, torch.zeros(3, 2, 16, dtype=torch.bfloat16), torch.zeros(2, 2, 5), v)


def test_dropout_keys_and_thresholds_out_of_range_are_refused():
    if native.library() is None:
        pytest.skip("dropout kernel not built")
    x = torch.ones(8)
    with pytest.raises(ValueError, match="out of range"):
        native.masked_product(x, -1, 100, 0)
    with pytest.raises(ValueError, match="out of range"):
        native.masked_product(x, 1, 1 << 16, 0)
