"""Llama-style decoder-only language model used by neo.

RMSNorm, rotary position embeddings (RoPE), SwiGLU feed-forward and
grouped-query attention (n_kv_heads <= n_heads), with tied or untied input
and output embeddings.

The forward pass follows the Hugging Face optimum KV-cache convention that
neo's Go runtime (package onnx) loads:

    forward(input_ids [B,S], attention_mask [B,P+S], position_ids [B,S],
            past [(key [B,Hkv,P,D], value [B,Hkv,P,D]) per layer])
      -> logits [B,S,V], present [(key [B,Hkv,P+S,D], value ...) per layer]

It is written so that torch.onnx.export traces one graph that is valid for
every B, S and P (including P == 0): no Python control flow depends on tensor
values or on P, shapes are taken from tensors, and masking uses a single
finite fill value so that fully masked (padding) rows give no NaN.
"""

import math
from dataclasses import asdict, dataclass

from torchenv import torch
import torch.nn as nn
import torch.nn.functional as F

# Fill value for disallowed attention scores. Finite on purpose: a query row
# whose keys are all masked (a left-padding position) then softmaxes to a
# uniform distribution instead of NaN, and NaN in a padding slot's cache
# entry would leak into later steps through 0 * NaN.
MASK_VALUE = -1e9


@dataclass
class ModelConfig:
    vocab: int
    dim: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 384
    max_seq: int = 256
    rope_theta: float = 10000.0
    tied: bool = True
    norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.dim // self.heads

    def validate(self):
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} not divisible by heads {self.heads}")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} not divisible by kv_heads {self.kv_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for RoPE")
        return self

    def to_json(self):
        d = asdict(self)
        d["head_dim"] = self.head_dim
        return d

    @staticmethod
    def from_json(d):
        keys = ModelConfig.__dataclass_fields__.keys()
        return ModelConfig(**{k: v for k, v in d.items() if k in keys}).validate()


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def train_dropout(module, x):
    """Dropout with module.dropout while module is training. A Python-level
    test, not F.dropout(p=0): the ONNX trace (eval mode) and dropout-free
    training (no random numbers drawn) stay exactly as they were."""
    return F.dropout(x, module.dropout, True) if module.training and module.dropout > 0 else x


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.h, self.hkv, self.d = cfg.heads, cfg.kv_heads, cfg.head_dim
        self.rep = cfg.heads // cfg.kv_heads
        self.wq = nn.Linear(cfg.dim, self.h * self.d, bias=False)
        self.wk = nn.Linear(cfg.dim, self.hkv * self.d, bias=False)
        self.wv = nn.Linear(cfg.dim, self.hkv * self.d, bias=False)
        self.wo = nn.Linear(self.h * self.d, cfg.dim, bias=False)
        self.scale = 1.0 / math.sqrt(self.d)

    def forward(self, x, cos, sin, allowed, past_k, past_v):
        # -1 instead of B and S keeps the traced graph free of baked-in sizes.
        b = x.shape[0]
        q = self.wq(x).view(b, -1, self.h, self.d).transpose(1, 2)
        k = self.wk(x).view(b, -1, self.hkv, self.d).transpose(1, 2)
        v = self.wv(x).view(b, -1, self.hkv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([past_k, k], dim=2)  # [B,Hkv,P+S,D]
        v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        if self.rep > 1:
            # Grouped-query attention: query head i uses kv head i // rep.
            k = k.unsqueeze(2).expand(-1, -1, self.rep, -1, -1).flatten(1, 2)
            v = v.unsqueeze(2).expand(-1, -1, self.rep, -1, -1).flatten(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # [B,H,S,P+S]
        scores = scores.masked_fill(~allowed, MASK_VALUE)
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, -1, self.h * self.d)
        return self.wo(out), present


class FeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg):
        super().__init__()
        self.gate = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.up = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.down = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = FeedForward(cfg)
        self.dropout = 0.0  # training only; see Decoder.set_dropout

    def forward(self, x, cos, sin, allowed, past_k, past_v):
        a, present = self.attn(self.attn_norm(x), cos, sin, allowed, past_k, past_v)
        x = x + train_dropout(self, a)
        x = x + train_dropout(self, self.ffn(self.ffn_norm(x)))
        return x, present


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.layers)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = None if cfg.tied else nn.Linear(cfg.dim, cfg.vocab, bias=False)
        d = cfg.head_dim
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.dropout = 0.0
        self.apply(self._init)
        # Scaled init of residual projections (GPT-2 style) keeps early
        # training stable for deeper stacks.
        for blk in self.blocks:
            nn.init.normal_(blk.attn.wo.weight, std=0.02 / math.sqrt(2 * cfg.layers))
            nn.init.normal_(blk.ffn.down.weight, std=0.02 / math.sqrt(2 * cfg.layers))

    def set_dropout(self, p):
        """Dropout probability for training (embedding output and both
        residual branches of every block). Not the attention weights: with
        their [B,H,S,S] masks too, a MovieLens instruct step on 2 CPU cores
        took about 0.54 s instead of 0.40 (0.39 with residual dropout
        only). It is not part of ModelConfig: it changes nothing at
        inference, so the exported graph and neo.json's model section are
        the same for every p."""
        if not 0 <= p < 1:
            raise ValueError(f"dropout {p}: want 0 <= p < 1")
        self.dropout = p
        for blk in self.blocks:
            blk.dropout = p

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def output_weight(self):
        """The [V, dim] matrix that produces logits (the embedding when tied)."""
        return self.embed.weight if self.lm_head is None else self.lm_head.weight

    def empty_past(self, batch, device=None):
        c = self.cfg
        z = torch.zeros(batch, c.kv_heads, 0, c.head_dim, device=device)
        return [(z, z) for _ in range(c.layers)]

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """Returns (logits [B,S,V], present list of (key, value))."""
        h, present = self.hidden(input_ids, attention_mask, position_ids, past)
        return F.linear(h, self.output_weight()), present

    def hidden(self, input_ids, attention_mask, position_ids, past=None):
        """The final normed hidden states [B,S,dim] and the present cache.
        Training projects only the loss positions to the vocabulary."""
        if past is None:
            past = self.empty_past(input_ids.shape[0], input_ids.device)
        x = train_dropout(self, self.embed(input_ids))

        # RoPE tables from explicit per-row positions (left padding safe).
        freqs = position_ids.unsqueeze(-1).float() * self.inv_freq  # [B,S,D/2]
        emb = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)  # [B,1,S,D]
        cos, sin = emb.cos(), emb.sin()

        # allowed[b,0,i,j]: query i (absolute slot P+i) may see key slot j.
        s = input_ids.shape[1]
        t = attention_mask.shape[1]
        key_slot = torch.arange(t, device=input_ids.device)
        query_slot = key_slot[t - s:]
        causal = key_slot.unsqueeze(0) <= query_slot.unsqueeze(1)  # [S,T]
        allowed = causal.unsqueeze(0).unsqueeze(0) & (attention_mask > 0).unsqueeze(1).unsqueeze(2)

        present = []
        for blk, (pk, pv) in zip(self.blocks, past):
            x, kv = blk(x, cos, sin, allowed, pk, pv)
            present.append(kv)
        return self.norm(x), present


class OnnxWrapper(nn.Module):
    """Flattens past/present into positional tensors for torch.onnx.export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, present = self.model(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in present:
            out += [k, v]
        return tuple(out)


def count_params(model):
    return sum(p.numel() for p in model.parameters())
