"""Model settings checked before anything is built from them: a model directory's saved ones,
and those a training run asks for; and where a setting means something by architecture, its
meaning here, so that training never asks which architecture it drives.

config.json and the settings stored with the weights come from a file, which may be damaged
or written by hand: a size of 10^9 would allocate hundreds of GB, a negative one fails deep in
torch, a million layers hangs. Each field is checked for its type, its range and its agreement
with the others, and the first problem is one line naming the field.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from nmt_cli.config import ModelConfig
from nmt_cli.errors import NMTError

# (lowest, highest) per integer field: the `nmt train` option's own range (config.py), and for
# the fields no option sets, bounds generous for any model nmt trains and far below what would
# exhaust memory. align_layer counts round the decoder layers; align_head is below heads.
INT_RANGES: dict[str, tuple[int, int]] = {
    f.name: (f.metadata["min"], f.metadata["max"])
    for f in dataclasses.fields(ModelConfig)
    if "min" in f.metadata and "max" in f.metadata
} | {
    "vocab_size": (5, 1_000_000),  # four special ids and at least one piece
    "src_vocab_size": (5, 1_000_000),
    "align_layer": (-64, 63),
    "max_positions": (1, 1_000_000),
}
MAX_PARAMETERS = 4_000_000_000  # 16 GB of fp32 weights: larger is a damaged file, not a model
FIELD_TYPES = typing.get_type_hints(ModelConfig)


def check_model_settings(settings: Any, where: Path | str) -> ModelConfig:
    """The ModelConfig that `settings` (a saved dict) describes, once every field is valid;
    otherwise an NMTError naming `where` and the field. Unknown keys (a newer version's) pass."""
    if not isinstance(settings, Mapping):
        raise NMTError(f"{where} is corrupt: its model settings are not an object")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    for name, value in settings.items():
        if name in known:
            check_field(name, value, where)
    cfg = ModelConfig.from_dict(dict(settings))
    check_consistency(cfg, where)
    return cfg


def check_field(name: str, value: Any, where: Path | str) -> None:
    """One field's type and range (see INT_RANGES, FIELD_TYPES)."""
    wanted = FIELD_TYPES[name]
    allowed = typing.get_args(wanted) if typing.get_origin(wanted) is typing.Literal else ()
    if allowed:
        if value not in allowed or not isinstance(value, str):
            raise _bad(where, name, value, "one of " + ", ".join(map(str, allowed)))
    elif wanted is bool:
        if not isinstance(value, bool):
            raise _bad(where, name, value, "true or false")
    elif wanted is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise _bad(where, name, value, "a number from 0 to below 1")
    elif name == "align_head":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise _bad(where, name, value, "null or a head number from 0")
    elif name in INT_RANGES:
        low, high = INT_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(where, name, value, f"a whole number from {low:,} to {high:,}")


def check_consistency(cfg: ModelConfig, where: Path | str) -> None:
    """What each field allows alone but not together, and a total size that no memory holds."""
    if cfg.arch == "rnn" and cfg.hidden_dim % 2:
        raise _bad(where, "hidden_dim", cfg.hidden_dim, "even (each encoder direction has half)")
    if cfg.arch == "transformer":
        if cfg.d_model % 2:
            raise _bad(where, "d_model", cfg.d_model, "even (sine and cosine positions)")
        if cfg.d_model % cfg.heads:
            raise _bad(where, "d_model", cfg.d_model, f"a multiple of heads ({cfg.heads})")
        if cfg.align_head is not None and cfg.align_head >= cfg.heads:
            raise _bad(where, "align_head", cfg.align_head, f"below heads ({cfg.heads})")
    if cfg.tie_embeddings and cfg.joint_vocab and cfg.vocab_size != cfg.src_vocab_size:
        raise _bad(where, "src_vocab_size", cfg.src_vocab_size, f"vocab_size ({cfg.vocab_size}) when joint")
    n = parameter_estimate(cfg)
    if n > MAX_PARAMETERS:
        raise NMTError(
            f"{where} is corrupt: its model settings describe about {n:.2e} parameters, more than "
            f"{MAX_PARAMETERS:.0e} (over {4 * MAX_PARAMETERS // 10**9} GB)"
        )


def check_buildable(cfg: ModelConfig, given: Collection[str]) -> None:
    """Refuse, in one line naming the options, sizes that each pass alone but cannot build the
    model together: before any data is prepared, not as a torch error after it. The default
    align layer (-2) is left to wrap round on a 1-layer decoder; one typed must exist."""
    if cfg.arch == "rnn":
        if cfg.hidden_dim % 2:
            raise NMTError(
                f"--hidden-dim must be even (each encoder direction has half), not {cfg.hidden_dim}"
            )
        return
    if cfg.d_model % 2:
        raise NMTError(f"--d-model must be even (sine and cosine positions), not {cfg.d_model}")
    if cfg.heads < 1 or cfg.d_model % cfg.heads:
        raise NMTError(f"--d-model {cfg.d_model} must be a multiple of --heads {cfg.heads}")
    layers = cfg.dec_layers
    if "align_layer" in given and not -layers <= cfg.align_layer < layers:
        raise NMTError(
            f"--align-layer {cfg.align_layer} is out of range: {-layers} to {layers - 1} "
            f"for {layers} decoder layer{'s' if layers != 1 else ''}"
        )
    if cfg.align_head is not None and not 0 <= cfg.align_head < cfg.heads:
        raise NMTError(f"--align-head {cfg.align_head} is out of range: 0 to {cfg.heads - 1}")


def given_fields(given: Collection[str], cfg: ModelConfig, saved_arch: str | None) -> dict[str, Any]:
    """The ModelConfig fields of the architecture options `given` (typed by the user), as `cfg`
    has them, with --layers meaning the encoder and decoder layers of a saved Transformer."""
    fields = set(cfg.to_dict())
    names = {n for n in given if n in fields}
    if "layers" in given and saved_arch == "transformer":
        names = (names - {"layers"}) | {"enc_layers", "dec_layers"}
    return {n: getattr(cfg, n) for n in names}


def guided_head(cfg: ModelConfig) -> ModelConfig:
    """`cfg` for guided-alignment training: a Transformer's guidance trains one cross-attention
    head, head 0 unless one is named; a BiLSTM has one attention, guided as it is."""
    if cfg.arch == "transformer" and cfg.align_head is None:
        return dataclasses.replace(cfg, align_head=0)
    return cfg


def parameter_estimate(cfg: ModelConfig) -> int:
    """Roughly how many weights `cfg` builds (embeddings, output layer, layers), to refuse
    impossible sizes before torch tries to allocate them."""
    if cfg.arch == "rnn":
        dim, hidden = cfg.embed_dim, cfg.hidden_dim
        layer = 4 * hidden * (dim + hidden) * 2  # an LSTM layer each side, four gates
        return (cfg.src_vocab_size + 2 * cfg.vocab_size) * max(dim, hidden) + cfg.layers * layer
    d = cfg.d_model
    encoder = cfg.enc_layers * (4 * d * d + 2 * d * cfg.ff_dim)
    decoder = cfg.dec_layers * (8 * d * d + 2 * d * cfg.ff_dim)
    return (cfg.src_vocab_size + 2 * cfg.vocab_size + cfg.max_positions) * d + encoder + decoder


def _bad(where: Path | str, name: str, value: Any, wanted: str) -> NMTError:
    shown = repr(value) if isinstance(value, str) else str(value)[:40]
    return NMTError(f"{where} is corrupt: model setting {name} must be {wanted}, not {shown}")
