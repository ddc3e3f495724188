"""The objective: label-smoothed cross-entropy over real tokens, perplexity's per-token loss."""

import math

import torch
from conftest import rnn_config

from nmt_cli.corpus import ParallelSet
from nmt_cli.loss import loss_fn, validation_loss
from nmt_cli.model import build_model


def test_padding_costs_nothing_and_smoothing_raises_a_confident_loss():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 9.0], [5.0, 1.0, 1.0, 1.0]]])
    target = torch.tensor([[3, 0]])  # the second position is padding
    plain = loss_fn(logits, target, 0.0)
    expected = -torch.log_softmax(logits[0, 0], -1)[3]
    assert torch.allclose(plain, expected)
    assert loss_fn(logits, target, 0.1) > plain


def test_validation_loss_is_the_mean_over_target_tokens_including_eos():
    torch.manual_seed(0)
    model = build_model(rnn_config(embed_dim=16, hidden_dim=32)).eval()
    data = ParallelSet(["a", "b"], ["x", "y"], [[5, 6], [7]], [[8], [9, 10, 11]])
    loss = validation_loss(model, data, torch.device("cpu"), "fp32")
    # A model that knows nothing spreads its probability: close to log V per token.
    assert abs(loss - math.log(20)) < 1.0
    total = 0.0
    for src, tgt in zip(data.src_ids, data.tgt_ids):
        s = torch.tensor([src + [3]])
        t_in, t_out = torch.tensor([[2] + tgt]), torch.tensor([tgt + [3]])
        with torch.no_grad():
            logits, _ = model(s, s != 0, t_in)
        total += float(loss_fn(logits, t_out, 0.0))
    assert abs(loss - total / 6) < 1e-5  # 2 + 4 target tokens with EOS
