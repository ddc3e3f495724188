"""A resumed run names each conflicting setting by the flag `nmt train` takes for it."""

import dataclasses

from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.training.resume import option


def test_every_flag_resume_names_is_one_nmt_train_takes():
    help_text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).output
    named = {
        option(cfg, f.name)
        for cfg in (ModelConfig, DataConfig, TrainConfig)
        for f in dataclasses.fields(cfg)
        if "help" in f.metadata
    }
    assert {"--src", "--tgt", "--train", "--output", "--warmup-steps"} <= named
    assert [flag for flag in sorted(named) if f"{flag} " not in help_text] == []
