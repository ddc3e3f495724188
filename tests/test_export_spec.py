"""export.spec_table, which needs no CTranslate2 (test_export.py, which does, is skipped without
it): every weight of a Transformer is mapped exactly once, in both norm placements, and a
decoder layer maps what an encoder layer does plus cross-attention."""

import collections

import pytest
from conftest import transformer_config

from nmt_cli.models.export import spec_table
from nmt_cli.models.seq2seq import build_model


@pytest.mark.parametrize("post_norm", [False, True])
def test_every_weight_is_mapped_once_and_the_position_table_for_both_sides(post_norm):
    cfg = transformer_config(enc_layers=2, dec_layers=3, post_norm=post_norm)
    used = collections.Counter(name for names in spec_table(cfg).values() for name in names)
    assert set(used) - {"positions"} == set(build_model(cfg).state_dict())
    assert used["positions"] == 2 and max(c for n, c in used.items() if n != "positions") == 1
    assert ("encoder.layer_norm.gamma" in spec_table(cfg)) is not post_norm  # pre-norm's final norms


def test_encoder_and_decoder_layers_map_self_attention_and_ffn_alike():
    table = spec_table(transformer_config(enc_layers=1, dec_layers=1))

    def sublayers(side):
        return {
            k.removeprefix(f"{side}.layer.0."): [v.removeprefix(f"{side}.0.") for v in vs]
            for k, vs in table.items()
            if k.startswith(f"{side}.layer.0.")
        }

    encoder, decoder = sublayers("encoder"), sublayers("decoder")
    assert encoder["self_attention.linear.0.weight"] == [
        "self_attn.q_proj.weight",
        "self_attn.kv_proj.weight",
    ]
    assert decoder["attention.linear.0.weight"] == ["cross_attn.q_proj.weight"]
    assert decoder["attention.linear.1.weight"] == ["cross_attn.kv_proj.weight"]
    assert decoder["ffn.layer_norm.gamma"] == ["res3.norm.weight"] and encoder["ffn.layer_norm.gamma"] == [
        "res2.norm.weight"
    ]
    shared = {k: v for k, v in decoder.items() if not k.startswith("attention.")}
    assert {k: v for k, v in shared.items() if not k.startswith("ffn.layer_norm")} == {
        k: v for k, v in encoder.items() if not k.startswith("ffn.layer_norm")
    }
