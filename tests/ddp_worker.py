"""One rank of a data-parallel run for test_distributed.py, started by torchrun:

    ddp_worker.py CORPUS OUTPUT BATCH_TOKENS ACCUMULATE

trains one epoch through the Python API and saves this rank's final parameters to
OUTPUT/params.rank{RANK}.pt, so the test can compare the ranks' copies of the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from nmt_cli.config import DataConfig, ModelConfig, TrainConfig
from nmt_cli.training.distributed import rank
from nmt_cli.training.loop import train


def configs(corpus: str, out: Path, batch_tokens: int, accumulate: int):
    """A tiny BiLSTM without dropout (its masks are drawn per rank), one epoch, every loss logged."""
    model = ModelConfig(embed_dim=32, hidden_dim=64, dropout=0.0)
    data = DataConfig(train=corpus, src_lang="de", tgt_lang="en", vocab_size=40, batch_tokens=batch_tokens)
    run = TrainConfig(
        output=str(out),
        lr=3e-3,
        accumulate=accumulate,
        max_epochs=1,
        valid_every=10_000,
        log_every=1,
        threads=1,
        precision="fp32",
    )
    return model, data, run


if __name__ == "__main__":
    corpus, out, batch_tokens, accumulate = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    result = train(*configs(corpus, out, batch_tokens, accumulate))
    assert result.model is not None
    torch.save(result.model.state_dict(), out / f"params.rank{rank()}.pt")
