"""The CUDA paths: decoding on a GPU and training with autocast there. Marked `cuda`: they skip
without a GPU, and scripts/gpu-check.sh runs them (`pytest -m cuda`) where there is one."""

import copy

import pytest
import torch
from toy import collate, make_pairs, src_batch

from nmt_cli.config import DecodeConfig
from nmt_cli.decoding.greedy import greedy
from nmt_cli.training.step import train_step

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_greedy_on_cuda_equals_greedy_on_the_cpu_in_fp32(trained):
    model, pairs = trained
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        cpu = greedy(model, src, mask, DecodeConfig(beam_size=1))
        gpu_model = copy.deepcopy(model).to("cuda")
        gpu = greedy(gpu_model, src.to("cuda"), mask.to("cuda"), DecodeConfig(beam_size=1))
    assert [h.tokens for h in gpu] == [h.tokens for h in cpu]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_training_step_with_autocast_on_cuda_lowers_the_loss(trained, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    model = copy.deepcopy(trained[0]).to("cuda").train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    pairs = make_pairs(64, model.cfg.vocab_size, 3, 8, "reverse", 7)
    batch = collate([p[0] for p in pairs], [p[1] for p in pairs])
    losses = [
        train_step(model, opt, [batch], label_smoothing=0.0, precision=precision, scaler=scaler).loss
        for _ in range(20)
    ]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 and p.device.type == "cuda" for p in model.parameters())
