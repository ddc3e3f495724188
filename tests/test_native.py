"""The compiled kernels check what they are given before they touch memory: a tensor of the
wrong dtype or shape, or a key or threshold out of range, is refused as torch refuses it."""

import pytest
import torch

from nmt_cli.accel import kernels, native  # kernels: registers the nmt:: operators

needs_energies = pytest.mark.skipif(native.energies_library() is None, reason="no additive kernel here")


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


# The kernels as torch custom operators (kernels.py): the schema, fake and autograd registrations
# checked by torch's own opcheck, and each operator against torch's operations.

needs_dropout = pytest.mark.skipif(native.library() is None, reason="dropout kernel not built")


@needs_dropout
@pytest.mark.parametrize(
    "dtype, relu", [(torch.float32, False), (torch.bfloat16, False), (torch.bfloat16, True)]
)
def test_the_dropout_operator_is_torchs_product_with_the_same_mask_and_gradient(dtype, relu):
    from nmt_cli.accel.dropout import _scale, _scaled, drop_threshold, keep_mask, scale_bits

    x = (torch.randn(37, 29) * 2).to(dtype).requires_grad_()
    key, p = 424242, 0.3
    bits = scale_bits(_scale(p), dtype)
    y = torch.ops.nmt.masked_product(x, key, drop_threshold(p), bits, relu)
    x_ref = x.detach().clone().requires_grad_()
    keep, _ = keep_mask(x.shape, p, key, x.device)
    y_ref = (torch.relu(x_ref) if relu else x_ref) * _scaled(keep, _scale(p), dtype)
    assert torch.equal(y, y_ref)
    grad = torch.randn_like(y)
    (got,) = torch.autograd.grad(y, x, grad)
    (want,) = torch.autograd.grad(y_ref, x_ref, grad)
    assert torch.equal(got, want)
    torch.library.opcheck(kernels.masked_product, (x, key, drop_threshold(p), bits, relu))


@needs_dropout
def test_the_dropout_operator_refuses_relu_on_fp32_and_mismatched_gradients():
    with pytest.raises(ValueError, match="relu takes bf16"):
        torch.ops.nmt.masked_product(torch.ones(4), 1, 100, 0, True)
    y = torch.ones(4, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="differ"):
        torch.ops.nmt.relu_dropout_grad(y, torch.ones(5, dtype=torch.bfloat16), 0)
    torch.library.opcheck(kernels.relu_dropout_grad, (y, torch.randn(4).bfloat16(), 16256))


@needs_energies
def test_the_energy_operator_gives_torchs_energies_and_gradients():
    """vᵀ tanh(keys + q) and its gradients for keys, query and v, as torch's autograd makes
    them in fp32 from the same bf16 inputs (the kernel adds and takes tanh in fp32)."""
    gen = torch.Generator().manual_seed(3)
    keys = torch.randn(3, 5, 32, generator=gen).bfloat16().requires_grad_()
    query = torch.randn(3, 32, generator=gen).bfloat16().requires_grad_()
    v = torch.randn(32, generator=gen).requires_grad_()
    e = torch.ops.nmt.additive_energies(keys, query, v)
    k32, q32, v32 = (t.detach().float().requires_grad_() for t in (keys, query, v))
    want = torch.tanh(k32 + q32.unsqueeze(1)) @ v32
    assert torch.allclose(e, want.detach(), rtol=1e-4, atol=1e-4)
    grad = torch.randn(3, 5, generator=gen)
    got = torch.autograd.grad(e, (keys, query, v), grad)
    wanted = torch.autograd.grad(want, (k32, q32, v32), grad)
    for g, w in zip(got, wanted, strict=True):
        assert (g.float() - w).norm() <= 2**-7 * w.norm()  # the bf16 inputs' gradients are bf16
    torch.library.opcheck(kernels.additive_energies, (keys, query, v))
    torch.library.opcheck(kernels.energies_query_grad, (keys.detach(), query.detach(), v.detach(), grad))
    queries, grads = query.detach().unsqueeze(0), grad.unsqueeze(0)
    torch.library.opcheck(kernels.energies_keys_grads, (keys.detach(), queries, grads, v.detach()))


@needs_energies
def test_the_energy_operator_refuses_mismatched_shapes():
    keys = torch.zeros(2, 5, 16, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="query must be"):
        torch.ops.nmt.additive_energies(keys, torch.zeros(3, 16, dtype=torch.bfloat16), torch.zeros(16))
