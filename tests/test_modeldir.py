"""What `nmt train -o DIR` may do to DIR, as library functions."""

import json

import pytest

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.errors import NMTError
from nmt_cli.training.rundir import foreign_entries, is_temporary, resume_settings, trim_log


def test_only_nmt_temporaries_count_as_leftovers():
    assert is_temporary(".last.pt.k1_l9xtmp.tmp") and is_temporary(".config.json.a8s7.tmp")
    assert not is_temporary(".thesis.tex.a8s7.tmp") and not is_temporary("last.pt")


def requested(**train):
    return {
        "model": ModelConfig(hidden_dim=64),
        "data": DataConfig(train="c", src_lang="de", tgt_lang="en"),
        "train": TrainConfig(output="m", **train),
    }


def stored(**train):
    return {k: v.__dict__ for k, v in requested(**train).items()}


def test_budgets_may_change_and_settings_not_given_come_from_the_stored_run(tmp_path):
    saved = stored(max_steps=100, lr=3e-3)
    settled = resume_settings(tmp_path, saved, requested(max_steps=500), given={"max_steps"})
    assert settled["train"].max_steps == 500 and settled["train"].lr == 3e-3


def test_python_callers_must_repeat_every_setting_but_budgets(tmp_path):
    with pytest.raises(NMTError, match=r"--lr 0.003 there, 0.001 now.*--overwrite"):
        resume_settings(tmp_path, stored(lr=3e-3), requested(max_steps=9), given=None)


def test_settings_read_back_from_config_json_equal_the_same_settings_typed_again(tmp_path):
    saved = json.loads(json.dumps(stored(lr=3e-3)))  # tuples come back as lists
    settled = resume_settings(tmp_path, saved, requested(lr=3e-3), given=None)
    assert settled["data"] == requested()["data"]


def test_log_keeps_records_up_to_the_saved_step_and_drops_a_cut_line(tmp_path):
    log = tmp_path / "train.log.jsonl"
    records = [{"event": "valid", "step": s} for s in (10, 20, 30)]
    log.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"event": "st')
    trim_log(log, 20)
    assert [json.loads(x)["step"] for x in log.read_text().splitlines()] == [10, 20]


def test_kept_checkpoints_are_nmts_own_files_and_lookalikes_are_not(tmp_path):
    for name in ("model.pt", "ckpt.1200.pt", "ckpt.5.pt", "ckpt.best.pt", "ckpt.12.pt.bak", "thesis.tex"):
        (tmp_path / name).write_text("x")
    lookalikes = ["ckpt.12.pt.bak", "ckpt.best.pt", "thesis.tex"]
    nmt_names = ["ckpt.1200.pt", "ckpt.5.pt", "model.pt"]  # the user's own, as nmt never ran here
    assert foreign_entries(tmp_path) == sorted(nmt_names + lookalikes)
    (tmp_path / ".nmt.lock").write_text("")  # the lock every run takes before writing anything
    assert foreign_entries(tmp_path) == lookalikes
    assert is_temporary(".ckpt.1200.pt.abc123.tmp")
