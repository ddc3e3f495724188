"""The data-parallel benchmark's inputs: the reference model size as options, a tiny validation set."""

from pathlib import Path

import pytest

from benchmarks.bench_ddp import VALID, size_args, tiny_valid
from nmt_cli.data.parallel import read_parallel


def test_size_args_are_the_reference_sizes_as_nmt_train_options():
    assert size_args("transformer") == [
        "--layers",
        "3",
        "--d-model",
        "256",
        "--heads",
        "4",
        "--ff-dim",
        "1024",
    ]
    assert size_args("rnn")[:2] == ["--layers", "1"] and "--hidden-dim" in size_args("rnn")


def test_tiny_valid_is_the_first_lines_of_the_validation_set(tmp_path):
    if not Path(f"{VALID}.de.gz").is_file():
        pytest.skip("data/multi30k is not in this checkout")
    prefix = tiny_valid(tmp_path / "v", lines=5)
    src, tgt = read_parallel(str(VALID), "de", "en")
    assert read_parallel(str(prefix), "de", "en") == (src[:5], tgt[:5])
