"""The BiLSTM decoder's reads of the encoder states, their gradient made once (memory_reads.py):
the same gradients as autograd's per-step sum, for every scoring, span and decoder."""

import pytest
import torch
from conftest import rnn_config

from nmt_cli.accel import additive_energies
from nmt_cli.accel.memory_reads import SummedReads
from nmt_cli.models import rnn
from nmt_cli.models.rnn import RNNSeq2Seq

SRC = torch.tensor([[5, 6, 7, 3, 4], [5, 3, 0, 0, 0], [8, 9, 10, 11, 3]])
TGT_IN = torch.tensor([[2, 5, 6, 7], [2, 9, 3, 0], [2, 4, 4, 3]])


def _gradients(model: RNNSeq2Seq, summed: bool, monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Every parameter's gradient of a weighted sum of the teacher-forced logits."""
    with monkeypatch.context() as patch:
        if not summed:  # the memory as autograd alone differentiates it
            patch.setattr(rnn.RNNMemory, "summing_gradients", lambda self, scorer: self)
        logits, _ = model(SRC, SRC != 0, TGT_IN)
        weights = torch.linspace(-1, 1, logits.numel(), dtype=logits.dtype).view_as(logits)
        return list(torch.autograd.grad((logits * weights).sum(), list(model.parameters())))


@pytest.mark.parametrize(
    "settings",
    [
        {"attention": "additive", "decoder": "bahdanau"},
        {"attention": "dot", "decoder": "luong"},
        {"attention": "general", "decoder": "luong", "layers": 2},
        {"attention": "general", "decoder": "luong", "attention_span": "local-p", "window": 1},
        {"attention": "additive", "decoder": "bahdanau", "attention_span": "local-m", "window": 1},
    ],
)
def test_summed_reads_give_autograds_gradients(settings, monkeypatch):
    torch.manual_seed(0)
    model = RNNSeq2Seq(rnn_config(**settings)).double().train()
    got, want = _gradients(model, True, monkeypatch), _gradients(model, False, monkeypatch)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-12)
    names = [name for name, _ in model.named_parameters()]
    # the encoder's weights get the states' gradient through the summed reads
    assert got[names.index("encoder.lstm.weight_ih_l0")].abs().sum() > 0


def test_summed_reads_under_bf16_autocast_stay_close_to_autograds(monkeypatch):
    """Training's precision: the one product sums in fp32 where autograd summed bf16 step by
    step, so the two differ by rounding only. (The keys' kernel is off: torch's bf16 energies
    differ from it by more, test_additive_energies.py.)"""
    torch.manual_seed(0)
    monkeypatch.setattr(additive_energies, "takes", lambda keys: False)
    model = RNNSeq2Seq(rnn_config(attention="additive", decoder="bahdanau")).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = _gradients(model, True, monkeypatch), _gradients(model, False, monkeypatch)
    for g, w in zip(got, want, strict=True):  # measured: at most 0.73% of the norm (bf16 steps are 0.78%)
        assert (g - w).norm() <= 0.02 * w.norm()


def test_summed_reads_only_read_their_own_states():
    states = torch.zeros(2, 3, 4, requires_grad=True)
    reads = SummedReads(states)
    with pytest.raises(ValueError):
        reads.read(torch.full((2, 3), 1 / 3), states)


def test_decoding_without_gradients_takes_the_plain_reads(monkeypatch):
    """Search holds no graph: no summed reads, so beams can reorder the memory."""
    from nmt_cli.accel import memory_reads

    made = []
    real = memory_reads.SummedReads.__init__
    monkeypatch.setattr(memory_reads.SummedReads, "__init__", lambda self, s: made.append(1) or real(self, s))
    model = RNNSeq2Seq(rnn_config()).eval()
    with torch.no_grad():
        logits, _ = model(SRC, SRC != 0, TGT_IN)
    assert not made and logits.shape == (3, 4, 20)
    model.train()
    model(SRC, SRC != 0, TGT_IN)
    assert made == [1]  # teacher-forced training takes them, once per batch


def test_training_records_every_steps_read_once(monkeypatch):
    """Teacher-forced training takes the summed reads: one record per target position."""
    from nmt_cli.accel import memory_reads

    recorded = []
    real = memory_reads.StepReads.record

    def counting(self, weights, grad):
        recorded.append(1)
        real(self, weights, grad)

    monkeypatch.setattr(memory_reads.StepReads, "record", counting)
    model = RNNSeq2Seq(rnn_config()).train()
    logits, _ = model(SRC, SRC != 0, TGT_IN)
    logits.sum().backward()
    assert len(recorded) == TGT_IN.size(1)
