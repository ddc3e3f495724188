"""`python -m benchmarks` (`make bench`): translation and training speed, start-up, load time and peak memory.

Models: the shipped one, plus one of each architecture at the reference sizes (BiLSTM: 1 layer,
embeddings 256, hidden 512, additive attention; Transformer: 3+3 layers, d_model 256, 4 heads,
ff 1024), trained briefly on data/multi30k and cached in .cache/bench (an untrained model would
emit maximum-length output and time nothing real). Every figure is the median of `--runs` runs.
Training speed times `step.train_step`, the update training itself runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from nmt_cli.config import Arch

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
TEST_SRC = ROOT / "data" / "multi30k" / "test_2016_flickr.de.gz"
TEST_REF = ROOT / "data" / "multi30k" / "test_2016_flickr.en.gz"
# The reference sizes, as `nmt train` options would set them.
SIZES: dict[Arch, dict[str, Any]] = {
    "rnn": {"layers": 1, "embed_dim": 256, "hidden_dim": 512, "attention": "additive"},
    "transformer": {"layers": 3, "d_model": 256, "heads": 4, "ff_dim": 1024},
}


@dataclass
class TranslateFigures:
    model: str
    precision: str
    search: str
    batch: str  # "default" (the token-budgeted batches of DecodeConfig) or "1"
    sentences: int
    seconds: float
    sentences_per_s: float
    tokens_per_s: float
    bleu: float | None  # sacreBLEU on test_2016_flickr, for the full-set runs


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child_peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of a command, read from its own rusage in a fresh Python."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def ensure_model(arch: Arch, minutes: float) -> Path:
    """A briefly trained reference-size model, trained once (as `nmt train` would) and cached."""
    from nmt_cli.config import DataConfig, model_config, train_config
    from nmt_cli.training.loop import train

    out = CACHE / arch
    if (out / "model.pt").is_file():
        return out
    data = ROOT / "data" / "multi30k"
    data_cfg = DataConfig(train=str(data / "train"), src_lang="de", tgt_lang="en", valid=str(data / "val"))
    train_cfg = train_config(arch, str(out), max_minutes=minutes, valid_every=100000)
    train(model_config(arch, **SIZES[arch]), data_cfg, train_cfg)
    return out


def decoding_variants() -> list[str]:
    """fp32, bf16 where the CPU runs it natively, and int8."""
    from nmt_cli.device import cpu_has_bf16

    return ["fp32", *(["bf16"] if cpu_has_bf16() else []), "int8"]


def bench_translate(name: str, model_dir: Path, runs: int, batch1_sentences: int) -> list[TranslateFigures]:
    """Greedy and beam 5 on test_2016 for each decoding precision; batch size 1 with the default."""
    import sacrebleu
    import torch

    from nmt_cli.config import DecodeConfig
    from nmt_cli.decoding.precision import cast_for_decoding, quantize_int8
    from nmt_cli.decoding.translate import translate
    from nmt_cli.device import resolve_precision
    from nmt_cli.io.lines import read_lines
    from nmt_cli.models.checkpoint import load_model

    lines, refs = read_lines(TEST_SRC), read_lines(TEST_REF)
    default = resolve_precision("auto", torch.device("cpu"))
    figures = []
    for precision in decoding_variants():
        loaded = load_model(model_dir)
        model: Any = (
            quantize_int8(loaded.model) if precision == "int8" else cast_for_decoding(loaded.model, precision)
        )
        for search, beam in (("greedy", 1), ("beam 5", 5)):
            settings = [("default", DecodeConfig(beam_size=beam), lines)]
            if precision == default:
                settings.append(("1", DecodeConfig(beam_size=beam, batch_size=1), lines[:batch1_sentences]))
            for batch, cfg, subset in settings:
                out = translate(model, loaded.tokenizer, subset, cfg)
                tokens = sum(len(t.hypotheses[0].tokens) + 1 for t in out if t.hypotheses)
                bleu = None
                if len(subset) == len(lines):
                    bleu = sacrebleu.corpus_bleu([t.text for t in out], [refs]).score
                seconds = median_time(partial(translate, model, loaded.tokenizer, subset, cfg), runs)
                figures.append(
                    TranslateFigures(
                        name,
                        precision,
                        search,
                        batch,
                        len(subset),
                        seconds,
                        len(subset) / seconds,
                        tokens / seconds,
                        bleu,
                    )
                )
    return figures


def bench_train(arch: str, steps: int, warmup: int) -> dict[str, float]:
    """Training tokens/s over `steps` updates after `warmup`, and the peak memory of that process."""
    code = (
        "import json, resource, sys; from benchmarks.bench import train_speed; "
        f"r = train_speed({arch!r}, {steps}, {warmup}); "
        "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def train_speed(arch: str, steps: int, warmup: int) -> dict[str, float | str]:
    """Time optimizer updates (`train_step`) on Multi30k batches of the default size and precision."""
    from benchmarks.step_profile import train_throughput

    return train_throughput(CACHE / arch, steps, warmup)


def run_bench(
    runs: int = 3,
    batch1_sentences: int = 200,
    train_minutes: float = 5.0,
    train_steps: int = 20,
    output: Path = CACHE / "results.json",
) -> dict[str, Any]:
    """Every figure of the benchmark, also written to `output` as JSON."""
    import torch

    from nmt_cli.accel import native
    from nmt_cli.models.checkpoint import load_model
    from nmt_cli.models.seq2seq import count_parameters

    models = {
        "rnn": ensure_model("rnn", train_minutes),
        "transformer": ensure_model("transformer", train_minutes),
    }
    shipped = ROOT / "models" / "de-en"
    if shipped.is_dir():
        models = {"shipped": shipped, **models}
    nmt = str(Path(sys.executable).parent / "nmt")
    help_s = median_time(lambda: subprocess.run([nmt, "--help"], capture_output=True, check=True), 5)
    results: dict[str, Any] = {
        "date": str(date.today()),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "runs": runs,
        "torch": torch.__version__,
        "help_seconds": help_s,
        "dropout": native.dropout_path(),
        "models": {},
    }
    for name, model_dir in models.items():
        entry: dict[str, Any] = {
            "dir": str(model_dir),
            "parameters": count_parameters(load_model(model_dir).model),
            "load_seconds": median_time(partial(load_model, model_dir), runs),
        }
        entry["translate"] = [asdict(f) for f in bench_translate(name, model_dir, runs, batch1_sentences)]
        translate = [nmt, "translate", "-m", str(model_dir), "-i", str(TEST_SRC), "-o", os.devnull]
        entry["translate_peak_rss_mb"] = {
            beam: child_peak_rss_mb([*translate, "--beam-size", beam]) for beam in ("1", "5")
        }
        if name != "shipped":
            entry["train"] = bench_train(name, train_steps, 5)
        results["models"][name] = entry
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    return results
