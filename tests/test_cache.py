"""The preparation cache: keys that change with any input and only then, entries that are
trusted only when complete, failures and killed runs that leave nothing behind."""

import json
import os
import subprocess
import sys

import pytest

from nmt_cli.data import cache


def test_keys_ignore_dict_order_and_change_with_any_part():
    a = cache.cache_key({"kind": "train", "max_len": 100, "spm": ["x"]})
    assert a == cache.cache_key({"spm": ["x"], "max_len": 100, "kind": "train"})
    assert a != cache.cache_key({"kind": "train", "max_len": 101, "spm": ["x"]})
    assert len(a) == 16


def test_file_signature_changes_when_the_file_does(tmp_path):
    path = tmp_path / "train.de"
    path.write_text("a\n")
    before = cache.file_signature(path)
    path.write_text("ab\n")
    assert cache.file_signature(path) != before and before["path"] == str(path.resolve())


def test_get_or_build_builds_once_and_then_finds_the_entry(tmp_path):
    calls = []

    def make(tmp):
        calls.append(tmp)
        (tmp / "data.txt").write_text("x")
        return {"rows": 3}

    built = cache.get_or_build(tmp_path, "train.toy", "k1", make)
    found = cache.get_or_build(tmp_path, "train.toy", "k1", make)
    assert len(calls) == 1 and not built.reused and found.reused
    assert found.path == built.path == tmp_path / "train.toy-k1"
    assert found.meta == {"format": cache.FORMAT_VERSION, "key": "k1", "rows": 3}
    assert (found.path / "data.txt").read_text() == "x"


def test_an_entry_without_meta_or_with_another_key_or_format_is_not_trusted(tmp_path):
    directory = cache.entry_dir(tmp_path, "spm", "k")
    directory.mkdir()
    assert cache.lookup(tmp_path, "spm", "k") is None  # no meta.json: never completed
    (directory / "meta.json").write_text(json.dumps({"format": cache.FORMAT_VERSION, "key": "other"}))
    assert cache.lookup(tmp_path, "spm", "k") is None
    (directory / "meta.json").write_text(json.dumps({"format": cache.FORMAT_VERSION + 1, "key": "k"}))
    assert cache.lookup(tmp_path, "spm", "k") is None
    (directory / "meta.json").write_text("{not json")
    assert cache.lookup(tmp_path, "spm", "k") is None


def test_a_failed_build_leaves_nothing(tmp_path):
    def make(tmp):
        (tmp / "half.npy").write_bytes(b"\x93NUMPY")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        cache.build(tmp_path, "train.toy", "k", make)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_leftovers_of_dead_processes_are_removed_and_those_of_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_dir = tmp_path / f"{cache.TMP_PREFIX}train.toy-k-{int(dead.stdout)}-0123abcd"
    live_dir = tmp_path / f"{cache.TMP_PREFIX}train.toy-k-{os.getpid()}-0123abcd"
    other = tmp_path / ".tmp-not-ours"
    for d in (dead_dir, live_dir, other):
        d.mkdir()
    cache.remove_leftovers(tmp_path)
    assert not dead_dir.exists() and live_dir.exists() and other.exists()
