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


# Round 3: runaway inputs and odd encodings (lines.py is the one reader of every text input).

import gzip  # noqa: E402
import io  # noqa: E402

import pytest  # noqa: E402

from nmt_cli.errors import NMTError  # noqa: E402
from nmt_cli.io import lines as lines_module  # noqa: E402
from nmt_cli.io.lines import MAX_LINE_BYTES, iter_raw_lines, open_binary  # noqa: E402


def test_an_endless_line_is_refused_after_reading_at_most_the_limit():
    """`translate -i /dev/zero` grew to 23 GB: a line is read no further than MAX_LINE_BYTES."""

    class Zeros(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            b[:] = bytes(len(b))
            self.served += len(b)
            return len(b)

    zeros = Zeros()
    with pytest.raises(NMTError, match=r"/dev/zero: line 1 is longer than 4 MiB"):
        list(iter_raw_lines(io.BufferedReader(zeros), "/dev/zero"))
    assert zeros.served < 2 * MAX_LINE_BYTES


def test_dev_zero_is_refused_in_words(tmp_path):
    with pytest.raises(NMTError, match="longer than"):
        read_lines("/dev/zero")


def test_a_line_of_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(lines_module, "MAX_LINE_BYTES", 8)
    assert list(iter_raw_lines(io.BytesIO(b"12345678\nabc"))) == [b"12345678", b"abc"]
    with pytest.raises(NMTError, match="line 2 is longer"):
        list(iter_raw_lines(io.BytesIO(b"1\n123456789\n")))


def test_a_leading_utf8_bom_is_not_text(tmp_path):
    """A reference starting with a BOM scored an identical hypothesis 92 instead of 100."""
    path = tmp_path / "ref.en"
    path.write_bytes(b"\xef\xbb\xbfa dog runs\r\n\xef\xbb\xbfsecond\n")
    assert read_lines(path) == ["a dog runs", "\ufeffsecond"]  # only the file's first bytes


@pytest.mark.parametrize("name", ["corpus.de", "corpus.de.gz", "corpus"])
def test_gzip_is_read_by_its_magic_bytes_whatever_the_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress("\ufeffein hund\nzwei\n".encode()))
    assert read_lines(path) == ["ein hund", "zwei"]


def test_a_gz_name_that_is_not_gzip_is_refused(tmp_path):
    path = tmp_path / "x.de.gz"
    path.write_bytes(b"plain text\n")
    with pytest.raises(NMTError, match="not gzip"):
        read_lines(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_bom_are_refused_in_words(tmp_path, encoding):
    path = tmp_path / "x.de"
    text = "ein hund\nzwei\n"
    path.write_bytes(("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding))
    with pytest.raises(NMTError, match="UTF-16 or UTF-32 .* iconv"):
        read_lines(path)
    with pytest.raises(NMTError, match="UTF-16"):
        path.write_bytes(gzip.compress(path.read_bytes()))
        read_lines(path)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), zipped=st.booleans())
def test_any_bytes_read_as_n_lines_or_refused_in_words(tmp_path_factory, data, zipped):
    """Whatever the bytes: the lines are those `\\n` ends (a BOM aside), or an NMTError."""
    path = tmp_path_factory.mktemp("bytes") / "x"
    path.write_bytes(gzip.compress(data) if zipped else data)
    try:
        got = read_lines(path, errors="replace")
    except NMTError:
        assert data[:2] in (b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")  # UTF-16/32, or not gzip inside
        return
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    assert len(got) == body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)


def test_stdin_is_sniffed_too(monkeypatch):
    class Stdin:
        buffer = io.BufferedReader(io.BytesIO(gzip.compress(b"\xef\xbb\xbfa\nb\n")))  # type: ignore[arg-type]

    monkeypatch.setattr("sys.stdin", Stdin())
    assert list(lines_module.input_lines(None)) == ["a", "b"]


def test_a_closed_stdin_is_an_error_in_words(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(NMTError, match="stdin is closed"):
        list(lines_module.input_lines(None))


def test_open_binary_closes_the_file_it_refuses(tmp_path):
    path = tmp_path / "x"
    path.write_bytes("x".encode("utf-16"))
    with pytest.raises(NMTError):
        open_binary(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from("ab \n\r\u00e9<>"), max_size=40))
def test_lines_with_their_ends_join_into_the_text_exactly(text, tmp_path):
    """What `--format html/xml` reads: the document byte for byte, CRLF and last line included."""
    from nmt_cli.io.lines import input_lines

    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode())
    assert "".join(input_lines(path, keep_ends=True)) == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8")))
def test_a_json_line_is_one_line_for_any_reader_and_reads_back(text):
    """JSON-lines output (translate --format json, align -f json): U+2028, U+0085 ... inside a
    string must not split the record for str.splitlines()."""
    import json

    from nmt_cli.io.lines import json_line

    line = json_line({"translation": text})
    assert len(line.splitlines()) == 1 and json.loads(line) == {"translation": text}


def test_invalid_utf8_is_read_as_replacement_characters_with_one_warning(tmp_path, caplog):
    from nmt_cli.io.lines import input_lines

    path = tmp_path / "latin1.de"
    path.write_bytes("ok\nDer Bär\nStraße\n".encode("latin-1"))
    assert list(input_lines(path)) == ["ok", "Der B\ufffdr", "Stra\ufffde"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "line 2 is not valid UTF-8" in warned[0]
