"""Files the user named: an output that is also an input is refused (through links too), missing
inputs are named before anything is written, and OS failures are said in words."""

import errno
import os

import pytest

from nmt_cli.errors import NMTError
from nmt_cli.io.files import describe_os_error, os_errors_as_words, refuse_same_file, require_inputs


def test_an_output_that_is_an_input_is_refused_even_through_a_link(tmp_path):
    src = tmp_path / "in.de"
    src.write_text("x\n")
    link = tmp_path / "link.de"
    os.symlink(src, link)
    with pytest.raises(NMTError, match=r"-o .*link.de is the same file as -i .*in.de"):
        refuse_same_file(link, "-o", [("-i", src)])
    refuse_same_file(tmp_path / "new.en", "-o", [("-i", src)])  # a new file: fine
    refuse_same_file(None, "-o", [("-i", src)])  # stdout: fine
    refuse_same_file(src, "-o", [("-i", None)])  # the input was not given


def test_missing_inputs_are_named_with_their_option(tmp_path):
    (tmp_path / "ok").write_text("")
    require_inputs([("--src", tmp_path / "ok"), ("--ref", None), ("-i", "-")])
    with pytest.raises(NMTError, match=r"^--ref: file not found: .*gone$"):
        require_inputs([("--src", tmp_path / "ok"), ("--ref", tmp_path / "gone")])


def test_inputs_may_be_named_pipes_but_not_directories(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    require_inputs([("-i", fifo)])  # `-i <(zcat corpus.gz)`
    with pytest.raises(NMTError, match=r"^--src: .* is a directory, not a file$"):
        require_inputs([("--src", tmp_path)])


def test_os_errors_read_as_words_with_a_hint_for_permissions():
    full = describe_os_error(OSError(errno.ENOSPC, "x"), "writing", "run/last.pt")
    assert full == "no space left on device while writing run/last.pt"
    assert "check the permissions" in describe_os_error(OSError(errno.EACCES, "x"), "writing", "d")
    directory = describe_os_error(OSError(errno.EISDIR, "x"), "opening", "out")
    assert directory == "out is a directory, not a file, while opening it"


def test_os_errors_as_words_turns_an_os_error_into_an_nmt_error_but_lets_a_broken_pipe_through():
    with (
        pytest.raises(NMTError, match="no space left on device while saving m.pt"),
        os_errors_as_words("saving", "m.pt"),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(BrokenPipeError), os_errors_as_words("writing", "stdout"):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


@pytest.mark.slow
def test_stdout_appended_to_the_input_is_refused_instead_of_feeding_it_forever(tmp_path):
    """`nmt translate -i in.de >> in.de` (or `< in.de >> in.de`) would read its own output
    without end; a terminal or another file on stdout is no input's file."""
    import subprocess
    import sys

    src = tmp_path / "in.de"
    src.write_text("ein hund läuft\n", encoding="utf-8")
    nmt = [sys.executable, "-m", "nmt_cli", "translate", "--threads", "1", "-k", "1"]
    for args, stdin in ((["-i", str(src)], subprocess.DEVNULL), ([], src.open("rb"))):
        with src.open("ab") as out:
            run = subprocess.run([*nmt, *args], stdin=stdin, stdout=out, stderr=subprocess.PIPE, timeout=120)
        assert run.returncode == 1 and b"is the same file as" in run.stderr
        assert src.read_text(encoding="utf-8") == "ein hund läuft\n"
