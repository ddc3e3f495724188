"""The options of `nmt train` and `nmt prepare`: the corpus and model-building side of the CLI
(typer only: no rich, no torch).

Each option is declared once, as a config field (see `config.option` and recipe.OPTIONS);
this module only turns those declarations into typer options. `training` adds every `nmt
train` option to a command and hands it a TrainRecipe.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from nmt_cli.cli.options import Command, finite, range_text, with_options
from nmt_cli.config import ARCH_DEFAULTS, MAX_SEED
from nmt_cli.training.recipe import OPTIONS, Option, TrainRecipe

# What typer.Option takes from a declaration's metadata as it is.
_TYPER_KEYS = ("metavar", "min", "max")


def _help(opt: Option) -> str:
    """The option's help; an architecture-dependent default is filled in for each architecture."""
    text: str = opt.field.metadata["help"]
    if opt.field.metadata.get("by_arch"):
        rnn, tf = (getattr(ARCH_DEFAULTS[a], opt.name, None) for a in ("rnn", "transformer"))
        text = text.format(rnn=rnn, transformer=tf)
    return text


def typer_option(opt: Option) -> tuple[Any, Any]:
    """The annotated type and default of `opt` as a typer parameter: the command line's form of
    the field's type (None where the architecture decides), its flags, help and checks."""
    meta = opt.field.metadata
    kind = meta.get("cli_type", opt.hint)
    if meta.get("by_arch"):
        kind = kind | None
    text, checks = _help(opt), {k: meta[k] for k in _TYPER_KEYS if k in meta}
    if "bounds" in meta:  # typer's min/max let nan and inf through: a callback refuses them
        bounds = meta["bounds"]
        checks |= {"callback": finite(*bounds)}
        text = f"{text} [{range_text(bounds)}]"
    info = typer.Option(*meta.get("flags", ()), help=text, **checks)
    default = inspect.Parameter.empty if opt.required else opt.default
    return Annotated[kind, info], default


def annotated(name: str) -> Any:
    """The annotated type of the option `name`, for a command that declares it itself."""
    return typer_option(OPTIONS[name])[0]


def training(command: Command) -> Command:
    """Add every `nmt train` option to a command (before --debug), and call it with
    `recipe: TrainRecipe` built from them (repeated options as tuples)."""
    options = {name: typer_option(opt) for name, opt in OPTIONS.items()}

    def build(values: dict[str, Any]) -> dict[str, Any]:
        tuples: dict[str, Any] = {n: tuple(v) if isinstance(v, list) else v for n, v in values.items()}
        return {"recipe": TrainRecipe(**tuples)}

    return with_options(options, ("recipe",), build)(command)


# The corpus options `nmt prepare` shares with `nmt train`.
TrainPrefixes = annotated("train")
SrcLang = annotated("src_lang")
TgtLang = annotated("tgt_lang")
ValidPrefix = annotated("valid")
DataDir = annotated("data_dir")
SpmSample = annotated("spm_sample")
ValidMaxSentences = annotated("valid_max_sentences")
VocabSize = annotated("vocab_size")
JointVocab = annotated("joint_vocab")
MaxLen = annotated("max_len")

# prepare's own
PrepareOutput = Annotated[
    Path | None, typer.Option("-o", "--output", help="Model directory: prepare into OUTPUT/data.")
]
PrepareSeed = Annotated[
    int,
    typer.Option(min=0, max=MAX_SEED, help="Random seed (the SentencePiece sample, the held-out pairs)."),
]
