"""scripts/product_floor.py: the products it records are all of an update's products."""

import sys
from pathlib import Path

import pytest
import torch
from conftest import rnn_config, transformer_config

from benchmarks.step_profile import update_flops
from nmt_cli.data.batch import collate
from nmt_cli.models.seq2seq import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import product_floor  # noqa: E402


@pytest.mark.parametrize("config", [rnn_config, transformer_config])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_recorded_products_are_every_flop_of_forward_and_backward(config, precision):
    """If the dispatch mode missed a product (backward's, the fused loss's, the LSTM's), the
    floor would be too low and the ceiling it gives too high."""
    torch.manual_seed(0)
    model = build_model(config(attention="additive") if config is rnn_config else config()).train()
    batch = collate([[5, 6, 7, 8], [5, 6]], [[8, 9, 10], [11]])
    calls = product_floor.record(model, batch, precision)
    names = [str(func.overloadpacket.__name__) for func, _, _ in calls]
    flops = [product_floor._flops(func, args) for func, args, _ in calls]
    assert "mm" in names
    # torch's flop counter does not count matrix-vector products (additive attention's v)
    counted = sum(f for name, f in zip(names, flops, strict=True) if name not in {"mv", "addmv", "addmv_"})
    assert counted == update_flops(model, batch, precision)
    # and they replay on operands of the recorded layouts
    replay = product_floor.Replay(calls)
    assert len(replay.calls) == len(calls) and replay.run() > 0
