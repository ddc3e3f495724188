"""Atomic writes: the previous version survives a failed or interrupted write, no temporary
file is left behind, and an OS failure is one sentence naming the file."""

import errno
import json

import pytest

from nmt_cli.errors import NMTError
from nmt_cli.io.atomic import atomic_write, os_error_in, save_json, save_json_lines


def test_atomic_write_keeps_the_previous_file_when_writing_fails(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("old")

    def crash(tmp):
        tmp.write_text("half-writ")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_write_is_one_sentence_and_the_previous_checkpoint_is_intact(tmp_path):
    path = tmp_path / "last.pt"
    path.write_text("old")

    def full(tmp):
        raise RuntimeError("torch.save failed") from OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(
        NMTError, match=r"no space left on device while writing .*last.pt; the previous checkpoint"
    ):
        atomic_write(path, full)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_the_os_error_is_found_behind_the_error_that_reports_it():
    cause = OSError(errno.EROFS, "read-only")
    try:
        try:
            raise cause
        except OSError:
            raise RuntimeError("write failed")  # noqa: B904 (the implicit context is the point)
    except RuntimeError as e:
        assert os_error_in(e) is cause
    assert os_error_in(ValueError("x")) is None


def test_json_and_json_lines_are_written_whole_and_readable(tmp_path):
    save_json(tmp_path / "config.json", {"model": {"arch": "rnn"}, "text": "Grüße"})
    assert json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))["text"] == "Grüße"
    save_json_lines(tmp_path / "log.jsonl", [{"step": 1}, {"step": 2}])
    assert (tmp_path / "log.jsonl").read_text().splitlines() == ['{"step": 1}', '{"step": 2}']
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o644  # shared like any model file
