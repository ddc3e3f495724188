"""What every decoding command does before it decodes (`nmt translate`, `evaluate`, `align`):
load the models named by -m on the device, in the precision and with the threads the runtime
asks for, refuse a beam the model cannot fill, and list the files it reads, so that no output
is ever written over one of them (io/files.py).

One model loads without models/ensemble.py: an ensemble is built only from several.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from nmt_cli.config import RuntimeConfig
from nmt_cli.device import resolve_device, resolve_precision
from nmt_cli.errors import NMTError
from nmt_cli.models.checkpoint import SHIPPED_MODEL, LoadedModel, load_model

Reads = list[tuple[str, Path | None]]  # (option, path) of each file read; "-" is stdin


def load_models(model_dirs: Sequence[Path], runtime: RuntimeConfig, beam_size: int) -> LoadedModel:
    """The model in `model_dirs` (none: the shipped one; several: their ensemble) as `runtime`
    asks, refused in one line if `beam_size` is wider than its target vocabulary (the beam's
    first step would have fewer candidates)."""
    if len(model_dirs) > 1:
        from nmt_cli.models.ensemble import combine

        loaded = combine([load_for_decoding(d, runtime) for d in model_dirs])
    else:
        loaded = load_for_decoding(model_dirs[0] if model_dirs else None, runtime)
    check_beam(beam_size, loaded)
    return loaded


def check_beam(beam_size: int, loaded: LoadedModel) -> None:
    """Refuse a beam wider than the target vocabulary: its first step has fewer candidates."""
    vocab = loaded.tokenizer.tgt_vocab_size
    if beam_size > vocab:
        raise NMTError(
            f"--beam-size {beam_size} is larger than the model's target vocabulary ({vocab} pieces): "
            f"use at most {vocab}"
        )


def load_for_decoding(model_dir: Path | None, runtime: RuntimeConfig) -> LoadedModel:
    """The model in `model_dir` (None: the shipped one) as `runtime` asks: on its device, in
    bf16 or fp32, or int8-quantised for the CPU, with its CPU thread count set."""
    if runtime.threads > 0:
        torch.set_num_threads(runtime.threads)
    if model_dir is None:
        model_dir = SHIPPED_MODEL
        if not model_dir.is_dir():
            raise NMTError(
                f"no model given and the shipped model is missing ({model_dir}); pass -m MODEL_DIR"
            )
    device = resolve_device(runtime.device)
    loaded = load_model(model_dir, device)
    if runtime.quantize == "int8":
        if device.type != "cpu":
            raise NMTError("--quantize int8 is for the CPU: add --device cpu")
        if runtime.precision == "bf16":
            raise NMTError("--quantize int8 and --precision bf16 exclude each other: pick one")
        from nmt_cli.decoding.precision import quantize_int8

        loaded.model = quantize_int8(loaded.model)
    elif resolve_precision(runtime.precision, device) == "bf16":
        from nmt_cli.decoding.precision import cast_for_decoding

        loaded.model = cast_for_decoding(loaded.model, "bf16")
    return loaded


def files_read(model_dirs: Sequence[Path], glossary: str | None, reverse_model: Path | None = None) -> Reads:
    """The files inside the model directories (none: the shipped model's), the reverse model's
    (`nmt align`) and the glossary: what a decoding command reads besides its input, for
    `refuse_same_file`."""
    from nmt_cli.io.files import directory_inputs

    reads = directory_inputs("-m", model_dirs or [SHIPPED_MODEL])
    reads += directory_inputs("--reverse-model", [reverse_model] if reverse_model else [])
    reads.append(("--glossary", Path(glossary) if glossary else None))
    return reads
