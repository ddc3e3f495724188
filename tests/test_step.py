"""The one training update that training, the benchmark and the tests share."""

import pytest
import torch
from conftest import rnn_config, transformer_config

from nmt_cli.data.batch import collate
from nmt_cli.models.seq2seq import build_model
from nmt_cli.training.loss import loss_fn
from nmt_cli.training.step import make_optimizer, make_scheduler, train_step


def batches():
    return [collate([[5, 6, 7], [8]], [[9, 10], [11, 12, 13]]), collate([[6, 5]], [[14]])]


def test_accumulation_divides_the_summed_loss_by_the_target_tokens_of_the_update():
    """As one batch holding both would (and as N processes under torchrun do)."""
    torch.manual_seed(0)
    model = build_model(rnn_config(embed_dim=16, hidden_dim=32))
    manual = build_model(rnn_config(embed_dim=16, hidden_dim=32))
    manual.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = train_step(model, opt, batches(), label_smoothing=0.0, clip_norm=1e9)
    # The same update by hand: (loss1 + loss2) / (tokens1 + tokens2), one SGD step.
    total, tokens = 0.0, sum(b.n_tgt_tokens for b in batches())
    for b in batches():
        logits, _ = manual(b.src, b.src_mask, b.tgt_in)
        loss = loss_fn(logits, b.tgt_out, 0.0)
        (loss / tokens).backward()
        total += float(loss.detach())
    with torch.no_grad():
        for p in manual.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    for (name, a), b in zip(model.state_dict().items(), manual.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    assert abs(result.loss - total / tokens) < 1e-5
    assert result.tokens == sum(b.n_src_tokens + b.n_tgt_tokens for b in batches())
    assert all(p.grad is None for p in model.parameters())  # ready for the next update


def test_warmup_schedule_steps_once_per_update_and_betas_follow_the_model():
    torch.manual_seed(0)
    model = build_model(transformer_config())
    opt = make_optimizer(model, lr=1e-3)
    assert opt.param_groups[0]["betas"] == (0.9, 0.98)
    sched = make_scheduler(opt, "inverse-sqrt", warmup_steps=4)
    lrs = []
    for _ in range(6):
        train_step(model, opt, batches()[:1], scheduler=sched)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:3] == pytest.approx([2e-3 / 4, 3e-3 / 4, 1e-3])  # linear warmup to the peak
    assert lrs[3] < lrs[2] and lrs[5] < lrs[4]  # then inverse square root decay
