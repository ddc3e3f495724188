"""Where an update's time goes: operators by their own CPU time, and FLOPs counted by torch."""

import pytest
import torch
from conftest import transformer_config

import benchmarks.bench as bench
from benchmarks.step_profile import update_flops
from nmt_cli.accel.native import KERNEL_RANGE
from nmt_cli.data.batch import collate
from nmt_cli.models.seq2seq import build_model


def test_update_flops_count_every_matrix_product_of_forward_and_backward():
    torch.manual_seed(0)
    model = build_model(transformer_config()).train()
    one = update_flops(model, collate([[5, 6, 7]], [[8, 9]]), "fp32")
    two = update_flops(model, collate([[5, 6, 7]] * 2, [[8, 9]] * 2), "fp32")
    longer = update_flops(model, collate([[5, 6, 7, 5, 6, 7]], [[8, 9]]), "fp32")
    assert one > 0 and two == 2 * one  # every product is linear in the batch
    assert longer > one


def test_profile_names_the_operators_of_an_update_and_their_shares(toy_model_dir):
    from benchmarks.step_profile import profile_update

    if not (bench.ROOT / "data" / "multi30k" / "train.de.gz").is_file():
        pytest.skip("data/multi30k is not in this checkout")
    found = profile_update(toy_model_dir, steps=1, warmup=1, top=5)
    ops = found.ops
    assert len(ops) == 5 and all(op.name.startswith("aten::") or op.name == KERNEL_RANGE for op in ops)
    assert [op.ms_per_update for op in ops] == sorted((op.ms_per_update for op in ops), reverse=True)
    assert 0 < sum(op.share for op in ops) <= 1
    # every operator falls in one family, so the families add up to the whole
    assert abs(sum(c.share for c in found.categories) - 1) < 1e-6
    assert "matrix products" in {c.name for c in found.categories}
    assert "dropout masks" in {c.name for c in found.categories}  # the kernel or torch's operations
    # the update's four phases, each timed once per update
    assert [p.name for p in found.phases] == ["forward", "output layer + loss", "backward", "optimizer"]
    assert all(p.ms_per_update > 0 and p.calls_per_update == 1 for p in found.phases)
    assert found.unprofiled_ms > 0
