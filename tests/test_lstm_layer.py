"""The encoder's BiLSTM in training, its backward by hand (lstm_layer.py): nn.LSTM's function over
packed sequences, and its gradients, for any lengths, layers and batch order."""

import pytest
import torch
from torch import nn

from nmt_cli.accel.lstm_layer import bilstm
from nmt_cli.models.dropout import Dropout
from nmt_cli.models.rnn import RNNSeq2Seq


def _packed(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What the encoder computed before: nn.LSTM over packed sequences, padded back."""
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed)
    states, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return states, h, c


def _grads(outputs: tuple[torch.Tensor, ...], wrt: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Gradients of a fixed weighted sum of every output, final states included."""
    total = sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum() for o in outputs)
    return torch.autograd.grad(total, wrt)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("lengths", [[3, 6, 4, 6, 1, 2, 3], [1], [5, 5, 5]])
def test_bilstm_computes_nn_lstms_function_and_gradients(layers, lengths):
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 4, num_layers=layers, batch_first=True, bidirectional=True).double()
    lengths_t = torch.tensor(lengths)
    x = torch.randn(len(lengths), max(lengths), 5, dtype=torch.float64, requires_grad=True)
    wrt = [x, *lstm.parameters()]
    want = _packed(lstm, x, lengths_t)
    got = bilstm(lstm, x, lengths_t, Dropout(0.0))
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert torch.allclose(g, w, atol=1e-12)
    for g, w in zip(_grads(got, wrt), _grads(want, wrt), strict=True):
        assert torch.allclose(g, w, atol=1e-12)


def test_bilstm_under_bf16_autocast_stays_close_to_fp32():
    """Training's precision: every product and gate in bf16, so only rounding differs."""
    torch.manual_seed(0)
    lstm = nn.LSTM(16, 32, batch_first=True, bidirectional=True)
    lengths = torch.tensor([9, 4, 7, 1, 9, 3])
    x = torch.randn(6, 9, 16, requires_grad=True)
    wrt = [x, *lstm.parameters()]
    want = _packed(lstm, x, lengths)
    want_grads = _grads(want, wrt)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = bilstm(lstm, x.bfloat16(), lengths, Dropout(0.0))
    assert got[0].dtype == torch.bfloat16
    for g, w in zip(got, want, strict=True):
        assert (g.float() - w).abs().max() < 0.05
    for g, w in zip(_grads(got, wrt), want_grads, strict=True):
        assert (g.float() - w).norm() <= 0.03 * w.norm()


def test_the_encoder_trains_with_it_and_decodes_with_nn_lstm(monkeypatch):
    """Training's encoder and decoding's give the same states and bridged start, so what a model
    learns is what it translates with."""
    from conftest import rnn_config

    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config(layers=2, dropout=0.0)).double().train()
    src = torch.tensor([[5, 6, 7, 3, 0], [5, 3, 0, 0, 0], [8, 9, 10, 11, 3]])
    mask = src != 0
    called = []
    monkeypatch.setattr("nmt_cli.accel.ops.bilstm", lambda *a: called.append(1) or bilstm(*a))
    trained = model.encoder(src, mask)
    assert called
    with torch.no_grad():
        decoded = model.encoder(src, mask)
    assert len(called) == 1  # decoding kept nn.LSTM
    for g, w in zip([trained[0], *trained[1]], [decoded[0], *decoded[1]], strict=True):
        assert torch.allclose(g, w, atol=1e-12)
