"""`python -m benchmarks` (`make bench`): translation and training speed, start-up, load time and
peak memory, outside the installed package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from benchmarks import options as topt
from nmt_cli.cli import options as opt
from nmt_cli.cli.console import run

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
err = Console(stderr=True)


@app.command()
def bench(
    runs: topt.Runs = 3,
    batch1_sentences: topt.Batch1Sentences = 200,
    train_minutes: topt.TrainMinutes = 5.0,
    train_steps: topt.TrainSteps = 20,
    profile: topt.Profile = False,
    output: topt.BenchOutput = None,
    part: topt.Part = "all",
    scale_pairs: topt.ScalePairs = None,
    scale_threads: topt.ScaleThreads = 0,
    scale_steps: topt.ScaleSteps = 50,
    scale_arch: topt.ScaleArch = "transformer",
    scale_in_memory_max: topt.ScaleInMemoryMax = 1_000_000,
    ct2_model: topt.Ct2Model = None,
    ct2_threads: topt.Ct2Threads = 0,
    ct2_src: topt.Ct2Src = None,
    ct2_ref: topt.Ct2Ref = None,
    ct2_sentences: topt.Ct2Sentences = 0,
    ddp_steps: topt.DdpSteps = 30,
    ddp_batch_tokens: topt.DdpBatchTokens = 4096,
    ddp_arch: topt.DdpArch = None,
    debug: opt.Debug = False,
) -> None:
    """Benchmark translation and training speed, start-up, load time and memory (`make bench`)."""

    def action() -> None:
        from benchmarks import bench_ct2, bench_ddp, bench_scale, render
        from benchmarks.bench import CACHE, ensure_model, run_bench

        console = Console()
        if profile:
            from benchmarks.step_profile import profile_update

            for arch in ("rnn", "transformer"):
                for table in render.profile_tables(arch, profile_update(ensure_model(arch, train_minutes))):
                    console.print(table)
            return
        path = output or CACHE / "results.json"

        def show(tables: list[Any], written: Path) -> None:
            for table in tables:
                console.print(table)
            console.print(f"written to {written}")

        if part in ("all", "speed"):
            show(
                render.bench_tables(run_bench(runs, batch1_sentences, train_minutes, train_steps, path)), path
            )
        if part in ("all", "scale"):
            pairs, scale_path = (
                sorted(set(scale_pairs or bench_scale.DEFAULT_PAIRS)),
                path.with_name("scale.json"),
            )
            scale = bench_scale.run_scale(
                pairs, scale_threads, scale_steps, scale_arch, scale_in_memory_max, scale_path
            )
            show(render.scale_tables(scale), scale_path)
        if part == "ct2":
            ct2_path = path.with_name("results_ct2.json")
            ct2 = bench_ct2.run_ct2(
                ct2_model, ct2_threads, runs, ct2_sentences, ct2_src, ct2_ref, train_minutes, ct2_path
            )
            if ct2 is None:
                err.print("CTranslate2 part skipped: pip install -e '.[ctranslate2]'")
            else:
                show([render.ct2_table(ct2)], ct2_path)
        if part == "ddp":
            ddp_path = path.with_name("ddp.json")
            ddp = bench_ddp.run_ddp(ddp_arch or ["rnn", "transformer"], ddp_steps, ddp_batch_tokens, ddp_path)
            show([render.ddp_table(ddp)], ddp_path)

    run(debug, action)


if __name__ == "__main__":
    app(prog_name="python -m benchmarks")
