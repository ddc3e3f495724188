"""Decoding precision: bf16 weight products and int8 quantisation keep what the model says."""

import copy

import torch
from toy import exact_match, src_batch

from nmt_cli.accel.ops import to_autocast_dtype
from nmt_cli.config import DecodeConfig
from nmt_cli.decoding.beam import beam_search
from nmt_cli.decoding.greedy import greedy
from nmt_cli.decoding.precision import (
    BF16Linear,
    BF16LSTMCell,
    cast_for_decoding,
    quantize_int8,
)


def test_bf16_lstm_cell_matches_the_fp32_cell_and_keeps_fp32_states():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(24, 32)
    x, h, c = torch.randn(5, 24), torch.randn(5, 32), torch.randn(5, 32)
    want_h, want_c = cell(x, (h, c))
    got_h, got_c = BF16LSTMCell(cell)(x, (h, c))
    assert got_h.dtype == got_c.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: products agree to about 1e-2
    assert torch.allclose(got_h, want_h, atol=3e-2) and torch.allclose(got_c, want_c, atol=3e-2)


def test_bf16_linear_matches_fp32():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 16)
    x = torch.randn(3, 7, 64)
    got = BF16Linear(linear)(x)
    assert got.dtype == torch.float32
    assert torch.allclose(got, linear(x), atol=5e-2)


def test_cast_for_decoding_swaps_every_product_but_the_attention_vector(rnn_reverse):
    model = cast_for_decoding(copy.deepcopy(rnn_reverse[0]), "bf16")
    kinds = {type(m) for m in model.modules()}
    assert torch.nn.LSTMCell not in kinds and BF16LSTMCell in kinds
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1]  # additive attention's v stays fp32
    assert cast_for_decoding(rnn_reverse[0], "fp32") is rnn_reverse[0]


def test_bf16_and_int8_decoding_keep_the_trained_model_accurate(trained):
    model, pairs = trained
    src, mask = src_batch(pairs)
    cfg = DecodeConfig(beam_size=4)
    with torch.inference_mode():
        want = [h.tokens for h in greedy(model, src, mask, cfg)]
        for variant in (cast_for_decoding(copy.deepcopy(model), "bf16"), quantize_int8(copy.deepcopy(model))):
            got = [h.tokens for h in greedy(variant, src, mask, cfg)]
            beams = [h[0].tokens for h in beam_search(variant, src, mask, cfg)]
            assert sum(g == w for g, w in zip(got, want)) >= 0.95 * len(want)
            assert exact_match(beams, pairs) >= 0.9


def test_to_autocast_dtype_casts_floats_only_under_autocast():
    x, ids = torch.randn(3, 4), torch.tensor([1, 2])
    assert to_autocast_dtype(x) is x
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert to_autocast_dtype(x).dtype == torch.bfloat16
        assert to_autocast_dtype(ids) is ids
