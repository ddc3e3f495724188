"""Configuration: per-architecture defaults live once, saved configs load forward-compatibly."""

from typer.testing import CliRunner

from nmt_cli.config import (
    ModelConfig,
    TrainConfig,
    model_config,
    train_config,
)


def test_each_architecture_gets_its_own_recipe_unless_told_otherwise():
    rnn, tf = model_config("rnn"), model_config("transformer")
    assert (rnn.layers, rnn.dropout) == (1, 0.3)
    assert (tf.enc_layers, tf.dec_layers, tf.dropout) == (3, 3, 0.1)
    assert train_config("rnn", "out").lr_schedule == "plateau"
    assert train_config("transformer", "out").lr_schedule == "inverse-sqrt"
    # What the user sets wins; None means "the architecture's default".
    tf = model_config("transformer", layers=2, dec_layers=1, dropout=None)
    assert (tf.enc_layers, tf.dec_layers, tf.dropout) == (2, 1, 0.1)
    assert train_config("transformer", "out", lr_schedule="plateau").lr_schedule == "plateau"


def test_nmt_train_help_shows_the_config_defaults():
    """The CLI reads its defaults from config.py (they once drifted: warmup 1000 vs 4000)."""
    result = CliRunner().invoke(
        __import__("nmt_cli.cli.app").cli.app.app, ["train", "--help"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if "--warmup-steps" in x)
    assert f"[default: {TrainConfig.warmup_steps}]" in line
    assert TrainConfig.warmup_steps == 1000  # what `nmt train` has always used


def test_each_architecture_trains_with_its_own_adam_betas():
    """β2 = 0.98 for the Transformer as in Vaswani et al. (2017), Adam's own 0.999 for the BiLSTM."""
    from conftest import rnn_config, transformer_config

    from nmt_cli.models.seq2seq import build_model
    from nmt_cli.training.step import make_optimizer

    for cfg, betas in ((rnn_config(), (0.9, 0.999)), (transformer_config(), (0.9, 0.98))):
        assert make_optimizer(build_model(cfg), 1e-3).param_groups[0]["betas"] == betas


def test_saved_model_config_round_trips_and_ignores_unknown_keys():
    cfg = model_config("transformer", d_model=64, heads=2)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert ModelConfig.from_dict({**cfg.to_dict(), "added_in_a_later_version": 1}) == cfg
