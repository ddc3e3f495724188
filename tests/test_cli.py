"""The `nmt` command as a user runs it: train, translate, errors."""

import json
import subprocess
import sys

import pytest
from conftest import train_args
from typer.testing import CliRunner

from nmt_cli.cli.app import app

runner = CliRunner()
COMMANDS = ("train", "translate", "evaluate", "align", "prepare", "export", "average")


@pytest.mark.slow
def test_python_dash_m_is_the_nmt_app_and_its_help_does_not_import_torch():
    """`python -m nmt_cli` is what `torchrun -m nmt_cli` runs; `nmt --help` stays fast without torch."""
    code = "import sys; from nmt_cli.cli.app import app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    out = subprocess.run(
        [sys.executable, "-m", "nmt_cli", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    for command in COMMANDS:
        assert command in out.stdout


def test_every_command_is_registered():
    assert runner.invoke(app, ["--help"]).exit_code == 0
    for command in COMMANDS:
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"{command}: {result.output}"  # 2: no such command
        assert f"Usage: root {command} [OPTIONS]" in result.output
    assert runner.invoke(app, ["nonsense", "--help"]).exit_code == 2
    for command in ("translate", "evaluate", "align"):  # the shared decoding options, on each
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        for option in ("--beam-size", "--batch-tokens", "--precision", "--quantize", "--threads", "--debug"):
            assert option in text, (command, option)


def test_help_paragraphs_are_wrapped_by_the_terminal_not_by_the_docstring():
    text = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "the N processes train one model together (DistributedDataParallel)" in text
    text = runner.invoke(app, ["align", "--help"], env={"COLUMNS": "200"}).output
    assert "over given targets (--ref), force-decoded." in text


def test_trained_model_directory_holds_what_it_promises(toy_model_dir):
    for name in ("config.json", "model.pt", "last.pt", "spm.model", "train.log.jsonl"):
        assert (toy_model_dir / name).is_file(), name
    config = json.loads((toy_model_dir / "config.json").read_text())
    assert config["src_lang"] == "de" and config["tgt_lang"] == "en"
    assert config["special_ids"] == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert "torch" in config["versions"] and config["model"]["arch"] == "rnn"
    events = [json.loads(line) for line in (toy_model_dir / "train.log.jsonl").read_text().splitlines()]
    assert any(e["event"] == "valid" for e in events)


def test_translate_learns_and_keeps_one_line_per_input_line(toy_model_dir):
    text = "ein hund läuft\n\n   \nder mann schläft im park\nklein katze\n"
    result = runner.invoke(app, ["translate", "-m", str(toy_model_dir), "--beam-size", "3"], input=text)
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n")[:-1]
    assert len(lines) == 5
    assert lines[0] == "a dog runs"
    assert lines[1] == "" and lines[2] == ""
    assert lines[3] == "the man sleeps in the park"


def test_translate_files_and_nbest(toy_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\nfrau spielt\n", encoding="utf-8")
    out = tmp_path / "out.en"
    result = runner.invoke(
        app, ["translate", "-m", str(toy_model_dir), "-i", str(src), "-o", str(out), "--nbest", "3"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(" ||| ") for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r[0] for r in rows] == ["0"] * 3 + ["1"] * 3
    scores = [float(r[2]) for r in rows[:3]]
    assert scores == sorted(scores, reverse=True)


def test_invalid_utf8_input_is_replaced_not_fatal(toy_model_dir):
    args = ["translate", "-m", str(toy_model_dir)]
    result = runner.invoke(app, args, input=b"ein hund \xff l\xe4uft\n")
    assert result.exit_code == 0, result.output
    # Each invalid byte reads as U+FFFD: the same output as that text given as valid UTF-8.
    replaced = runner.invoke(app, args, input="ein hund \ufffd l\ufffduft\n".encode())
    assert result.stdout == replaced.stdout
    assert result.stdout.startswith("a dog") and len(result.stdout.splitlines()) == 1


def test_missing_model_is_one_line_and_exit_1(tmp_path):
    result = runner.invoke(app, ["translate", "-m", str(tmp_path / "nope")], input="x\n")
    assert result.exit_code == 1
    assert "model directory not found" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_foreign_checkpoint_is_rejected_cleanly(toy_model_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(toy_model_dir, bad)
    (bad / "model.pt").write_bytes(b"not a checkpoint at all")
    result = runner.invoke(app, ["translate", "-m", str(bad)], input="ein hund\n")
    assert result.exit_code == 1
    assert "not an nmt-cli checkpoint" in result.output


def test_mismatched_line_counts_name_both_files(tmp_path):
    (tmp_path / "c.de").write_text("a\nb\nc\n")
    (tmp_path / "c.en").write_text("a\nb\n")
    result = runner.invoke(app, train_args(tmp_path / "c", tmp_path / "m"))
    assert result.exit_code == 1
    assert "c.de has 3 lines" in result.output and "c.en has 2" in result.output


def test_missing_corpus_is_one_line(tmp_path):
    result = runner.invoke(app, train_args(tmp_path / "none", tmp_path / "m"))
    assert result.exit_code == 1
    assert "corpus file not found" in result.output


def test_int8_and_bf16_decoding_agree_with_fp32_on_a_confident_model(toy_model_dir):
    text = "ein hund läuft\nder mann schläft im park\nklein katze spielt\n"
    base = runner.invoke(app, ["translate", "-m", str(toy_model_dir), "--precision", "fp32"], input=text)
    for extra in (["--quantize", "int8"], ["--precision", "bf16"], ["--precision", "auto"]):
        other = runner.invoke(app, ["translate", "-m", str(toy_model_dir), *extra], input=text)
        assert other.exit_code == 0, other.output
        assert other.stdout == base.stdout


def test_evaluate_with_a_model_scores_its_translations_and_perplexity(toy_model_dir, tmp_path):
    src, ref, hyp = tmp_path / "s.de", tmp_path / "r.en", tmp_path / "h.en"
    src.write_text("ein hund läuft\nder mann schläft im park\n", encoding="utf-8")
    ref.write_text("a dog runs\nthe man sleeps in the park\n", encoding="utf-8")
    args = ["evaluate", "-m", str(toy_model_dir), "--src", str(src), "--ref", str(ref)]
    result = runner.invoke(app, [*args, "--json", "--save-hyp", str(hyp)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert abs(report["scores"]["bleu"]["score"] - 100.0) < 1e-9
    assert report["scores"]["bleu"]["signature"].startswith("nrefs:1|")
    assert 1.0 <= report["perplexity"]["ppl"] < 2.0
    assert hyp.read_text(encoding="utf-8").splitlines() == ref.read_text(encoding="utf-8").splitlines()


def test_align_prints_pharaoh_and_a_table(toy_model_dir):
    pairs = "ein hund läuft ||| a dog runs\n"
    for rule in ("argmax", "mutual"):
        args = ["align", "-m", str(toy_model_dir), "-f", "pharaoh", "--links", rule]
        result = runner.invoke(app, args, input=pairs)
        assert result.exit_code == 0, result.output
        links = [tuple(map(int, link.split("-"))) for link in result.stdout.split()]
        assert len(result.stdout.splitlines()) == 1
        targets = sorted(j for _, j in links)
        if rule == "argmax":
            assert targets == [0, 1, 2]  # one link per target word
        else:
            assert targets and len(set(targets)) == len(targets)  # at most one per target word
        assert all(0 <= i < 3 for i, _ in links)
    table = runner.invoke(
        app, ["align", "-m", str(toy_model_dir), "-f", "table", "--no-color"], input="ein hund läuft\n"
    )
    assert table.exit_code == 0, table.output
    for word in ("ein", "hund", "läuft", "a", "dog", "runs"):
        assert word in table.stdout


@pytest.mark.parametrize(
    "args,named",
    [
        (["translate", "-k", "100000"], "'--beam-size' / '-k'"),
        (["translate", "--threads", "5000"], "'--threads'"),
        (["average", "--last", "0"], "'--last'"),
        (["evaluate"], "'--ref'"),
        (["translate", "--bogus"], "--bogus"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_option_with_exit_code_2(args, named):
    """Typer draws usage errors as a five-line box; nmt says them in one line, as every other
    refusal (docs/guarantees.md)."""
    result = CliRunner().invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0]
