"""A training recipe: every option of `nmt train` by name, and the model, data and training
configs it makes, with each architecture's defaults and fine-tuning's constraints.

The options are declared once, as fields of the configs (made with `config.option`, which holds
each one's help): OPTIONS collects them, cli/train_options.py makes the typer options from them,
and a recipe's values go back into the configs by the field that declared them. The library
form of `nmt train`: `run_recipe(TrainRecipe(train=("data/x",), src_lang="de", tgt_lang="en",
output=Path("runs/x"), arch="transformer"))`. torch is imported only to train.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from nmt_cli.config import (
    Arch,
    DataConfig,
    ModelConfig,
    TrainConfig,
    model_config,
    option,
    train_config,
)
from nmt_cli.errors import NMTError
from nmt_cli.models.config_check import check_buildable, given_fields, guided_head

if TYPE_CHECKING:
    from nmt_cli.training.loop import Reporter, TrainResult


@dataclass(frozen=True)
class RunOptions:
    """What `nmt train` does with OUTPUT: options of the run, not of what it trains."""

    overwrite: bool = option(
        False, "Start afresh even if OUTPUT holds a run to resume (its prepared data/ is kept)."
    )


# The configs whose option fields make `nmt train`'s options, in --help order.
SECTIONS: tuple[type, ...] = (DataConfig, ModelConfig, TrainConfig, RunOptions)


@dataclass(frozen=True)
class Option:
    """One `nmt train` option: the config field that declares it, and that field's type."""

    section: type
    field: dataclasses.Field[Any]
    hint: Any

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def required(self) -> bool:
        return self.field.default is dataclasses.MISSING

    @property
    def default(self) -> Any:
        """A recipe's value when the option is left out: None where the architecture decides
        (`by_arch`) or the command line's form admits None; else the field's default."""
        meta = self.field.metadata
        if meta.get("by_arch") or type(None) in typing.get_args(meta.get("cli_type")):
            return None
        return self.field.default


def _declared() -> dict[str, Option]:
    """Every option field of SECTIONS: required ones first, then in declaration order."""
    found: dict[str, Option] = {}
    for section in SECTIONS:
        hints = typing.get_type_hints(section)
        for f in dataclasses.fields(section):
            if "help" in f.metadata:
                if f.name in found:
                    raise TypeError(f"option {f.name} is declared twice")
                found[f.name] = Option(section, f, hints[f.name])
    ordered = sorted(found.values(), key=lambda o: not o.required)  # stable
    return {o.name: o for o in ordered}


OPTIONS: Mapping[str, Option] = MappingProxyType(_declared())


class TrainRecipe:
    """What `nmt train` is told: a value for each of OPTIONS, by name (repeated options as
    tuples); None where the architecture's default (or, with `init_from`, the model's) applies.
    Immutable, as the frozen configs it makes."""

    __slots__ = ("_values",)
    _values: dict[str, Any]

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(OPTIONS))
        missing = [n for n, o in OPTIONS.items() if o.required and n not in values]
        if unknown or missing:
            raise TypeError(f"TrainRecipe: unknown options {unknown}, missing {missing}")
        object.__setattr__(self, "_values", {n: values.get(n, o.default) for n, o in OPTIONS.items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"TrainRecipe has no option {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to option {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrainRecipe) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"TrainRecipe({', '.join(f'{n}={self._values[n]!r}' for n in sorted(changed(self)))})"

    @property
    def values(self) -> Mapping[str, Any]:
        return MappingProxyType(self._values)


def changed(recipe: TrainRecipe) -> set[str]:
    """The options that differ from their defaults: what a Python caller set, standing in for
    the options a user typed."""
    return {n for n, o in OPTIONS.items() if o.required or recipe.values[n] != o.default}


def section_values(recipe: TrainRecipe, section: type) -> dict[str, Any]:
    """The values `recipe` gives the option fields of `section`, as the config holds them
    (paths as text, sequences as tuples); left out where None, for the default to apply."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        return tuple(value) if isinstance(value, list) else value

    return {
        n: plain(v)
        for n, o in OPTIONS.items()
        if o.section is section and (v := recipe.values[n]) is not None
    }


def configs(
    recipe: TrainRecipe, given: Collection[str] | None = None
) -> tuple[ModelConfig, DataConfig, TrainConfig]:
    """The configs `recipe` trains with. With `init_from`, the architecture and vocabulary are
    the model directory's, and the options in `given` (None: those `changed`) that contradict
    them are refused in one line."""
    given = changed(recipe) if given is None else given
    if recipe.continue_optimizer and recipe.init_from is None:
        raise NMTError("--continue-optimizer goes with --init-from DIR")
    if recipe.vocab_from is not None and recipe.init_from is not None:
        raise NMTError("--init-from DIR already takes DIR's SentencePiece model: leave out --vocab-from")
    settings = None if recipe.init_from is None else _saved_settings(recipe.init_from)
    saved_arch: Arch | None = None if settings is None else settings.get("arch", ModelConfig.arch)
    if saved_arch is not None and "arch" in given and recipe.arch != saved_arch:
        raise NMTError(
            f"--arch {recipe.arch} contradicts {recipe.init_from}, a {saved_arch} model: leave it out"
        )
    arch = saved_arch or recipe.arch
    model_values = section_values(recipe, ModelConfig)
    del model_values["arch"]
    model_cfg = model_config(arch, **model_values)
    data_cfg = DataConfig(**section_values(recipe, DataConfig))
    train_values = section_values(recipe, TrainConfig)
    train_cfg = train_config(arch, train_values.pop("output"), **train_values)
    taken = recipe.init_from is not None or recipe.vocab_from is not None
    if taken and {"vocab_size", "joint_vocab"} & set(given):
        option = "--init-from" if recipe.init_from is not None else "--vocab-from"
        raise NMTError(f"--vocab-size and --joint-vocab come from {option} DIR: leave them out")
    if recipe.init_from is not None:
        from nmt_cli.training import finetune

        overrides = given_fields(given, model_cfg, saved_arch)
        model_cfg = finetune.model_config(recipe.init_from, overrides, settings)
    if train_cfg.guided_alignment != "none":
        model_cfg = guided_head(model_cfg)
    check_buildable(model_cfg, given)
    return model_cfg, data_cfg, train_cfg


def _saved_settings(init_from: Path) -> dict[str, Any]:
    """The model settings of the directory to fine-tune, read once for the checks here."""
    from nmt_cli.training import finetune

    return finetune.saved_settings(init_from)


def run_recipe(
    recipe: TrainRecipe, reporter: Reporter | None = None, given: Collection[str] | None = None
) -> TrainResult:
    """What `nmt train` does: resume the run in `recipe.output`, if any, else start one. On
    resume, the settings named in `given` (None: those `changed`) must match the stored run's."""
    from nmt_cli.training.loop import train_or_resume

    given = changed(recipe) if given is None else given
    model_cfg, data_cfg, train_cfg = configs(recipe, given)
    return train_or_resume(model_cfg, data_cfg, train_cfg, reporter, recipe.overwrite, given)
