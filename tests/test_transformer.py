"""The Transformer learns, and cached incremental decoding equals the full forward pass."""

import pytest
import torch
import torch.nn.functional as F
from conftest import transformer_config
from toy import exact_match, src_batch

from nmt_cli.config import BOS_ID, AttentionChoice, DecodeConfig
from nmt_cli.decoding.greedy import greedy
from nmt_cli.models.transformer import TransformerSeq2Seq
from nmt_cli.models.transformer_layers import MultiHeadAttention


def test_learns_reversal(transformer_reverse):
    model, pairs = transformer_reverse
    src, mask = src_batch(pairs)
    with torch.inference_mode():
        hyps = greedy(model, src, mask, DecodeConfig(beam_size=1))
    assert exact_match([h.tokens for h in hyps], pairs) >= 0.95


@pytest.mark.parametrize("post_norm", [False, True])
def test_cached_decoding_equals_full_forward(post_norm):
    torch.manual_seed(0)
    cfg = transformer_config(enc_layers=2, dec_layers=3, post_norm=post_norm)
    model = TransformerSeq2Seq(cfg).eval()
    src = torch.randint(4, 20, (3, 7))
    src[1, 5:] = 0
    src[2, 2:] = 0
    mask = src != 0
    tgt_in = torch.cat([torch.full((3, 1), BOS_ID), torch.randint(4, 20, (3, 6))], dim=1)
    with torch.no_grad():
        full, full_attn = model(src, mask, tgt_in, need_attention=True)
        memory = model.encode(src, mask)
        state = model.init_state(memory)
        for t in range(tgt_in.size(1)):
            logits, state, attn = model.decode_step(tgt_in[:, t], memory, state)
            assert torch.allclose(logits, full[:, t], atol=1e-5)
            assert torch.allclose(attn, full_attn[:, t], atol=1e-5)


def test_cross_attention_over_padding_is_exactly_zero():
    torch.manual_seed(0)
    model = TransformerSeq2Seq(transformer_config(dec_layers=2)).eval()
    src = torch.tensor([[5, 6, 7, 3], [5, 3, 0, 0]])
    tgt_in = torch.tensor([[2, 5, 6], [2, 9, 0]])
    with torch.no_grad():
        _, attn = model(src, src != 0, tgt_in, need_attention=True, attention=AttentionChoice(head=1))
    assert (attn[1, :, 2:] == 0).all()
    assert torch.allclose(attn.sum(-1), torch.ones(2, 3))


def test_beams_sharing_a_sentences_memory_equal_beams_with_copies():
    """Beam search gives each sentence's beams one shared cross-attention memory (`repeat`);
    stepping with it, and after dropping a sentence, must match copying the memory per beam."""
    torch.manual_seed(0)
    model = TransformerSeq2Seq(transformer_config(dec_layers=2)).eval()
    n, k = 3, 4
    src = torch.randint(4, 20, (n, 6))
    src[1, 3:] = 0
    mask = src != 0
    with torch.no_grad():
        memory = model.encode(src, mask)
        shared, copied = memory.repeat(k), memory.select(torch.arange(n).repeat_interleave(k))
        states = [model.init_state(shared), model.init_state(copied)]
        for t in range(5):
            prev = torch.randint(4, 20, (shared.rows,))
            (a, sa, attn_a), (b, sb, attn_b) = (
                model.decode_step(prev, m, s) for m, s in zip((shared, copied), states)
            )
            assert torch.allclose(a, b, atol=1e-5) and torch.allclose(attn_a, attn_b, atol=1e-5)
            states = [sa, sb]
            if t == 2:  # sentence 1 finishes: its k rows leave the batch
                keep = torch.cat([torch.arange(k), torch.arange(2 * k, 3 * k)])
                shared, copied = shared.select(keep), copied.select(keep)
                states = [s.select(keep) for s in states]


@pytest.mark.parametrize("causal", [False, True])
def test_cpu_training_attention_equals_sdpa_which_decoding_and_gpus_run(causal):
    """CPU training takes the explicit path (faster there), GPUs and decoding
    `scaled_dot_product_attention`: the two must agree, padding mask and causal mask alike."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(32, 4, dropout=0.0).train()
    x, memory = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, None, :]
    kv = attn.project_kv(memory)
    with torch.no_grad():
        out, _ = attn(x, kv, None if causal else mask, causal=causal)
        q = attn._split(attn.q_proj(x))
        ref = F.scaled_dot_product_attention(q, *kv, attn_mask=None if causal else mask, is_causal=causal)
        ref = attn.out_proj(ref.transpose(1, 2).reshape(2, 5, 32))
    assert torch.allclose(out, ref, atol=1e-6)
