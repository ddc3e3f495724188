"""What `nmt train -o DIR` may do to DIR and what DIR may hold, as library functions."""

import json

import pytest

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.errors import NMTError
from nmt_cli.training.rundir import claim, foreign_entries, is_temporary, resume_settings, trim_log


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


def nmt_config(directory):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"format_version": 1}))


def test_a_run_may_hold_the_directories_other_nmt_commands_write_into_it(tmp_path):
    """`average -o RUN/avg`, `export -o RUN/ct2`, `train -o RUN/ft`, `--data-dir RUN` and their
    half-built temporaries leave RUN resumable."""
    run = tmp_path / "run"
    nmt_config(run)
    (run / "model.pt").write_bytes(b"w")
    nmt_config(run / "avg")  # nmt average
    (run / "ct2").mkdir()
    (run / "ct2" / "nmt-export.json").write_text("{}")  # nmt export
    (run / "ft").mkdir()
    (run / "ft" / ".nmt.lock").write_text("")  # nmt train, before its config.json
    (run / "spm-0123456789abcdef").mkdir()
    (run / "spm-0123456789abcdef" / "meta.json").write_text("{}")  # --data-dir RUN
    (run / "train.corpus-0123456789abcdef").mkdir()
    (run / "train.corpus-0123456789abcdef" / "meta.json").write_text("{}")
    (run / ".tmp-spm-0123456789abcdef-99-abcdef12").mkdir()  # a preparation in progress
    (run / ".avg2.x81k.tmp").mkdir()  # an average in progress
    assert foreign_entries(run) == []


def test_a_users_directory_in_a_run_is_still_foreign(tmp_path):
    run = tmp_path / "run"
    nmt_config(run)
    (run / "photos").mkdir()
    (run / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (run / "spm-0123456789abcdef").mkdir()  # a cache name without its meta.json
    assert foreign_entries(run) == ["photos", "spm-0123456789abcdef"]


@pytest.mark.parametrize("option", ["init_from", "vocab_from"])
@pytest.mark.parametrize("through_link", [False, True])
def test_a_run_never_starts_from_the_directory_it_writes(tmp_path, option, through_link):
    """`train --init-from X -o X --overwrite` used to delete X's model before reading it."""
    run = tmp_path / "run"
    nmt_config(run)
    (run / "model.pt").write_bytes(b"weights")
    source = run
    if through_link:
        source = tmp_path / "link"
        source.symlink_to(run)
    wanted = requested(**{option: str(source)})
    said = f"--{option.replace('_', '-')} .* is the output directory"
    with pytest.raises(NMTError, match=said), claim(run, overwrite=True, requested=wanted):
        pass
    assert (run / "model.pt").read_bytes() == b"weights"


@pytest.mark.slow
@pytest.mark.parametrize("option", ["--init-from", "--vocab-from"])
def test_train_from_the_output_directory_is_refused_and_the_model_survives(
    tiny_model_dir, tiny_corpus, tmp_path, option
):
    """`nmt train --init-from X -o X --overwrite` deleted X's model, then said X was no model."""
    import shutil

    from conftest import TINY_TRAIN_ARGS, train_args
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    extra = [a for a in TINY_TRAIN_ARGS if a not in ("--vocab-size", "40")]
    args = train_args(tiny_corpus, run, "--max-steps", "30", *extra, option, str(run), "--overwrite")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"{option} {run} is the output directory" in result.output
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_prepare_refuses_an_output_directory_that_train_would_refuse(tmp_path):
    """`nmt prepare -o DIR` writes DIR/data for `nmt train -o DIR`: a directory of the user's own
    files is refused by both, before anything is written."""
    from nmt_cli.errors import NMTError
    from nmt_cli.training.rundir import prepared_dir

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(NMTError, match="holds files nmt did not write"):
        prepared_dir(mine, None)
    assert prepared_dir(tmp_path / "new", None) == tmp_path / "new" / "data"
    assert prepared_dir(mine, tmp_path / "cache") == tmp_path / "cache"  # --data-dir: elsewhere
