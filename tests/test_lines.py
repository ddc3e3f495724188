"""The one line rule (lines.py): only \\n ends a line, so N lines in give N lines out in
translate, align and evaluate, whatever the lines hold."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmt_cli.cli.app import app
from nmt_cli.data.parallel import read_parallel
from nmt_cli.data.tokenizer import normalize
from nmt_cli.io.lines import read_lines

runner = CliRunner()
ODD = ["\r", "\x00", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\t", " ", "ein", "hund", "läuft"]

# A line: text from ordinary and odd characters (anything but \n), empty or blank included.
any_char = st.characters(exclude_characters="\n")
line_text = st.lists(st.sampled_from(ODD) | st.text(alphabet=any_char), max_size=6)
lines_strategy = st.lists(line_text.map("".join), min_size=0, max_size=6)


def to_bytes(lines: list[str], crlf: bool, garbage: bool) -> bytes:
    """The file a user might have: UTF-8 (or not), \\n or \\r\\n line ends."""
    end = b"\r\n" if crlf else b"\n"
    raw = [line.encode("utf-8", "surrogatepass") for line in lines]
    if garbage and raw:
        raw[0] += b"\xff\xc3("  # invalid UTF-8
    return b"".join(r + end for r in raw)


def test_only_newline_ends_a_line_and_one_cr_before_it_is_dropped(tmp_path):
    path = tmp_path / "x.de"
    path.write_bytes(b"Ein Hund\rl\xc3\xa4uft.\n\r\nZwei Frauen.\r\r\nEine\xe2\x80\xa8Katze\x00.\nend")
    assert read_lines(path) == ["Ein Hund\rläuft.", "", "Zwei Frauen.\r", "Eine\u2028Katze\x00.", "end"]


def test_control_and_separator_characters_are_spaces_to_the_model():
    assert normalize("Ein\rHund\x00läuft\u2028heute\x85hier\x0b.") == "Ein Hund läuft heute hier ."


def test_training_corpus_sides_count_lines_alike(tmp_path):
    (tmp_path / "c.de").write_bytes(b"a\rb\nc\r\n\x00\n")
    (tmp_path / "c.en").write_text("one\ntwo\nthree\n")
    src, tgt = read_parallel(str(tmp_path / "c"), "de", "en")
    assert len(src) == len(tgt) == 3


def test_issue_example_gives_four_lines_for_four(tiny_model_dir):
    text = b"Ein Hund\rl\xc3\xa4uft.\n\r\nZwei Frauen.\r\r\nEine Katze.\n"
    result = runner.invoke(app, ["translate", "-m", str(tiny_model_dir), "-k", "1"], input=text)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 4 and "\r" not in result.stdout


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, crlf=st.booleans(), garbage=st.booleans(), from_file=st.booleans())
@example(lines=["ein hund " * 300, "", " "], crlf=False, garbage=False, from_file=True)
@example(lines=["Ein Hund\rläuft.", "\r", "Zwei Frauen.\r"], crlf=True, garbage=False, from_file=False)
def test_translate_then_evaluate_keeps_n_lines(tiny_model_dir, lines, crlf, garbage, from_file):
    data = to_bytes(lines, crlf, garbage)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.de", Path(tmp) / "out.en"
        src.write_bytes(data)
        args = ["translate", "-m", str(tiny_model_dir), "-k", "2", "-o", str(out)]
        args += ["-i", str(src)] if from_file else []
        result = runner.invoke(app, args, input=None if from_file else data)
        assert result.exit_code == 0, result.output
        written = out.read_bytes()
        assert written.count(b"\n") == len(lines) and b"\r" not in written
        # evaluate reads what translate wrote, line for line (and refuses only an empty file)
        score = runner.invoke(app, ["evaluate", "--hyp", str(out), "--ref", str(out), "--json"])
        assert score.exit_code == (0 if lines else 1), score.output
        assert f'"lines": {len(lines)}' in score.stdout if lines else "nothing to score" in score.stderr


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy.map(lambda ls: [x.replace("|", "") for x in ls]), crlf=st.booleans())
def test_align_keeps_n_lines(tiny_model_dir, lines, crlf):
    data = to_bytes(lines, crlf, garbage=False)
    result = runner.invoke(app, ["align", "-m", str(tiny_model_dir), "-f", "pharaoh", "-k", "1"], input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == len(lines)


def test_a_named_pipe_reads_as_a_file(tmp_path):
    """`nmt translate -i <(zcat corpus.gz)`: the shell passes a pipe, which must not be refused."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"ein\r\nzwei\n\ndrei"), daemon=True)
    writer.start()
    assert read_lines(fifo) == ["ein", "zwei", "", "drei"]
    writer.join(timeout=10)
