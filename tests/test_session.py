"""What `nmt translate`, `evaluate` and `align` do before decoding, as library calls
(decoding/session.py, documents/translate.py's start_translation): one model loads without an
ensemble, a beam the vocabulary cannot fill and an output over a file read are refused before
anything is written, and a translation started from Python gives what the command prints."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.config import DecodeConfig, RuntimeConfig
from nmt_cli.decoding.session import files_read, load_models
from nmt_cli.documents.translate_files import TranslateFiles, start_translation
from nmt_cli.errors import NMTError
from nmt_cli.models.ensemble import Ensemble

ONE_THREAD = RuntimeConfig(threads=1)


def test_files_read_lists_every_model_file_the_reverse_model_and_the_glossary(tmp_path):
    model, reverse = tmp_path / "m", tmp_path / "r"
    for directory, names in ((model, ("model.pt", "config.json")), (reverse, ("spm.model",))):
        directory.mkdir()
        for name in names:
            (directory / name).write_text("x")
    reads = files_read([model], "terms.tsv", reverse)
    assert reads == [
        ("-m", model / "config.json"),
        ("-m", model / "model.pt"),
        ("--reverse-model", reverse / "spm.model"),
        ("--glossary", Path("terms.tsv")),
    ]
    assert files_read([model], None)[-1] == ("--glossary", None)


def test_one_model_loads_alone_and_two_as_their_ensemble(tiny_model_dir):
    one = load_models([tiny_model_dir], ONE_THREAD, beam_size=5)
    two = load_models([tiny_model_dir, tiny_model_dir], ONE_THREAD, beam_size=5)
    assert not isinstance(one.model, Ensemble) and isinstance(two.model, Ensemble)


def test_a_beam_wider_than_the_target_vocabulary_is_refused(tiny_model_dir):
    vocab = load_models([tiny_model_dir], ONE_THREAD, beam_size=1).tokenizer.tgt_vocab_size
    with pytest.raises(NMTError, match=rf"--beam-size {vocab + 1} is larger .* use at most {vocab}"):
        load_models([tiny_model_dir], ONE_THREAD, beam_size=vocab + 1)


def test_an_output_that_is_a_model_file_is_refused_and_left_as_it_was(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund\n", encoding="utf-8")
    config = tiny_model_dir / "config.json"
    before = config.read_bytes()
    request = TranslateFiles(model_dirs=[tiny_model_dir], input=src, output=config)
    with pytest.raises(NMTError, match=r"-o .*config.json is the same file as -m"):
        start_translation(request)
    assert config.read_bytes() == before


def test_nbest_above_the_beam_is_refused_before_the_model_loads(tmp_path):
    request = TranslateFiles(DecodeConfig(beam_size=2, nbest=3), model_dirs=[tmp_path / "missing"])
    with pytest.raises(NMTError, match="--nbest 3 needs --beam-size of at least 3"):
        start_translation(request)


def test_a_translation_started_from_python_is_what_the_command_prints(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\n\nder mann schläft. die frau liest.\n", encoding="utf-8")
    decode = DecodeConfig(beam_size=2, protect=True)  # the command protects spans by default
    job = start_translation(TranslateFiles(decode, ONE_THREAD, model_dirs=[tiny_model_dir], input=src))
    texts = [t.text for t in job.translations]
    args = ["translate", "-m", str(tiny_model_dir), "-i", str(src), "-k", "2", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(texts) == 3 and texts[1] == ""
    assert result.stdout == "".join(t + "\n" for t in texts)
