"""A small GPT in plain torch, after nanoGPT (Karpathy, github karpathy/nanoGPT model.py).

Learned token and position embeddings, pre-norm blocks (LayerNorm with bias,
causal self-attention through `scaled_dot_product_attention`, a 4h GELU MLP),
a final LayerNorm and an output layer tied to the token embedding. Every
linear layer has a bias except the tied output layer; there is no dropout. In
advisor's terms: `ModelSpec(mlp="gelu", norm="layernorm", linear_bias=True,
position="learned", tied_embeddings=True, dropout=False)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from advisor.benchmarks.results import GPTShape


class SelfAttention(nn.Module):
    """Causal self-attention. Widths are read from the QKV output, so a tensor-parallel
    shard holding whole heads of Q, K and V (advisor/benchmarks/tensor_parallel.py) runs as is."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.head_dim = hidden // heads
        self.c_attn = nn.Linear(hidden, 3 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        qkv = self.c_attn(x)
        width = qkv.shape[-1] // 3
        shape = (b, s, width // self.head_dim, self.head_dim)
        q, k, v = (t.view(shape).transpose(1, 2) for t in qkv.split(width, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, s, width))


class MLP(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(hidden, 4 * hidden)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = SelfAttention(hidden, heads)
        self.ln_2 = nn.LayerNorm(hidden)
        self.mlp = MLP(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Embed(nn.Module):
    """Token plus learned position embedding."""

    def __init__(self, vocab: int, seq_len: int, hidden: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(seq_len, hidden)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        return self.wte(idx) + self.wpe(pos)


class Head(nn.Module):
    """Final LayerNorm and the output projection; `weight` is tied to wte by GPT."""

    def __init__(self, vocab: int, hidden: int) -> None:
        super().__init__()
        self.ln_f = nn.LayerNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.ln_f(x))


class GPT(nn.Module):
    def __init__(self, shape: GPTShape) -> None:
        super().__init__()
        if shape.hidden % shape.heads:
            raise ValueError(f"hidden {shape.hidden} is not divisible by heads {shape.heads}")
        self.shape = shape
        self.embed = Embed(shape.vocab, shape.seq_len, shape.hidden)
        self.blocks = nn.ModuleList(Block(shape.hidden, shape.heads) for _ in range(shape.layers))
        self.head = Head(shape.vocab, shape.hidden)
        self.head.lm_head.weight = self.embed.wte.weight  # weight tying (nanoGPT)
        self.apply(_init)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2 scaled init of residual projections
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * shape.layers))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        logits = self.head(x)
        if targets is None:
            return logits
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, 0.02)


def param_count(model: nn.Module) -> int:
    """Unique parameters (the tied output layer counted once)."""
    return sum(p.numel() for p in model.parameters())


def batch(shape: GPTShape, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens and next-token targets for one micro-batch."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, shape.vocab, (shape.batch, shape.seq_len + 1), generator=g)
    tokens = tokens.to(device)
    return tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
