"""How a run starts: a random stream per process, and a resumed run's optimizer, schedule, loss
scaler, random stream and loop position exactly as last.pt saved them."""

import dataclasses

import torch
from conftest import rnn_config

from nmt_cli.models.seq2seq import build_model
from nmt_cli.training import distributed, run_state
from nmt_cli.training.startup import Progress, rank_seed, restore, restore_rng
from nmt_cli.training.step import make_optimizer, make_scheduler


def test_rank_0_keeps_the_seed_and_every_other_process_gets_its_own_stream():
    assert rank_seed(7, 0) == 7
    seeds = [rank_seed(7, r) for r in range(8)]
    assert len(set(seeds)) == 8


def test_a_restored_random_stream_continues_where_it_was_saved():
    torch.manual_seed(3)
    saved = {"rank_rng": [run_state.rng_state()], "progress": {"step": 10}}
    expected = torch.rand(4)
    torch.rand(100)  # the stream moves on
    restore_rng(saved, seed=3)
    assert torch.equal(torch.rand(4), expected)


def test_an_older_state_without_per_process_streams_restores_torch_rng():
    torch.manual_seed(5)
    saved = {"torch_rng": torch.get_rng_state(), "progress": {"step": 10}}
    expected = torch.rand(3)
    restore_rng(saved, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_a_process_the_saved_run_did_not_have_starts_from_seed_and_step(monkeypatch):
    saved = {"rank_rng": [run_state.rng_state()], "progress": {"step": 10}}
    monkeypatch.setattr(distributed, "rank", lambda: 2)
    restore_rng(saved, seed=1)
    first = torch.rand(3)
    torch.manual_seed(rank_seed(1, 2) + 10)
    assert torch.equal(first, torch.rand(3))


def test_restore_brings_back_the_optimizer_schedule_and_position():
    model = build_model(rnn_config(embed_dim=8, hidden_dim=16))
    optimizer = make_optimizer(model, 1e-3)
    scheduler = make_scheduler(optimizer, "inverse-sqrt", 4)
    for _ in range(3):
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        optimizer.step()
        scheduler.step()
    progress = Progress(step=3, epoch=1, batch_in_epoch=2, best_bleu=12.5, bad_validations=1, elapsed=9.0)
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rank_rng": [run_state.rng_state()],
        "progress": dataclasses.asdict(progress),
    }
    fresh = make_optimizer(model, 1e-3)
    fresh_scheduler = make_scheduler(fresh, "inverse-sqrt", 4)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    resumed = restore(state, fresh, fresh_scheduler, scaler, seed=1)
    assert resumed == progress
    assert fresh.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert fresh_scheduler.last_epoch == 3
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"]
    )
