"""The model interface: build_model picks the architecture, and what differs between the two
is a property or method of the model, never a question search or training asks."""

import pytest
import torch
from conftest import rnn_config, transformer_config

from nmt_cli.config import ARCH_DEFAULTS, AttentionChoice
from nmt_cli.errors import NMTError
from nmt_cli.models.rnn import RNNSeq2Seq
from nmt_cli.models.seq2seq import build_model, count_parameters
from nmt_cli.models.transformer import TransformerSeq2Seq


@pytest.mark.parametrize("make", [rnn_config, transformer_config])
def test_build_model_follows_the_config_and_carries_its_architectures_settings(make):
    cfg = make()
    model = build_model(cfg)
    assert isinstance(model, RNNSeq2Seq if cfg.arch == "rnn" else TransformerSeq2Seq)
    assert model.cfg == cfg
    assert model.decode_budget == ARCH_DEFAULTS[cfg.arch].decode_batch_tokens
    assert model.adam_betas == ARCH_DEFAULTS[cfg.arch].adam_betas


def test_tied_embeddings_are_counted_once():
    tied = build_model(rnn_config(embed_dim=32, hidden_dim=64))
    untied = build_model(rnn_config(embed_dim=32, hidden_dim=64, tie_embeddings=False))
    assert tied.output.weight is tied.src_embed.weight
    extra_embedding, extra_output = 20 * 32, 20 * 64 - 20 * 32  # untied: a target table and a wider output
    assert count_parameters(untied) - count_parameters(tied) >= extra_embedding + extra_output


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(rnn_config(arch="lstm"))


def test_attention_choice_is_checked_by_the_model_that_has_it():
    torch.manual_seed(0)
    tf = build_model(transformer_config(dec_layers=2))
    tf.check_attention(AttentionChoice(layer=-2, head=3))
    with pytest.raises(NMTError, match="out of range"):
        tf.check_attention(AttentionChoice(layer=2))
    rnn = build_model(rnn_config())
    rnn.check_attention(AttentionChoice())
    with pytest.raises(NMTError, match="Transformer models only"):
        rnn.check_attention(AttentionChoice(head=0))
