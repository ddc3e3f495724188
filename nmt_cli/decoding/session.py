"""What every decoding command does before it decodes (`nmt translate`, `evaluate`, `align`):
load the models named by -m as the runtime asks, refuse a beam the model cannot fill, and list
the files it reads, so that no output is ever written over one of them (io/files.py).

One model loads without models/ensemble.py: an ensemble is built only from several.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nmt_cli.config import RuntimeConfig
    from nmt_cli.models.checkpoint import LoadedModel

Reads = list[tuple[str, Path | None]]  # (option, path) of each file read; "-" is stdin


def load_models(model_dirs: Sequence[Path], runtime: RuntimeConfig, beam_size: int) -> LoadedModel:
    """The model in `model_dirs` (none: the shipped one; several: their ensemble) on the device
    and in the precision `runtime` asks for, refused in one line if `beam_size` is wider than
    its target vocabulary (the beam's first step would have fewer candidates)."""
    from nmt_cli.models.checkpoint import check_beam, load_for_decoding

    if len(model_dirs) > 1:
        from nmt_cli.models.ensemble import load_for_decoding as load_ensemble

        loaded = load_ensemble(model_dirs, runtime)
    else:
        loaded = load_for_decoding(model_dirs[0] if model_dirs else None, runtime)
    check_beam(beam_size, loaded)
    return loaded


def files_read(model_dirs: Sequence[Path], glossary: str | None, reverse_model: Path | None = None) -> Reads:
    """The files inside the model directories (none: the shipped model's), the reverse model's
    (`nmt align`) and the glossary: what a decoding command reads besides its input, for
    `refuse_same_file`."""
    from nmt_cli.io.files import directory_inputs
    from nmt_cli.models.checkpoint import SHIPPED_MODEL

    reads = directory_inputs("-m", model_dirs or [SHIPPED_MODEL])
    reads += directory_inputs("--reverse-model", [reverse_model] if reverse_model else [])
    reads.append(("--glossary", Path(glossary) if glossary else None))
    return reads
