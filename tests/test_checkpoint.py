"""Model directories round-trip and refuse what is not theirs."""

import shutil

import pytest
import torch

from nmt_cli.config import DecodeConfig
from nmt_cli.decoding.translate import translate
from nmt_cli.errors import NMTError
from nmt_cli.models.checkpoint import load_model, save_weights

LINES = ["ein hund läuft", "der mann schläft im park", "", "frau spielt auf der straße"]


def texts(model_dir):
    loaded = load_model(model_dir)
    return [t.text for t in translate(loaded.model, loaded.tokenizer, LINES, DecodeConfig(beam_size=3))]


def test_round_trip_reproduces_translations(toy_model_dir, tmp_path):
    before = texts(toy_model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(toy_model_dir, copy)
    loaded = load_model(toy_model_dir)
    save_weights(copy / "model.pt", loaded.model, loaded.model.cfg)
    assert texts(copy) == before
    save_weights(copy / "model.pt", loaded.model, loaded.model.cfg, half=True)
    assert texts(copy) == before
    # the tied embedding (source, target, output) is stored once, not three times
    state = torch.load(copy / "model.pt", weights_only=True)["state_dict"]
    tied = {state[k].data_ptr() for k in ("src_embed.weight", "tgt_embed.weight", "output.weight")}
    assert len(tied) == 1
    assert next(load_model(copy).model.parameters()).dtype == torch.float32


def test_incompatible_format_is_refused(toy_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(toy_model_dir, copy)
    obj = torch.load(copy / "model.pt", weights_only=True)
    obj["format_version"] = 99
    torch.save(obj, copy / "model.pt")
    with pytest.raises(NMTError, match="format 99"):
        load_model(copy)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(NMTError, match="not an nmt-cli model directory"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"architectures": ["MarianMTModel"]}')  # another tool's
    with pytest.raises(NMTError, match=r"not an nmt-cli model directory \(.*config.json is another tool's\)"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"format_version": 99, "model": {}}')
    with pytest.raises(NMTError, match="config.json has format 99, this nmt-cli reads 1"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"format_version": 1, "model": {}}')
    with pytest.raises(NMTError, match=r"nmt-cli model directory \(it has config.json but no model.pt\)"):
        load_model(tmp_path)


@pytest.mark.slow
def test_transformer_round_trip_reproduces_outputs(tmp_path):
    import json

    from conftest import transformer_config

    from nmt_cli.data.tokenizer import train_sentencepiece
    from nmt_cli.models.seq2seq import build_model

    size = train_sentencepiece(["ein hund läuft", "eine katze schläft im park"] * 20, tmp_path / "spm", 40)
    torch.manual_seed(0)
    cfg = transformer_config(vocab_size=size, src_vocab_size=size, dec_layers=2)
    spm = {"src": "spm.model", "tgt": "spm.model"}
    config = {"format_version": 1, "model": cfg.to_dict(), "spm": spm}
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = build_model(cfg).eval()
    save_weights(tmp_path / "model.pt", model, cfg)
    loaded = load_model(tmp_path)
    lines = ["ein hund", "eine katze schläft"]
    decode = DecodeConfig(beam_size=3, max_len_offset=5)
    before = [t.hypotheses[0].tokens for t in translate(model, loaded.tokenizer, lines, decode)]
    after = [t.hypotheses[0].tokens for t in translate(loaded.model, loaded.tokenizer, lines, decode)]
    assert before == after


def test_a_sentencepiece_model_of_another_run_is_refused_though_its_size_fits(tiny_model_dir, tmp_path):
    """Two runs' SentencePiece models can have the same number of pieces and map them to other
    ids: such a mix would translate into wrong words, so the weights record their vocabulary."""
    from conftest import write_toy_corpus

    from nmt_cli.data.tokenizer import Tokenizer, train_sentencepiece
    from nmt_cli.models.average import average_weights

    other = tmp_path / "other"
    write_toy_corpus(other / "c", n=300, seed=1)
    text = [line for lang in ("de", "en") for line in (other / f"c.{lang}").read_text().split("\n")]
    train_sentencepiece(text, other / "spm", 40)
    size = Tokenizer(tiny_model_dir / "spm.model").src_vocab_size
    assert Tokenizer(other / "spm.model").src_vocab_size == size

    mixed = tmp_path / "mixed"
    shutil.copytree(tiny_model_dir, mixed)
    load_model(mixed)  # as trained: loads
    shutil.copyfile(other / "spm.model", mixed / "spm.model")
    with pytest.raises(NMTError, match=r"model.pt was trained with another SentencePiece model than .*spm"):
        load_model(mixed)
    with pytest.raises(NMTError, match="other SentencePiece models"):
        average_weights([mixed / "model.pt"], vocab={"src": "0" * 64, "tgt": "0" * 64})


def test_a_beam_wider_than_the_vocabulary_is_refused_where_the_model_is_loaded(tiny_model_dir):
    """A beam larger than the vocabulary crashed in a reshape."""
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    runner = CliRunner()
    for command in (["translate"], ["align", "--format", "pharaoh"]):
        args = [*command, "-m", str(tiny_model_dir), "--threads", "1", "--beam-size"]
        wide = runner.invoke(app, [*args, "41"], input="ein hund\n")
        assert wide.exit_code == 1
        assert "--beam-size 41 is larger than the model's target vocabulary (40 pieces)" in wide.output
        assert runner.invoke(app, [*args, "40"], input="ein hund\n").exit_code == 0


@pytest.mark.parametrize(
    ("entry", "value", "said"),
    [
        ("src_lang", 5, "src_lang must be a language code"),
        ("tgt_lang", ["en"], "tgt_lang must be a language code"),
        ("data", "x", '"data" entry is not an object'),
        ("spm", ["spm.model"], '"spm" entry is not an object'),
        ("spm", {"src": 3}, '"spm" entry is not an object'),
    ],
)
def test_a_hand_edited_config_entry_of_the_wrong_type_is_one_line(
    tiny_model_dir, tmp_path, entry, value, said
):
    """Decoding reads the languages (sentence rules) and the SentencePiece file names: a wrong
    type there was an AttributeError, not a message naming the file and the entry."""
    import json

    shutil.copytree(tiny_model_dir, tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**config, entry: value}), encoding="utf-8")
    with pytest.raises(NMTError, match=said):
        load_model(tmp_path / "m")
