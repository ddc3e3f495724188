"""A model directory's model settings are checked field by field before anything is built:
absurd sizes, wrong types and settings that disagree are one line naming the field."""

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_cli.config import ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.checkpoint import load_model
from nmt_cli.models.config_check import INT_RANGES, MAX_PARAMETERS, check_model_settings, parameter_estimate

FIELDS = [f.name for f in dataclasses.fields(ModelConfig)]
BASES = {
    "rnn": ModelConfig(vocab_size=40, src_vocab_size=40).to_dict(),
    "transformer": ModelConfig(arch="transformer", vocab_size=40, src_vocab_size=40).to_dict(),
}
odd_values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, -1, 1, 2, 3, 10**9, 2**63, 1_000_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["256", "rnn", "transformer", "dot", "luong", "global", "local-p"]),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def in_range(cfg: ModelConfig) -> bool:
    """Every integer field within its range and the whole model of a size memory holds."""
    ints = all(
        isinstance(getattr(cfg, n), int) and lo <= getattr(cfg, n) <= hi for n, (lo, hi) in INT_RANGES.items()
    )
    return ints and 0 <= cfg.dropout < 1 and parameter_estimate(cfg) <= MAX_PARAMETERS


@settings(max_examples=400, deadline=None)
@given(arch=st.sampled_from(sorted(BASES)), field=st.sampled_from(FIELDS), value=odd_values)
def test_any_value_of_any_field_is_accepted_in_range_or_refused_naming_the_field(arch, field, value):
    settings_ = {**BASES[arch], field: value}
    try:
        cfg = check_model_settings(settings_, "m/config.json")
    except NMTError as e:
        message = str(e)
        assert message.startswith("m/config.json is corrupt") and "\n" not in message
        assert field in message or "parameters" in message or field == "arch"
        return
    assert in_range(cfg)
    assert getattr(cfg, field) == value or (isinstance(value, float) and math.isnan(value))


@settings(max_examples=200, deadline=None)
@given(
    d_model=st.integers(1, 4096),
    heads=st.integers(1, 64),
    layers=st.integers(1, 64),
    vocab=st.integers(5, 1_000_000),
)
def test_sizes_that_agree_and_fit_are_accepted_and_others_refused(d_model, heads, layers, vocab):
    raw = {**BASES["transformer"], "d_model": d_model, "heads": heads, "dec_layers": layers}
    raw |= {"vocab_size": vocab, "src_vocab_size": vocab}
    ok = d_model % 2 == 0 and d_model % heads == 0
    ok = ok and parameter_estimate(ModelConfig.from_dict(raw)) <= MAX_PARAMETERS
    if ok:
        assert check_model_settings(raw, "x").d_model == d_model
    else:
        with pytest.raises(NMTError, match="d_model|parameters"):
            check_model_settings(raw, "x")


@pytest.mark.parametrize(
    "field, value, said",
    [
        ("d_model", 10**9, "d_model must be a whole number from 2 to 16,384, not 1000000000"),
        ("heads", 0, "heads must be"),
        ("enc_layers", 1_000_000, "enc_layers must be"),
        ("d_model", "256", "d_model must be a whole number from 2 to 16,384, not '256'"),
        ("vocab_size", -5, "vocab_size must be"),
        ("heads", 3, "d_model must be a multiple of heads (3)"),
        ("dropout", 1.5, "dropout must be a number from 0 to below 1"),
        ("arch", "lstm", "arch must be one of rnn, transformer, not 'lstm'"),
    ],
)
def test_a_damaged_config_json_is_refused_before_the_weights_are_read(tmp_path, field, value, said):
    """config.json with sizes of 10^9 tried to allocate 256 GB; heads 0 and strings gave raw errors."""
    model = {**BASES["transformer"], field: value}
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 1, "model": model}))
    (tmp_path / "model.pt").write_bytes(b"not read")
    with pytest.raises(
        NMTError,
        match=f"config.json is corrupt: model setting {said}".replace("(", r"\(").replace(")", r"\)"),
    ):
        load_model(tmp_path)


def test_the_shipped_models_pass():
    from nmt_cli.models.checkpoint import SHIPPED_MODEL

    for d in (SHIPPED_MODEL, SHIPPED_MODEL.parent / "en-de"):
        config = json.loads((d / "config.json").read_text())
        assert check_model_settings(config["model"], d).arch == "transformer"
