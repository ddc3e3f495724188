"""`nmt export`: a Transformer exported to CTranslate2 translates as `nmt translate` does."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import train_args, write_toy_corpus
from typer.testing import CliRunner

from nmt_cli.cli.app import app

ctranslate2 = pytest.importorskip("ctranslate2")
import sentencepiece as spm  # noqa: E402

runner = CliRunner()

TRANSFORMER_ARGS = [
    "--arch",
    "transformer",
    "--layers",
    "2",
    "--d-model",
    "64",
    "--heads",
    "4",
    "--ff-dim",
    "128",
    "--vocab-size",
    "80",
    "--batch-tokens",
    "1000",
    "--valid-every",
    "150",
    "--max-steps",
    "300",
    "--lr",
    "3e-3",
    "--warmup-steps",
    "50",
    "--threads",
    "1",
]


@pytest.fixture(scope="session", params=["pre-norm", "post-norm"])
def transformer_dir(request, toy_corpus, tmp_path_factory) -> Path:
    """A small Transformer trained through the real CLI on the toy corpus, in both norm placements."""
    out = tmp_path_factory.mktemp("transformer") / request.param
    args = train_args(toy_corpus, out, *TRANSFORMER_ARGS)
    if request.param == "post-norm":
        args.append("--post-norm")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def test_lines(tmp_path_factory) -> Path:
    """Sentences the models did not train on."""
    prefix = tmp_path_factory.mktemp("heldout") / "test"
    write_toy_corpus(prefix, n=200, seed=7)
    return Path(f"{prefix}.de")


def export(model_dir: Path, out: Path, *extra: str):
    return runner.invoke(app, ["export", "-m", str(model_dir), "-o", str(out), *extra])


def ct2_translate(
    out: Path, lines: list[str], beam: int, length_penalty: float
) -> tuple[list[str], list[float]]:
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    translator = ctranslate2.Translator(str(out), device="cpu", intra_threads=1)
    results = translator.translate_batch(
        sp.encode(lines, out_type=str),
        beam_size=beam,
        length_penalty=length_penalty,
        min_decoding_length=0,  # as ours: </s> may come first (CTranslate2 masks it by default)
        return_scores=True,
        max_batch_size=1000,
        batch_type="tokens",
    )
    return [sp.decode(r.hypotheses[0]) for r in results], [r.scores[0] for r in results]


def ours(
    model_dir: Path, lines: list[str], beam: int, length_penalty: float
) -> tuple[list[str], list[float]]:
    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.translate import translate
    from nmt_cli.models.checkpoint import load_model

    loaded = load_model(model_dir)
    out = translate(loaded.model, loaded.tokenizer, lines, DecodeConfig(beam, length_penalty))
    return [t.text for t in out], [t.hypotheses[0].score for t in out]


def test_float32_greedy_equals_nmt_translate_line_for_line(transformer_dir, test_lines, tmp_path):
    out = tmp_path / "ct2"
    result = export(transformer_dir, out)
    assert result.exit_code == 0, result.output
    assert {"model.bin", "config.json", "spm.model", "README.md", "nmt-export.json"} <= {
        p.name for p in out.iterdir()
    }
    translated = runner.invoke(
        app,
        ["translate", "-m", str(transformer_dir), "-i", str(test_lines), "-k", "1", "--precision", "fp32"],
    )
    assert translated.exit_code == 0, translated.output
    lines = test_lines.read_text(encoding="utf-8").splitlines()
    ct2_text, ct2_scores = ct2_translate(out, lines, beam=1, length_penalty=0.0)
    assert translated.stdout.splitlines() == ct2_text
    # Greedy scores are the summed log-probabilities, </s> included, in both engines.
    _, our_scores = ours(transformer_dir, lines, beam=1, length_penalty=0.0)
    assert max(abs(a - b) for a, b in zip(our_scores, ct2_scores)) < 1e-4


def test_beam5_agrees_with_ours(transformer_dir, test_lines, tmp_path):
    # Unnormalised (α = 0): CTranslate2 divides by |y|^α, we by GNMT's ((5 + |y|) / 6)^α, so
    # only raw log-probabilities rank hypotheses the same way in both.
    out = tmp_path / "ct2"
    assert export(transformer_dir, out).exit_code == 0
    lines = test_lines.read_text(encoding="utf-8").splitlines()
    ct2_text, ct2_scores = ct2_translate(out, lines, beam=5, length_penalty=0.0)
    our_text, our_scores = ours(transformer_dir, lines, beam=5, length_penalty=0.0)
    same = [a == b for a, b in zip(our_text, ct2_text)]
    assert sum(same) >= 0.99 * len(lines)
    assert all(abs(a - b) < 1e-4 for a, b, s in zip(our_scores, ct2_scores, same) if s)


def test_int8_export_is_smaller_and_translates_as_float32_does(transformer_dir, test_lines, tmp_path):
    full, small = tmp_path / "fp32", tmp_path / "int8"
    assert export(transformer_dir, full).exit_code == 0
    result = export(transformer_dir, small, "--quantization", "int8")
    assert result.exit_code == 0, result.output
    assert (small / "model.bin").stat().st_size < 0.6 * (full / "model.bin").stat().st_size
    lines = test_lines.read_text(encoding="utf-8").splitlines()
    reference, _ = ct2_translate(full, lines, beam=5, length_penalty=1.0)
    quantised, _ = ct2_translate(small, lines, beam=5, length_penalty=1.0)
    assert sum(a == b for a, b in zip(reference, quantised)) >= 0.9 * len(lines)


@pytest.mark.slow
def test_readme_snippet_runs_in_the_export(transformer_dir, tmp_path):
    out = tmp_path / "ct2"
    assert export(transformer_dir, out).exit_code == 0
    code = re.search(r"```python\n(.*?)```", (out / "README.md").read_text(encoding="utf-8"), re.S)
    assert code is not None
    snippet = code.group(1).replace("Ein Mann fährt Fahrrad.", "ein hund läuft")
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=out, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "['a dog runs']"


def test_rnn_is_refused_in_one_line(toy_model_dir, tmp_path):
    result = export(toy_model_dir, tmp_path / "out")
    assert result.exit_code == 1
    assert "RNN" in result.output and "CTranslate2" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_never_overwrites_a_directory_it_did_not_write(transformer_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = export(transformer_dir, out)
    assert result.exit_code == 1 and "not empty" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary left behind


def test_re_export_replaces_its_own_files_and_keeps_the_users(transformer_dir, tmp_path):
    out = tmp_path / "ct2"
    assert export(transformer_dir, out).exit_code == 0
    (out / "notes.txt").write_text("keep me")
    result = export(transformer_dir, out, "--quantization", "int8")
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "keep me"
    assert '"quantization": "int8"' in (out / "nmt-export.json").read_text()


def test_without_ctranslate2_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 now fails
    result = export(tmp_path, tmp_path / "ct2")
    assert result.exit_code == 1
    assert "pip install" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_full_disk_is_said_in_words_and_the_previous_export_stays(transformer_dir, tmp_path, monkeypatch):
    import errno
    import shutil

    out = tmp_path / "ct2"
    assert export(transformer_dir, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full)  # the SentencePiece model's copy fails
    result = export(transformer_dir, out, "--quantization", "int8")
    assert result.exit_code == 1
    assert result.output.strip() == f"error: no space left on device while writing {out}"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ct2"]  # no temporary left behind


def test_an_export_given_to_nmt_says_what_it_is_and_where_it_came_from(transformer_dir, tmp_path):
    out = tmp_path / "ct2"
    assert export(transformer_dir, out).exit_code == 0
    result = runner.invoke(app, ["translate", "-m", str(out)], input="ein hund\n")
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith(f"error: {out} is a CTranslate2 export (nmt export)"), message
    assert message.endswith(f"({Path(transformer_dir).resolve()})") and len(message.splitlines()) == 1
