"""Every refusal of issue #12: exit code 1, one line on stderr, no traceback, the user's files
unchanged; and what the refusals protect (model directories, inputs, training runs)."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_TRAIN_ARGS, train_args
from typer.testing import CliRunner

from nmt_cli.cli.app import app

runner = CliRunner()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: what "unchanged" compares."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_refused(result, *words: str) -> str:
    """Non-zero exit, one line on stderr naming `words`, no traceback."""
    assert result.exit_code != 0, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in result.output
    for word in words:
        assert word in message, message
    return message


def tiny_train(corpus: Path, out: Path, *extra: str) -> list[str]:
    """The command that trained `tiny_model_dir` (conftest), aimed at `out`."""
    return train_args(corpus, out, "--max-steps", "20", *TINY_TRAIN_ARGS, *extra)


def copy_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    return copy


# 1. --overwrite removes only nmt's own files, after the inputs are checked


def test_overwrite_refuses_a_directory_holding_other_files(tiny_corpus, tmp_path):
    work = tmp_path / "thesis"
    work.mkdir()
    (work / "thesis.tex").write_text("years of work\n")
    (work / "data").mkdir()
    (work / "data" / "corpus.de").write_text("ein hund\n")
    before = snapshot(work)
    for extra in ((), ("--overwrite",)):
        result = runner.invoke(app, tiny_train(tiny_corpus, work, *extra))
        assert_refused(result, "holds files nmt did not write", "thesis.tex", "choose another -o")
        assert snapshot(work) == before


def test_files_of_nmt_names_are_the_users_where_nmt_has_not_been(tiny_corpus, tmp_path):
    """A user's own model.pt, spm.model or last.pt in a directory nmt never wrote is not nmt's."""
    for name in ("model.pt", "spm.model", "last.pt", "train.log.jsonl"):
        work = tmp_path / name
        work.mkdir()
        (work / name).write_text("my own file\n")
        for extra in ((), ("--overwrite",)):
            result = runner.invoke(app, tiny_train(tiny_corpus, work, *extra))
            assert_refused(result, "holds files nmt did not write", name)
            assert sorted(os.listdir(work)) == [name]
            assert (work / name).read_text() == "my own file\n"


def test_overwrite_checks_the_corpus_before_touching_the_model(tiny_model_dir, tmp_path):
    model = copy_model(tiny_model_dir, tmp_path)
    before = snapshot(model)
    result = runner.invoke(app, tiny_train(tmp_path / "missing", model, "--overwrite"))
    assert_refused(result, "corpus file not found")
    assert snapshot(model) == before


def test_output_that_is_a_file_or_under_one_is_refused_in_words(tiny_corpus, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("keep me\n")
    assert_refused(runner.invoke(app, tiny_train(tiny_corpus, note, "--overwrite")), "not a directory")
    under_a_file = runner.invoke(app, tiny_train(tiny_corpus, note / "sub"))
    assert_refused(under_a_file, "not a directory while creating")
    assert note.read_text() == "keep me\n"


# 2. the same file as input and output


def test_translate_refuses_its_input_as_output_also_through_links(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\n", encoding="utf-8")
    (tmp_path / "sym.de").symlink_to(src)
    os.link(src, tmp_path / "hard.de")
    for out in (src, tmp_path / "sym.de", tmp_path / "hard.de"):
        result = runner.invoke(app, ["translate", "-m", str(tiny_model_dir), "-i", str(src), "-o", str(out)])
        assert_refused(result, "is the same file as -i", "write to another file")
        assert src.read_text(encoding="utf-8") == "ein hund läuft\n"


@pytest.mark.slow
def test_translate_refuses_to_overwrite_the_file_stdin_reads(tiny_model_dir, tmp_path):
    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "nmt_cli", "translate", "-m", str(tiny_model_dir), "-o", str(src)]
    with open(src, "rb") as stdin:
        proc = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 1
    message = proc.stderr.decode().strip()
    assert len(message.splitlines()) == 1 and "same file as stdin" in message
    assert src.read_text(encoding="utf-8") == "ein hund läuft\n"


def test_evaluate_and_align_refuse_an_input_as_output(tiny_model_dir, tmp_path):
    src, ref = tmp_path / "s.de", tmp_path / "r.en"
    src.write_text("ein hund läuft\n", encoding="utf-8")
    ref.write_text("a dog runs\n", encoding="utf-8")
    before = snapshot(tmp_path)
    m = ["-m", str(tiny_model_dir)]
    ev = ["evaluate", *m, "--src", str(src), "--ref", str(ref)]
    assert_refused(runner.invoke(app, [*ev, "--save-hyp", str(ref)]), "--save-hyp", "same file as --ref")
    assert_refused(runner.invoke(app, [*ev, "--save-hyp", str(src)]), "same file as --src")
    al = ["align", *m, "-i", str(src), "--ref", str(ref)]
    assert_refused(runner.invoke(app, [*al, "-o", str(ref)]), "same file as --ref")
    assert_refused(runner.invoke(app, [*al, "-o", str(src)]), "same file as -i")
    assert snapshot(tmp_path) == before


def test_missing_input_leaves_the_output_untouched(tiny_model_dir, tmp_path):
    out = tmp_path / "out.en"
    out.write_text("yesterday's translations\n")
    result = runner.invoke(
        app, ["translate", "-m", str(tiny_model_dir), "-i", str(tmp_path / "nope"), "-o", str(out)]
    )
    assert_refused(result, "file not found")
    assert out.read_text() == "yesterday's translations\n"


# 4. resuming with other settings


def test_resume_with_other_model_or_data_settings_is_refused(tiny_model_dir, tiny_corpus, tmp_path):
    model = copy_model(tiny_model_dir, tmp_path)
    before = snapshot(model)
    cases = [
        (("--hidden-dim", "256"), ["--hidden-dim 32 there, 256 now"]),
        (("--arch", "transformer"), ["--arch rnn there, transformer now"]),
        (("--vocab-size", "50", "--seed", "2"), ["--vocab-size 40 there, 50 now", "--seed 1 there, 2 now"]),
    ]
    for extra, words in cases:
        result = runner.invoke(app, tiny_train(tiny_corpus, model, *extra))
        assert_refused(result, *words, "--overwrite", "another -o")
        assert snapshot(model) == before


def test_resume_may_change_budgets_and_takes_the_stored_settings_not_given(
    tiny_model_dir, tiny_corpus, tmp_path
):
    model = copy_model(tiny_model_dir, tmp_path)
    extra = ("--patience", "3", "--valid-every", "50", "--max-minutes", "30", "--threads", "1")
    result = runner.invoke(app, tiny_train(tiny_corpus, model, *extra))
    assert result.exit_code == 0, result.output
    assert "done (max-steps) after 20 steps" in result.stderr
    # a shorter command resumes the stored run as it is: sizes and learning rate stay
    result = runner.invoke(app, train_args(tiny_corpus, model, "--max-steps", "20", "--threads", "1"))
    assert result.exit_code == 0, result.output
    config = json.loads((model / "config.json").read_text())
    assert config["model"]["hidden_dim"] == 32 and config["train"]["lr"] == 0.003
    assert config["train"]["patience"] == 3  # the stored value, since not given this time


def test_a_finished_model_without_training_state_is_not_replaced_by_another_run(
    tiny_model_dir, tiny_corpus, tmp_path
):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "last.pt").unlink()
    before = snapshot(model)
    result = runner.invoke(app, tiny_train(tiny_corpus, model, "--hidden-dim", "64"))
    assert_refused(result, "--hidden-dim 32 there, 64 now", "--overwrite")
    assert snapshot(model) == before


# 5, 6. a model directory is checked when loaded


def edit_config(model: Path, change) -> None:
    path = model / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps(change(config)))


def test_config_that_disagrees_with_the_weights_is_refused(tiny_model_dir, tmp_path):
    model = copy_model(tiny_model_dir, tmp_path)
    edit_config(model, lambda c: {**c, "model": {**c["model"], "hidden_dim": 256}})
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    assert_refused(result, "config.json does not describe", "hidden_dim 256 there, 32 in the weights")
    vocab = json.loads((model / "config.json").read_text())["model"]["vocab_size"]
    edit_config(model, lambda c: {**c, "model": {**c["model"], "hidden_dim": 32, "vocab_size": str(vocab)}})
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    # a string where a number belongs: refused by the field check, before the weights are read
    assert_refused(result, "config.json is corrupt: model setting vocab_size must be", f"'{vocab}'")


def test_sentencepiece_model_of_another_vocabulary_is_refused_at_load(tiny_model_dir, tmp_path):
    from nmt_cli.data.tokenizer import train_sentencepiece

    model = copy_model(tiny_model_dir, tmp_path)
    size = train_sentencepiece(["ein hund läuft im park", "eine katze schläft"] * 30, tmp_path / "other", 25)
    shutil.copy(tmp_path / "other.model", model / "spm.model")
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    assert_refused(result, f"spm.model has {size} pieces", "belongs to another model")


def test_config_paths_cannot_point_outside_and_null_is_handled(tiny_model_dir, tmp_path):
    model = copy_model(tiny_model_dir, tmp_path)
    escape = {"src": "../../../etc/passwd", "tgt": "../../../etc/passwd"}
    edit_config(model, lambda c: {**c, "spm": escape})
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    assert_refused(result, "fixed names", "nothing may point elsewhere")
    edit_config(model, lambda c: {**c, "spm": None, "model": None})
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    assert result.exit_code == 0, result.output
    (model / "config.json").write_text("null")
    result = runner.invoke(app, ["translate", "-m", str(model)], input="ein hund\n")
    assert_refused(result, "config.json is corrupt")


def test_shipped_model_directory_still_loads():
    from nmt_cli.models.checkpoint import SHIPPED_MODEL, load_model

    loaded = load_model(SHIPPED_MODEL)
    assert loaded.tokenizer.tgt_vocab_size == loaded.model.cfg.vocab_size


# 7. one training per directory


@pytest.mark.slow
def test_second_training_on_a_locked_directory_is_refused_until_the_holder_dies(
    tiny_model_dir, tiny_corpus, tmp_path
):
    model = copy_model(tiny_model_dir, tmp_path)
    hold = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(model / ".nmt.lock")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        before = snapshot(model)
        result = runner.invoke(app, tiny_train(tiny_corpus, model))
        assert_refused(result, "being written by another nmt train")
        assert snapshot(model) == before
    finally:
        holder.kill()  # SIGKILL: the OS releases the lock
        holder.wait(timeout=30)
    result = runner.invoke(app, tiny_train(tiny_corpus, model))
    assert result.exit_code == 0, result.output
    fd = os.open(model / ".nmt.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the run
    finally:
        os.close(fd)


# 8. a corpus too small to hold out validation pairs


def test_tiny_corpus_trains_validating_on_its_training_pairs(tmp_path):
    (tmp_path / "c.de").write_text("ein hund\neine katze\nein mann\nzwei frauen\nein park\n")
    (tmp_path / "c.en").write_text("a dog\na cat\na man\ntwo women\na park\n")
    out = tmp_path / "m"
    args = train_args(tmp_path / "c", out)
    args += ["--max-steps", "3", "--valid-every", "100", "--embed-dim", "16", "--hidden-dim", "32"]
    args += ["--vocab-size", "30", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "validation: the 5 training pairs" in " ".join(result.stderr.split())
    assert (out / "model.pt").is_file()
    # --overwrite starts afresh in nmt's own directory: a new log, nothing of the old run left
    result = runner.invoke(app, [*args[:-4], "--max-steps", "2", "--overwrite", "--threads", "1"])
    assert result.exit_code == 0, result.output
    steps = [json.loads(x)["step"] for x in (out / "train.log.jsonl").read_text().splitlines()]
    assert steps == [2]


# 9. faults while writing, leftovers of a kill


@pytest.mark.slow
def test_failed_checkpoint_write_is_said_in_words_and_keeps_the_previous_one(
    tiny_model_dir, tiny_corpus, tmp_path
):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / ".last.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")  # a kill -9 mid-save
    last = (model / "last.pt").read_bytes()
    limit = len(last) // 2  # config.json and the log fit, a checkpoint does not

    def small_files() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "nmt_cli", *tiny_train(tiny_corpus, model)]
    cmd[cmd.index("--max-steps") + 1] = "30"
    proc = subprocess.run(cmd, capture_output=True, timeout=180, preexec_fn=small_files)
    assert proc.returncode == 1, proc.stderr.decode()
    message = proc.stderr.decode().strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr.decode()
    expected = f"error: file too large while writing {model}/last.pt; the previous checkpoint is intact"
    assert message == expected
    assert (model / "last.pt").read_bytes() == last
    assert not [p.name for p in model.iterdir() if p.name.endswith(".tmp")]


def test_a_command_that_fails_half_way_leaves_the_previous_output_file_as_it_was(tiny_model_dir, tmp_path):
    import gzip

    truncated = tmp_path / "in.de.gz"
    whole = gzip.compress("".join(f"ein hund {i}\n" for i in range(3000)).encode())
    truncated.write_bytes(whole[: len(whole) // 2])  # fails after some lines
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("ein hund ||| a dog\n" * 50 + "ein mann ||| a man ||| a woman\n")
    out = tmp_path / "out.txt"
    for command in (["translate", "-i", str(truncated)], ["align", "-i", str(pairs), "-f", "pharaoh"]):
        out.write_text("yesterday's work\n")
        out.chmod(0o640)
        result = runner.invoke(app, [*command, "-m", str(tiny_model_dir), "-o", str(out)])
        assert_refused(result)
        assert out.read_text() == "yesterday's work\n", command
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.de.gz", "out.txt", "pairs.txt"]
    link = tmp_path / "link.txt"
    link.symlink_to(out)
    result = runner.invoke(app, ["translate", "-m", str(tiny_model_dir), "-o", str(link)], input="ein hund\n")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and len(out.read_text().splitlines()) == 1  # written through the link
    assert out.stat().st_mode & 0o777 == 0o640  # and with the file's own permissions


def test_translate_to_a_full_disk_is_said_in_words(tiny_model_dir, tmp_path):
    args = ["translate", "-m", str(tiny_model_dir), "-o", "/dev/full"]
    result = runner.invoke(app, args, input="ein hund\n")
    assert_refused(result, "no space left on device while writing /dev/full")


def test_a_full_disk_while_training_sentencepiece_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    import pytest

    from nmt_cli.data.tokenizer import train_sentencepiece
    from nmt_cli.errors import NMTError

    texts = ["ein hund läuft", "a dog runs"] * 20
    real_write = Path.write_bytes
    for method in ("write_bytes",):  # the model (SentencePiece trains from memory: no text file)

        def full(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, method, full)
        with pytest.raises(NMTError) as e:
            train_sentencepiece(texts, tmp_path / "spm", 40)
        monkeypatch.undo()
        assert str(e.value) == f"no space left on device while writing {tmp_path / 'spm.model'}"
        assert list(tmp_path.iterdir()) == []
    assert Path.write_bytes is real_write
    assert train_sentencepiece(texts, tmp_path / "spm", 40) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["spm.model"]


@pytest.mark.slow
def test_a_full_disk_while_writing_shards_names_the_shard_and_leaves_no_partial_entry(tmp_path):
    # one letter a line: the shards' 8-byte offsets outgrow the 2-byte lines SentencePiece reads
    letters = "abcdefghij" * 10_000
    (tmp_path / "c.de").write_text("".join(f"{c}\n" for c in letters))
    (tmp_path / "c.en").write_text("".join(f"{c.upper()}\n" for c in letters))
    limit = 600_000

    def small_files() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    data = tmp_path / "prepared"
    cmd = [
        sys.executable,
        "-m",
        "nmt_cli",
        "prepare",
        "--train",
        str(tmp_path / "c"),
        "-s",
        "de",
        "-t",
        "en",
    ]
    cmd += ["--data-dir", str(data), "--vocab-size", "30"]
    proc = subprocess.run(cmd, capture_output=True, timeout=180, preexec_fn=small_files)
    stderr = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr
    *warnings, error = stderr.strip().splitlines()  # a warning that SentencePiece fitted the size
    assert all(w.startswith("warning: ") for w in warnings), stderr
    assert error.startswith(f"error: file too large while writing {data}/")
    assert error.endswith("train.src.offsets.npy"), stderr
    assert [p.name for p in data.iterdir() if not p.name.startswith("spm-")] == []  # no half-built shards


def test_a_hard_linked_output_is_rewritten_under_every_name(tiny_model_dir, tmp_path, monkeypatch):
    import errno

    out, twin = tmp_path / "out.txt", tmp_path / "twin.txt"
    out.write_text("yesterday's work\n")
    os.link(out, twin)
    args = ["translate", "-m", str(tiny_model_dir), "-o", str(out)]
    result = runner.invoke(app, args, input="ein hund\nein mann\n")
    assert result.exit_code == 0, result.output
    assert twin.read_text() == out.read_text() != "yesterday's work\n"
    assert os.path.samefile(out, twin) and len(out.read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "twin.txt"]

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    out.write_text("")  # shorter than the new output: its space must be reserved, and is not
    monkeypatch.setattr(os, "posix_fallocate", full)
    result = runner.invoke(app, args, input="ein hund\n")
    message = assert_refused(
        result, f"no space left on device while writing {out}; every name of the previous file is intact"
    )
    kept = Path(message.rsplit(" ", 1)[1])
    assert kept.parent == tmp_path and len(kept.read_text().splitlines()) == 1
    assert out.read_text() == twin.read_text() == ""


@pytest.mark.slow
def test_stdout_on_a_full_disk_is_said_in_words_by_every_command(tiny_model_dir, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a dog\n")
    commands = (
        ["translate", "-m", str(tiny_model_dir), "-i", str(text)],
        ["align", "-m", str(tiny_model_dir), "-i", str(text), "-f", "pharaoh"],
        ["evaluate", "--hyp", str(text), "--ref", str(text)],
        ["evaluate", "--hyp", str(text), "--ref", str(text), "--json"],
        ["--help"],
        ["translate", "--help"],
    )
    for command in commands:
        with open("/dev/full", "w") as full:
            cmd = [sys.executable, "-m", "nmt_cli", *command]
            proc = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, timeout=120, text=True)
        assert proc.returncode == 1, (command, proc.stderr)
        assert proc.stderr.strip() == "error: no space left on device while writing stdout", command


# 10. alignment input


def test_gold_links_outside_the_sentence_name_file_and_line(tiny_model_dir, tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("0-0 1-1\n0-0 99-99\n")
    pairs = "ein hund ||| a dog\nein mann ||| a man\n"
    result = runner.invoke(app, ["align", "-m", str(tiny_model_dir), "--gold", str(gold)], input=pairs)
    assert_refused(result, f"{gold}: line 2: link 99-99", "outside the pair of 2 source and 2 target words")


def test_a_line_with_two_separators_is_an_error_with_its_number(tiny_model_dir, tmp_path):
    pairs = "ein hund ||| a dog\nein mann ||| a man ||| a woman\n"
    result = runner.invoke(app, ["align", "-m", str(tiny_model_dir), "-f", "pharaoh"], input=pairs)
    assert_refused(result, "line 2 has 2 '|||' separators")


@pytest.mark.slow
def test_lock_file_is_released_when_training_process_is_killed_midway(tiny_corpus, tmp_path):
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "nmt_cli", *tiny_train(tiny_corpus, out)]
    cmd[cmd.index("--max-steps") + 1] = "100000"
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(cmd, **quiet)
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert_refused(runner.invoke(app, tiny_train(tiny_corpus, out)), "being written by another nmt train")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    fd = os.open(out / ".nmt.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
