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


def test_temporary_then_rename_is_written_in_one_place():
    """One atomic-write helper: no other module renames a temporary file or directory into place."""
    from pathlib import Path

    import nmt_cli

    root = Path(nmt_cli.__file__).parent
    found = [
        f"{path.relative_to(root)}: {word}"
        for path in root.rglob("*.py")
        if path != root / "io" / "atomic.py"
        for word in ("os.replace(", "os.rename(", "mkstemp(", "mkdtemp(", ".rename(")
        if word in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_a_new_directory_appears_whole_or_not_at_all(tmp_path):
    from nmt_cli.io.atomic import new_directory

    target = tmp_path / "avg"
    with pytest.raises(KeyboardInterrupt), new_directory(target) as building:
        (building / "config.json").write_text("{}")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with new_directory(target) as building:
        (building / "model.pt").write_text("w")
    assert [p.name for p in target.iterdir()] == ["model.pt"] and list(tmp_path.iterdir()) == [target]


def test_a_hard_linked_output_on_a_full_disk_keeps_every_name_of_the_old_file(tmp_path, monkeypatch):
    """Both names used to end up holding half of the new output."""
    import os

    from nmt_cli.io.files import open_output

    first, second = tmp_path / "out.txt", tmp_path / "other-name.txt"
    first.write_text("old\n")
    os.link(first, second)

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    wanted = "no space left .* every name of the previous file is intact"
    with pytest.raises(NMTError, match=wanted) as e, open_output(first) as out:
        out.write("new and much longer output\n" * 100)
    assert first.read_text() == second.read_text() == "old\n"
    kept = [p for p in tmp_path.iterdir() if p.name.endswith(".new")]
    assert len(kept) == 1 and str(kept[0]) in str(e.value)
    assert kept[0].read_text() == "new and much longer output\n" * 100


def test_a_hard_linked_output_is_seen_by_every_name(tmp_path):
    import os

    from nmt_cli.io.files import open_output

    first, second = tmp_path / "out.txt", tmp_path / "other-name.txt"
    first.write_text("a much longer old content\n")
    os.link(first, second)
    with open_output(first) as out:
        out.write("new\n")
    assert first.read_text() == second.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-name.txt", "out.txt"]


def test_copy_file_replaces_the_target_and_leaves_no_temporary(tmp_path):
    """SentencePiece models copied into a run (fine-tuning, a shared preparation) are written
    under a temporary name and renamed, as every file nmt writes."""
    from nmt_cli.io.atomic import copy_file

    (tmp_path / "src").write_text("new")
    (tmp_path / "dst").write_text("old")
    copy_file(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "dst").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]
