"""Attentional BiLSTM encoder-decoder (Bahdanau et al., 2015; Luong et al., 2015).

The encoder is a stacked bidirectional LSTM over packed sequences; each direction has
hidden_dim/2 units, so encoder states and decoder states are both hidden_dim wide and dot
attention needs no projection. The decoder starts from the encoder's final states through a
learned bridge and comes in two designs (`--decoder`):

    luong     h_t = LSTM(h_{t-1}, [y_{t-1}; h̃_{t-1}]), attention scored with h_t,
              h̃_t = tanh(W_c [c_t; h_t]) predicts y_t and is fed to the next step.
    bahdanau  attention scored with h_{t-1}, h_t = LSTM(h_{t-1}, [y_{t-1}; c_t]),
              y_t predicted from the deep output tanh(W_o [h_t; c_t; y_{t-1}]).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from nmt_cli.accel.ops import encoder_lstm, shared_states, to_autocast_dtype
from nmt_cli.config import ARCH_DEFAULTS, DEFAULT_ATTENTION, PAD_ID, AttentionChoice, ModelConfig
from nmt_cli.errors import NMTError
from nmt_cli.models.attention import LocalPredictor, Scorer, local_attend, make_scorer
from nmt_cli.models.dropout import Dropout


@dataclass
class RNNMemory:
    """Encoder output for a batch, with the attention keys projected once."""

    states: Tensor  # (N, S, H)
    keys: Tensor  # (N, S, A)
    mask: Tensor  # (N, S) True on real tokens
    final: tuple[Tensor, Tensor]  # bridged (h, c), each (L, N, H)

    def summing_gradients(self, scorer: Scorer) -> RNNMemory:
        """The same memory for teacher-forced training, where every decoder step reads it: the
        gradients of its states and, where `scorer` can, of its keys made once for all steps
        (accel/ops.py)."""
        return replace(self, states=shared_states(self.states), keys=scorer.share_keys(self.keys))

    def select(self, idx: Tensor) -> RNNMemory:
        """Rows `idx` of every tensor: reorders beams or drops finished rows."""
        return RNNMemory(
            self.states[idx],
            self.keys[idx],
            self.mask[idx],
            (self.final[0][:, idx], self.final[1][:, idx]),
        )

    def repeat(self, k: int) -> RNNMemory:
        """Each sentence's rows k times in a row, one for each beam."""
        return self.select(torch.arange(self.mask.size(0), device=self.mask.device).repeat_interleave(k))


@dataclass
class RNNState:
    """Decoder recurrent state between steps."""

    h: Tensor  # (L, N, H)
    c: Tensor  # (L, N, H)
    feed: Tensor  # (N, O) the attentional vector fed back (luong); (N, 0) for bahdanau
    step: Tensor  # () target position t, for local-m attention

    def select(self, idx: Tensor) -> RNNState:
        return RNNState(self.h[:, idx], self.c[:, idx], self.feed[idx], self.step)


class BiLSTMEncoder(nn.Module):
    def __init__(self, embed: nn.Embedding, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.hidden_dim % 2:
            raise ValueError("hidden_dim must be even: each encoder direction has hidden_dim/2 units")
        self.embed = embed
        self.dropout = Dropout(cfg.dropout)
        self.lstm = nn.LSTM(
            cfg.embed_dim,
            cfg.hidden_dim // 2,
            num_layers=cfg.layers,
            bidirectional=True,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.bridge_h = nn.Linear(cfg.hidden_dim, cfg.hidden_dim)
        self.bridge_c = nn.Linear(cfg.hidden_dim, cfg.hidden_dim)

    def forward(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Returns states (B, S, H) and the bridged initial decoder state, each (L, B, H)."""
        x = self.dropout(self.embed(src))
        states, h_n, c_n = encoder_lstm(self.lstm, x, src_mask, self.dropout)  # padding left out
        layers, batch = self.lstm.num_layers, src.size(0)

        def join(s: Tensor) -> Tensor:
            # (L*2, B, H/2) -> (L, B, H): forward and backward final states side by side
            s = s.view(layers, 2, batch, -1)
            return torch.cat([s[:, 0], s[:, 1]], dim=-1)

        h0 = torch.tanh(self.bridge_h(join(h_n)))
        c0 = torch.tanh(self.bridge_c(join(c_n)))
        return states, (h0, c0)


class AttentionalDecoder(nn.Module):
    """One LSTM decoder step with attention, in Luong's or Bahdanau's arrangement."""

    def __init__(self, cfg: ModelConfig, out_dim: int) -> None:
        super().__init__()
        self.kind = cfg.decoder
        self.span = cfg.attention_span
        self.window = cfg.window
        H, E = cfg.hidden_dim, cfg.embed_dim
        self.feed_dim = out_dim if self.kind == "luong" else 0
        input_dim = E + (out_dim if self.kind == "luong" else H)
        self.cells = nn.ModuleList([nn.LSTMCell(input_dim if i == 0 else H, H) for i in range(cfg.layers)])
        self.dropout = Dropout(cfg.dropout)
        self.scorer: Scorer = make_scorer(cfg.attention, H, H)
        self.predictor = LocalPredictor(H) if self.span == "local-p" else None
        combined = 2 * H if self.kind == "luong" else 2 * H + E
        self.combine = nn.Linear(combined, out_dim, bias=False)

    def _attend(self, query: Tensor, memory: RNNMemory, step: Tensor) -> tuple[Tensor, Tensor]:
        energies = self.scorer(query, memory.keys)
        centre = self.predictor(query, memory.mask.sum(1)) if self.predictor is not None else None
        states, mask = memory.states, memory.mask
        return local_attend(energies, states, mask, self.span, self.window, step, centre)

    def _recur(self, x: Tensor, state: RNNState) -> tuple[Tensor, Tensor]:
        hs, cs = [], []
        for i, cell in enumerate(self.cells):
            h, c = cell(x, (state.h[i], state.c[i]))
            hs.append(h)
            cs.append(c)
            x = self.dropout(h)
        return torch.stack(hs), torch.stack(cs)

    def forward(self, emb: Tensor, memory: RNNMemory, state: RNNState) -> tuple[Tensor, RNNState, Tensor]:
        """emb (N, E) of y_{t-1} -> output vector (N, O), new state, attention (N, S)."""
        if self.kind == "luong":
            h, c = self._recur(torch.cat([emb, state.feed], dim=-1), state)
            context, attn = self._attend(h[-1], memory, state.step)
            out = torch.tanh(self.combine(torch.cat([context, h[-1]], dim=-1)))
            feed = out
        else:
            context, attn = self._attend(state.h[-1], memory, state.step)
            h, c = self._recur(torch.cat([emb, context], dim=-1), state)
            out = torch.tanh(self.combine(torch.cat([h[-1], context, emb], dim=-1)))
            feed = state.feed
        return out, RNNState(h, c, feed, state.step + 1), attn


class RNNSeq2Seq(nn.Module):
    """BiLSTM encoder + attentional LSTM decoder behind the Seq2Seq interface of seq2seq.py."""

    decode_budget = ARCH_DEFAULTS["rnn"].decode_batch_tokens
    adam_betas = ARCH_DEFAULTS["rnn"].adam_betas

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        V, E = cfg.vocab_size, cfg.embed_dim
        self.src_embed = nn.Embedding(cfg.src_vocab_size, E, padding_idx=PAD_ID)
        # A joint vocabulary lets source and target share embeddings when tying.
        shared = cfg.tie_embeddings and cfg.joint_vocab
        self.tgt_embed = self.src_embed if shared else nn.Embedding(V, E, padding_idx=PAD_ID)
        # Tying the output layer needs its input to be embed_dim wide.
        out_dim = E if cfg.tie_embeddings else cfg.hidden_dim
        self.encoder = BiLSTMEncoder(self.src_embed, cfg)
        self.decoder = AttentionalDecoder(cfg, out_dim)
        self.dropout = Dropout(cfg.dropout)
        self.output = nn.Linear(out_dim, V, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tgt_embed.weight

    def encode(self, src: Tensor, src_mask: Tensor) -> RNNMemory:
        states, final = self.encoder(src, src_mask)
        # every decoder step reads the states: cast once under autocast, not at each step
        states = to_autocast_dtype(states)
        return RNNMemory(states, self.decoder.scorer.project_keys(states), src_mask, final)

    def init_state(self, memory: RNNMemory) -> RNNState:
        h, c = memory.final
        feed = h.new_zeros(h.size(1), self.decoder.feed_dim)
        return RNNState(h, c, feed, torch.zeros((), dtype=torch.long, device=h.device))

    def check_attention(self, choice: AttentionChoice) -> None:
        """An RNN has one attention: there is no layer or head to choose."""
        if choice.layer is not None or choice.head is not None:
            raise NMTError("--layer and --head apply to Transformer models only")

    def decode_step(
        self,
        prev: Tensor,
        memory: RNNMemory,
        state: RNNState,
        attention: AttentionChoice = DEFAULT_ATTENTION,
    ) -> tuple[Tensor, RNNState, Tensor]:
        """prev (N,) -> logits (N, V), next state, attention (N, S) of this step."""
        out, state, attn = self.decoder(self.dropout(self.tgt_embed(prev)), memory, state)
        return self.output(self.dropout(out)), state, attn

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor,
        tgt_in: Tensor,
        need_attention: bool = False,
        attention: AttentionChoice = DEFAULT_ATTENTION,
        project: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits (B, T, V), or with `project=False` the output layer's input
        features (B, T, O); and attention (B, T, S), which costs nothing extra here."""
        memory = self.encode(src, src_mask)
        if torch.is_grad_enabled() and memory.states.requires_grad:
            memory = memory.summing_gradients(self.decoder.scorer)
        state = self.init_state(memory)
        emb = to_autocast_dtype(self.dropout(self.tgt_embed(tgt_in)))  # (B, T, E)
        outs, attns = [], []
        # unbind: one backward copy for all steps, where emb[:, t] would zero-fill a (B, T, E)
        # gradient at every step
        for emb_t in emb.unbind(1):
            out, state, attn = self.decoder(emb_t, memory, state)
            outs.append(out)
            attns.append(attn)
        # One large output projection for all steps instead of T small ones.
        features = self.dropout(torch.stack(outs, dim=1))
        return self.output(features) if project else features, torch.stack(attns, dim=1)
