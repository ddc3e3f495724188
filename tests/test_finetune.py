"""Fine-tuning starts from a model directory: its architecture (only dropout may change), its
vocabulary byte for byte, its best weights, and its optimizer only when the schedule matches."""

import pytest
import torch
from conftest import rnn_config

from nmt_cli.config import DataConfig, TrainConfig
from nmt_cli.data.tokenizer import train_sentencepiece
from nmt_cli.errors import NMTError
from nmt_cli.models import checkpoint
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import finetune, run_state


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model directory as training leaves it: config.json, a joint spm.model, model.pt."""
    directory = tmp_path_factory.mktemp("base")
    train_sentencepiece(
        ["ein hund läuft", "a dog runs", "eine katze schläft", "a cat sleeps"], directory / "spm", 30
    )
    cfg = rnn_config(embed_dim=8, hidden_dim=16, dropout=0.3)
    data = DataConfig(train="t", src_lang="de", tgt_lang="en", vocab_size=30)
    train = TrainConfig(output=str(directory), lr_schedule="plateau")
    run_state.write_config(directory, cfg, data, train, {})
    torch.manual_seed(0)
    checkpoint.save_weights(directory / checkpoint.WEIGHTS, build_model(cfg), cfg)
    return directory


def test_only_regularisation_may_differ_from_the_directory(model_dir):
    assert finetune.model_config(model_dir, {"dropout": 0.1}).dropout == 0.1
    assert finetune.model_config(model_dir).hidden_dim == 16
    with pytest.raises(NMTError, match="--hidden-dim 32 contradicts --init-from"):
        finetune.model_config(model_dir, {"hidden_dim": 32})


def test_the_data_settings_take_the_directorys_vocabulary(model_dir):
    saved = finetune.model_config(model_dir)
    data = DataConfig(train="new", src_lang="de", tgt_lang="en", vocab_size=8000, joint_vocab=False)
    run = TrainConfig(output="o", init_from=str(model_dir))
    _, kept, start = finetune.resolve(saved, data, run)
    assert (kept.vocab_size, kept.joint_vocab, kept.train) == (saved.vocab_size, saved.joint_vocab, "new")
    assert start.spm_from == start.weights_from == model_dir and start.optimizer_from is None
    with pytest.raises(NMTError, match="differs from --init-from .* in: embed_dim"):
        finetune.resolve(rnn_config(embed_dim=12, hidden_dim=16), data, run)


def test_vocab_from_takes_the_vocabulary_only(model_dir):
    data = DataConfig(train="new", src_lang="de", tgt_lang="en", vocab_size=8000)
    model = rnn_config(embed_dim=12, hidden_dim=16)  # any architecture
    same, kept, start = finetune.resolve(model, data, TrainConfig(output="o", vocab_from=str(model_dir)))
    assert same == model and kept.vocab_size == finetune.model_config(model_dir).vocab_size
    assert start.spm_from == model_dir and start.weights_from is None
    assert finetune.resolve(model, data, TrainConfig(output="o")) == (model, data, finetune.SCRATCH)


def test_the_vocabulary_is_copied_byte_for_byte_and_the_best_weights_loaded(model_dir, tmp_path):
    tok = finetune.copy_tokenizer(model_dir, finetune.JOINT, tmp_path)
    assert (tmp_path / "spm.model").read_bytes() == (model_dir / "spm.model").read_bytes()
    assert tok.encode_src(["ein hund"]) == tok.encode_tgt(["ein hund"])  # one joint model
    weights = finetune.weights(model_dir)
    model = build_model(finetune.model_config(model_dir))
    model.load_state_dict(weights)
    saved = checkpoint.safe_load(model_dir / checkpoint.WEIGHTS)["state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())


def test_the_optimizer_continues_only_from_a_last_pt_with_the_same_schedule(model_dir):
    model = finetune.model_config(model_dir)
    data = DataConfig(train="new", src_lang="de", tgt_lang="en")

    def run(schedule):
        cfg = TrainConfig(output="o", init_from=str(model_dir), continue_optimizer=True, lr_schedule=schedule)
        return finetune.resolve(model, data, cfg)[2]

    with pytest.raises(NMTError, match="--continue-optimizer needs .*last.pt"):
        run("plateau")
    (model_dir / checkpoint.STATE).write_bytes(b"")  # the schedule is checked before reading it
    try:
        with pytest.raises(NMTError, match="needs --lr-schedule plateau"):
            run("inverse-sqrt")
        assert run("plateau").optimizer_from == model_dir / checkpoint.STATE
    finally:
        (model_dir / checkpoint.STATE).unlink()
