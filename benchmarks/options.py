"""The options of `make bench` (`python -m benchmarks`), as typer declares them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from nmt_cli.config import Arch

Runs = Annotated[int, typer.Option(min=1, help="Runs per figure (the median is reported).")]
Batch1Sentences = Annotated[int, typer.Option(help="Sentences translated at batch size 1.")]
TrainMinutes = Annotated[float, typer.Option(help="Training time of a missing reference model.")]
TrainSteps = Annotated[int, typer.Option(help="Updates timed for training speed.")]
Profile = Annotated[
    bool, typer.Option(help="Only profile one training update of each reference model, by operator.")
]
BenchOutput = Annotated[
    Path | None, typer.Option(help="Results as JSON (default: .cache/bench/results.json).")
]
Part = Annotated[
    Literal["all", "speed", "scale", "ct2", "ddp"],
    typer.Option(
        help="speed, scale (large corpora), all (both), ct2 (against CTranslate2) or ddp (1 against "
        "2 processes); scale, ct2 and ddp write scale.json, results_ct2.json and ddp.json beside --output."
    ),
]
ScalePairs = Annotated[
    list[int] | None,
    typer.Option(help="Synthetic corpus size for the scale part; repeat (default 100000 and 1000000)."),
]
ScaleThreads = Annotated[int, typer.Option(help="Threads for the scale part (0: all cores).")]
ScaleSteps = Annotated[int, typer.Option(help="Updates timed on each prepared corpus.")]
ScaleArch = Annotated[Arch, typer.Option(help="Model trained in the scale part.")]
ScaleInMemoryMax = Annotated[
    int, typer.Option(help="Largest corpus also prepared the in-memory way (it needs the memory).")
]
Ct2Model = Annotated[
    Path | None,
    typer.Option(help="A Transformer model directory for the ct2 part (default: the reference one)."),
]
Ct2Threads = Annotated[int, typer.Option(help="Threads of both engines in the ct2 part (0: all cores).")]
Ct2Src = Annotated[Path | None, typer.Option(help="Source side for the ct2 part (default: test_2016).")]
Ct2Ref = Annotated[
    Path | None, typer.Option(help="Reference translations of --ct2-src (default: test_2016's).")
]
Ct2Sentences = Annotated[
    int, typer.Option(min=0, help="Only the first N sentences in the ct2 part (0: all).")
]
DdpSteps = Annotated[int, typer.Option(help="Updates per run of the ddp part (the first is not timed).")]
DdpBatchTokens = Annotated[int, typer.Option(help="Global batch of the ddp part, split over the processes.")]
DdpArch = Annotated[
    list[str] | None,
    typer.Option(help="Model timed in the ddp part, rnn or transformer; repeat (default both)."),
]

# prepare
