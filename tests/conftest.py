"""Shared fixtures: small models trained once per session on the synthetic reversal task."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from toy import train_toy  # noqa: E402

from nmt_cli.config import ModelConfig  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

# The session fixtures that train a model for more than a few seconds (here, and test_export's
# transformer_dir): a test that uses one is slow (`make test-fast` leaves it out; `make test`
# runs it), marked here once.
TRAINING_FIXTURES = frozenset(
    {"rnn_reverse", "transformer_reverse", "trained", "toy_model_dir", "transformer_dir"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def rnn_config(**kw) -> ModelConfig:
    base = dict(arch="rnn", vocab_size=20, src_vocab_size=20, embed_dim=64, hidden_dim=128, dropout=0.0)
    return ModelConfig(**{**base, **kw})


def transformer_config(**kw) -> ModelConfig:
    base = dict(
        arch="transformer",
        vocab_size=20,
        src_vocab_size=20,
        dropout=0.0,
        attn_dropout=0.0,
        d_model=64,
        heads=4,
        ff_dim=128,
        enc_layers=1,
        dec_layers=1,
    )
    return ModelConfig(**{**base, **kw})


@pytest.fixture(scope="session")
def rnn_reverse():
    return train_toy(rnn_config(attention="additive"), "reverse", steps=500)


@pytest.fixture(scope="session")
def transformer_reverse():
    return train_toy(transformer_config(), "reverse", steps=600, lr=1e-3)


@pytest.fixture(scope="session", params=["rnn", "transformer"])
def trained(request, rnn_reverse, transformer_reverse):
    return rnn_reverse if request.param == "rnn" else transformer_reverse


WORDS = {
    "ein": "a",
    "hund": "dog",
    "katze": "cat",
    "mann": "man",
    "frau": "woman",
    "läuft": "runs",
    "spielt": "plays",
    "schläft": "sleeps",
    "im": "in the",
    "park": "park",
    "auf": "on",
    "der": "the",
    "straße": "street",
    "rot": "red",
    "klein": "small",
}


def write_toy_corpus(prefix: Path, n: int = 2000, seed: int = 0) -> None:
    """A word-for-word 'German'→'English' corpus: small, but real text for SentencePiece."""
    import random

    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(n):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(2, 6))]
        src.append(" ".join(words))
        tgt.append(" ".join(WORDS[w] for w in words))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.de").write_text("\n".join(src) + "\n", encoding="utf-8")
    Path(f"{prefix}.en").write_text("\n".join(tgt) + "\n", encoding="utf-8")


def train_args(corpus: Path, out: Path, *extra: str) -> list[str]:
    """`nmt train` on a toy corpus (de -> en) into `out`, with `extra` options: the command line
    every CLI training test starts from."""
    return ["train", "--train", str(corpus), "-s", "de", "-t", "en", "-o", str(out), *extra]


TOY_TRAIN_ARGS = [
    "--vocab-size",
    "40",
    "--embed-dim",
    "64",
    "--hidden-dim",
    "128",
    "--batch-tokens",
    "1000",
    "--valid-every",
    "100",
    "--lr",
    "3e-3",
    "--threads",
    "2",
]


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("corpus") / "train"
    write_toy_corpus(prefix)
    return prefix


@pytest.fixture(scope="session")
def toy_model_dir(toy_corpus, tmp_path_factory) -> Path:
    """A BiLSTM trained through the real CLI on the toy corpus (validated every 100 of its 300
    updates, keeping the last checkpoint). 200 updates were enough for some dropout draws and
    not for others."""
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    out = tmp_path_factory.mktemp("model") / "toy"
    args = train_args(toy_corpus, out, "--max-steps", "300", "--keep-checkpoints", "1")
    result = CliRunner().invoke(app, args + TOY_TRAIN_ARGS)
    assert result.exit_code == 0, result.output
    return out


TINY_TRAIN_ARGS = [
    "--vocab-size",
    "40",
    "--embed-dim",
    "16",
    "--hidden-dim",
    "32",
    "--batch-tokens",
    "600",
    "--valid-every",
    "10",
    "--lr",
    "3e-3",
    "--threads",
    "1",
]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("tiny-corpus") / "train"
    write_toy_corpus(prefix, n=300)
    return prefix


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_corpus, tmp_path_factory) -> Path:
    """A very small BiLSTM trained for 20 steps through the real CLI: for tests of what
    commands do with files and lines, not of translation quality."""
    from typer.testing import CliRunner

    from nmt_cli.cli.app import app

    out = tmp_path_factory.mktemp("tiny-model") / "tiny"
    result = CliRunner().invoke(app, train_args(tiny_corpus, out, "--max-steps", "20", *TINY_TRAIN_ARGS))
    assert result.exit_code == 0, result.output
    return out
