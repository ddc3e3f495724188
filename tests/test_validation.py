"""Validation: BLEU of the model's translations of the fixed subset, the loss of the whole set,
the same figures in every process, and a perplexity that never overflows."""

import math

import pytest
import torch

from nmt_cli.training import distributed, validation
from nmt_cli.training.validation import perplexity, validate_on_main


def test_perplexity_is_exp_of_the_loss_capped_for_untrained_models():
    assert perplexity(0.0) == 1.0
    assert perplexity(2.0) == pytest.approx(math.e**2)
    assert perplexity(1e6) == math.exp(50)


def test_process_0_validates_and_every_process_takes_its_figures(monkeypatch):
    calls = []

    def fake_validate(model, tokenizer, data, device, precision, beam):
        calls.append(beam)
        return 1.25, 30.5

    monkeypatch.setattr(validation, "validate", fake_validate)
    monkeypatch.setattr(distributed, "broadcast_floats", lambda values: [float(v) for v in values])
    data = type("Data", (), {"tokenizer": None})()
    cpu = torch.device("cpu")
    assert validate_on_main(None, data, cpu, "fp32", 2) == (1.25, 30.5)  # type: ignore[arg-type]
    monkeypatch.setattr(distributed, "is_main", lambda: False)
    monkeypatch.setattr(distributed, "broadcast_floats", lambda values: [1.25, 30.5])  # what 0 sends
    assert validate_on_main(None, data, cpu, "fp32", 2) == (1.25, 30.5)  # type: ignore[arg-type]
    assert calls == [2]  # the other process did not decode


@pytest.mark.parametrize("loss", [math.nan, math.inf])
def test_a_diverged_run_ends_in_every_process_instead_of_saving_a_new_best(monkeypatch, loss):
    """BLEU 0 beats the starting best of -1: a NaN model would have been saved as model.pt."""
    from nmt_cli.errors import NMTError

    monkeypatch.setattr(validation, "validate", lambda *args: (loss, 0.0))
    monkeypatch.setattr(distributed, "broadcast_floats", lambda values: [float(v) for v in values])
    data = type("Data", (), {"tokenizer": None})()
    with pytest.raises(NMTError, match="training diverged"):
        validate_on_main(None, data, torch.device("cpu"), "fp32", 2)  # type: ignore[arg-type]
