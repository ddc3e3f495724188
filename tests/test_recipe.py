"""`nmt train`'s options as a TrainRecipe: every option a field, the configs it makes."""

import dataclasses
from pathlib import Path

import pytest

from nmt_cli.cli.train_options import TRAIN_OPTIONS
from nmt_cli.errors import NMTError
from nmt_cli.training.recipe import TrainRecipe, changed, configs


def recipe(**kw) -> TrainRecipe:
    return TrainRecipe(train=("data/x",), src_lang="de", tgt_lang="en", output=Path("out"), **kw)


def test_every_train_option_is_a_recipe_field_in_help_order():
    assert list(TRAIN_OPTIONS) == [f.name for f in dataclasses.fields(TrainRecipe)]


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
