"""`nmt train`'s options as a TrainRecipe: every option a field, the configs it makes."""

import typing
from pathlib import Path

import pytest

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.errors import NMTError
from nmt_cli.training.recipe import OPTIONS, TrainRecipe, changed, configs


def recipe(**kw) -> TrainRecipe:
    return TrainRecipe(train=("data/x",), src_lang="de", tgt_lang="en", output=Path("out"), **kw)


def changed_value(opt):
    """A value of the option's type other than its default, that builds a model."""
    default = opt.field.default
    choices = [c for c in typing.get_args(opt.hint) if isinstance(c, str)]
    if choices:
        return next(c for c in choices if c != default)
    if isinstance(default, str):  # free text: device, guided_alignment
        return {"device": "cpu", "guided_alignment": "eflomal"}[opt.name]
    if isinstance(default, bool):
        return not default
    if isinstance(default, float):
        return default / 2 if default else 0.05
    if isinstance(default, int):
        return default + 2
    return None


SKIP = {"train", "src_lang", "tgt_lang", "output", "arch", "init_from", "vocab_from", "data_dir", "valid"}
SKIP |= {"train_weights", "continue_optimizer", "overwrite", "align_head"}


@pytest.mark.parametrize("name", [n for n in OPTIONS if n not in SKIP])
def test_each_option_reaches_the_config_field_that_declares_it(name):
    opt = OPTIONS[name]
    value = changed_value(opt)
    assert value is not None, name
    model, data, train = configs(recipe(**{name: value}))
    section = {ModelConfig: model, DataConfig: data, TrainConfig: train}[opt.section]
    assert getattr(section, name) == value


def test_options_are_typed_fields_and_the_help_order_puts_required_ones_first():
    names = list(OPTIONS)
    assert names[:4] == ["train", "src_lang", "tgt_lang", "output"]
    assert all(OPTIONS[n].field.metadata["help"] for n in names)
    with pytest.raises(TypeError, match="unknown options"):
        recipe(no_such_option=1)
    with pytest.raises(TypeError, match="missing"):
        TrainRecipe(train=("x",))


def test_what_is_left_out_takes_the_architectures_defaults():
    model, data, train = configs(recipe(arch="transformer", train_weights=(1.0,)))
    assert (model.enc_layers, model.dec_layers, model.dropout) == (3, 3, 0.1)
    assert train.lr_schedule == "inverse-sqrt" and train.output == "out" and train.init_from is None
    assert data.prefixes == ("data/x",) and data.weights == (1.0,) and data.data_dir is None
    model, _, train = configs(recipe(layers=2, dropout=0.2, lr_schedule="inverse-sqrt", keep_checkpoints=3))
    assert (model.arch, model.layers, model.dropout) == ("rnn", 2, 0.2)
    assert train.lr_schedule == "inverse-sqrt" and train.keep_checkpoints == 3


def test_changed_names_what_a_python_caller_set():
    assert changed(recipe(lr=0.5, arch="rnn")) == {"train", "src_lang", "tgt_lang", "output", "lr"}


def test_continue_optimizer_without_init_from_is_refused():
    with pytest.raises(NMTError, match="--continue-optimizer goes with --init-from"):
        configs(recipe(continue_optimizer=True))


def test_vocab_from_is_kept_and_refused_beside_init_from_or_a_vocabulary_size():
    _, _, train = configs(recipe(vocab_from=Path("runs/a")))
    assert train.vocab_from == "runs/a" and train.init_from is None
    with pytest.raises(NMTError, match="--init-from DIR already takes"):
        configs(recipe(vocab_from=Path("runs/a"), init_from=Path("runs/b")))
    with pytest.raises(NMTError, match="come from --vocab-from DIR"):
        configs(recipe(vocab_from=Path("runs/a"), vocab_size=500))


@pytest.mark.parametrize(
    ("kw", "option"),
    [
        ({"arch": "transformer", "d_model": 30, "heads": 4}, "--heads"),
        ({"arch": "transformer", "d_model": 31, "heads": 1}, "--d-model"),
        ({"arch": "transformer", "heads": 0}, "--heads"),
        ({"arch": "transformer", "dec_layers": 1, "align_layer": 5}, "--align-layer"),
        ({"arch": "transformer", "layers": 2, "align_layer": -3}, "--align-layer"),
        ({"hidden_dim": 255}, "--hidden-dim"),
    ],
)
def test_sizes_that_cannot_build_the_model_together_are_refused_naming_the_options(kw, option):
    with pytest.raises(NMTError, match=option):
        configs(recipe(**kw))


def test_the_default_align_layer_still_wraps_on_a_one_layer_decoder():
    model, _, _ = configs(recipe(arch="transformer", layers=1))
    assert (model.dec_layers, model.align_layer) == (1, -2)
    model, _, _ = configs(recipe(arch="transformer", dec_layers=2, align_layer=-2, d_model=64, heads=8))
    assert model.align_layer == -2
