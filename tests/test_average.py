"""Checkpoint averaging and fine-tuning: kept checkpoints, their mean, and training from a model."""

import json
import shutil

import pytest
import torch
from conftest import rnn_config, train_args
from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.config import DataConfig, TrainConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.average import average, average_weights, list_checkpoints
from nmt_cli.models.checkpoint import load_model, safe_load, save_weights
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import finetune
from nmt_cli.training.loop import LogReporter, prepare
from nmt_cli.training.loss import shard_loss

runner = CliRunner()
TRANSLATE = "ein hund läuft\nder mann schläft im park\nklein katze\n"


def translate(model_dir) -> str:
    result = runner.invoke(app, ["translate", "-m", str(model_dir), "--threads", "1"], input=TRANSLATE)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_training_keeps_the_last_n_validated_checkpoints(toy_model_dir):
    # trained with --keep-checkpoints 1 and validated at steps 100, 200 and 300
    assert [p.name for p in list_checkpoints(toy_model_dir)] == ["ckpt.300.pt"]
    last = safe_load(toy_model_dir / "last.pt")["model"]
    final = safe_load(toy_model_dir / "ckpt.300.pt")["state_dict"]
    assert all(torch.equal(final[k], last[k]) for k in last)


def test_average_of_identical_checkpoints_equals_the_checkpoint(toy_model_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(toy_model_dir, run)
    for step in (100, 200, 300):
        shutil.copyfile(run / "model.pt", run / f"ckpt.{step}.pt")
    out = tmp_path / "avg"
    result = runner.invoke(app, ["average", "-m", str(run), "--last", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    original, averaged = safe_load(run / "model.pt")["state_dict"], safe_load(out / "model.pt")["state_dict"]
    assert all(torch.allclose(original[k], averaged[k], atol=1e-7) for k in original)
    assert (out / "spm.model").read_bytes() == (run / "spm.model").read_bytes()
    assert translate(out) == translate(run)  # a complete model directory


def test_average_of_two_checkpoints_is_their_mean_and_keeps_tied_weights_tied(tmp_path):
    cfg = rnn_config()
    torch.manual_seed(0)
    a, b = build_model(cfg), build_model(cfg)
    save_weights(tmp_path / "a.pt", a, cfg)
    save_weights(tmp_path / "b.pt", b, cfg)
    _, mean = average_weights([tmp_path / "a.pt", tmp_path / "b.pt"])
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        assert torch.allclose(mean[k], (sa[k] + sb[k]) / 2)
    assert mean["output.weight"] is mean["tgt_embed.weight"]  # stored once, as training stores it


def test_mismatched_architectures_are_refused(toy_model_dir, tmp_path):
    small, large = rnn_config(hidden_dim=64), rnn_config(hidden_dim=128)
    save_weights(tmp_path / "small.pt", build_model(small), small)
    save_weights(tmp_path / "large.pt", build_model(large), large)
    with pytest.raises(NMTError, match="architectures differ"):
        average_weights([tmp_path / "small.pt", tmp_path / "large.pt"])
    out = tmp_path / "out"
    args = ["average", "-m", str(toy_model_dir), "-o", str(out), "--checkpoints", str(tmp_path / "small.pt")]
    result = runner.invoke(app, [*args, str(tmp_path / "large.pt")])
    assert (
        result.exit_code == 1 and "architectures differ" in result.output and "Traceback" not in result.output
    )
    assert not out.exists()


def test_average_refuses_too_few_checkpoints_and_a_used_output(toy_model_dir, tmp_path):
    with pytest.raises(NMTError, match="keeps 1 checkpoints"):
        average(toy_model_dir, tmp_path / "new", last=2)
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(NMTError, match="not empty"):
        average(toy_model_dir, used, last=1)
    assert (used / "notes.txt").read_text() == "mine"
    with pytest.raises(NMTError, match="is a file"):
        average(toy_model_dir, used / "notes.txt", last=1)
    with pytest.raises(NMTError, match="listed twice"):
        average(toy_model_dir, tmp_path / "new", files=["model.pt", str(toy_model_dir / "model.pt")])


def test_checkpoint_files_may_follow_the_options_without_checkpoints(toy_model_dir, tmp_path):
    """The usage line says FILES: `nmt average -m DIR -o OUT A B` averages A and B."""
    run = tmp_path / "run"
    shutil.copytree(toy_model_dir, run)
    for step in (100, 200):
        shutil.copyfile(run / "model.pt", run / f"ckpt.{step}.pt")
    out = tmp_path / "avg"
    result = runner.invoke(app, ["average", "-m", str(run), "-o", str(out), "ckpt.100.pt", "ckpt.200.pt"])
    assert result.exit_code == 0 and "averaged 2 checkpoints" in result.output, result.output


def test_average_on_a_full_disk_leaves_no_half_made_model_and_names_the_output(
    toy_model_dir, tmp_path, monkeypatch
):
    import errno

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("nmt_cli.models.average.save_torch", full)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "new", empty):
        with pytest.raises(NMTError, match=f"^no space left on device while writing {out}$"):
            average(toy_model_dir, out, last=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any(empty.iterdir())


def test_average_refuses_a_training_state_and_another_tools_directory(toy_model_dir, tmp_path):
    with pytest.raises(NMTError, match="last.pt holds no model weights"):
        average(toy_model_dir, tmp_path / "a", files=["last.pt"])
    other = tmp_path / "hf"
    other.mkdir()
    (other / "config.json").write_text('{"architectures": ["MarianMTModel"]}')
    shutil.copyfile(toy_model_dir / "model.pt", other / "model.pt")
    with pytest.raises(NMTError, match="not an nmt-cli model directory .*another tool's"):
        average(other, tmp_path / "b", files=["model.pt"])
    result = runner.invoke(app, train_args(tmp_path / "corpus", tmp_path / "c", "--init-from", str(other)))
    assert result.exit_code == 1 and "--init-from" in result.stderr and "another tool's" in result.stderr


def test_fine_tuning_starts_from_the_models_weights_and_loss(toy_model_dir, toy_corpus, tmp_path):
    model_cfg = finetune.model_config(toy_model_dir)
    data_cfg = DataConfig(train=str(toy_corpus), src_lang="de", tgt_lang="en", vocab_size=8000)
    train_cfg = TrainConfig(output=str(tmp_path / "ft"), init_from=str(toy_model_dir))
    model_cfg, data_cfg, start = finetune.resolve(model_cfg, data_cfg, train_cfg)
    model, data, _ = prepare(model_cfg, data_cfg, train_cfg, False, LogReporter(), start)
    original = load_model(toy_model_dir).model
    model.eval()
    assert shard_loss(model, data.valid, torch.device("cpu"), "fp32") == pytest.approx(
        shard_loss(original, data.valid, torch.device("cpu"), "fp32"), rel=1e-6
    )
    assert (tmp_path / "ft" / "spm.model").read_bytes() == (toy_model_dir / "spm.model").read_bytes()


def test_fine_tuning_through_the_cli_reuses_spm_and_can_continue_the_optimizer(
    toy_model_dir, toy_corpus, tmp_path
):
    out = tmp_path / "ft"
    args = train_args(toy_corpus, out, "--init-from", str(toy_model_dir))
    result = runner.invoke(
        app, [*args, "--max-steps", "10", "--valid-every", "10", "--threads", "1", "--continue-optimizer"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "spm.model").read_bytes() == (toy_model_dir / "spm.model").read_bytes()
    config, saved = (
        json.loads((out / "config.json").read_text()),
        json.loads((toy_model_dir / "config.json").read_text()),
    )
    assert config["model"] == saved["model"] and config["train"]["init_from"] == str(toy_model_dir)
    adam = lambda d: next(iter(safe_load(d / "last.pt")["optimizer"]["state"].values()))["step"]  # noqa: E731
    assert int(adam(out)) == int(adam(toy_model_dir)) + 10  # Adam's moments went on from the model's


@pytest.mark.parametrize(
    "option",
    [["--hidden-dim", "256"], ["--arch", "transformer"], ["--vocab-size", "100"], ["--continue-optimizer"]],
)
def test_fine_tuning_refuses_contradicting_options_in_one_line(toy_model_dir, toy_corpus, tmp_path, option):
    out = tmp_path / "ft"
    args = train_args(toy_corpus, out, *option)
    if option != ["--continue-optimizer"]:
        args += ["--init-from", str(toy_model_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and "error" in result.output
    assert not (out / "model.pt").exists()


def test_fine_tuning_the_other_direction_is_warned_about(toy_model_dir, toy_corpus, caplog):
    model_cfg = finetune.model_config(toy_model_dir)
    for src, tgt, warned in (("de", "en", False), ("en", "de", True)):
        caplog.clear()
        data_cfg = DataConfig(train=str(toy_corpus), src_lang=src, tgt_lang=tgt)
        finetune.resolve(model_cfg, data_cfg, TrainConfig(output="o", init_from=str(toy_model_dir)))
        assert ("translates de→en; this run trains en→de" in caplog.text) == warned
