"""Generation on the small GPT (advisor/benchmarks/gpt.py) with a KV cache: the prompt in one
forward pass (prefill), then one token per sequence per step (decode), as a serving
engine runs them. Plain torch; the model's own weights, a contiguous cache."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advisor.benchmarks.gpt import GPT


def _attend(block, x: torch.Tensor, cache: list[torch.Tensor] | None, causal: bool):  # type: ignore[no-untyped-def]
    attn = block.attn
    b, s, h = x.shape
    hd = attn.head_dim
    q, k, v = attn.c_attn(x).split(h, dim=2)
    q, k, v = (t.view(b, s, h // hd, hd).transpose(1, 2) for t in (q, k, v))
    if cache is not None:
        k = torch.cat([cache[0], k], dim=2)
        v = torch.cat([cache[1], v], dim=2)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return attn.c_proj(y.transpose(1, 2).contiguous().view(b, s, h)), [k, v]


@torch.inference_mode()
def forward_cached(
    model: GPT, idx: torch.Tensor, caches: list[list[torch.Tensor]] | None, start: int
) -> tuple[torch.Tensor, list[list[torch.Tensor]]]:
    """Logits of the last position and the grown caches; `start` is the first position."""
    pos = torch.arange(start, start + idx.shape[1], device=idx.device) % model.shape.seq_len
    x = model.embed.wte(idx) + model.embed.wpe(pos)
    new = []
    for i, block in enumerate(model.blocks):
        a, kv = _attend(block, block.ln_1(x), caches[i] if caches else None, caches is None)
        x = x + a
        x = x + block.mlp(block.ln_2(x))
        new.append(kv)
    return model.head(x[:, -1:, :]), new


def prefill(model: GPT, prompt: torch.Tensor) -> tuple[torch.Tensor, list[list[torch.Tensor]]]:
    return forward_cached(model, prompt, None, 0)


def decode_step(
    model: GPT, token: torch.Tensor, caches: list[list[torch.Tensor]], position: int
) -> torch.Tensor:
    """One new token per sequence against the cache (the cache is not kept: each timed
    step sees the same context)."""
    logits, _ = forward_cached(model, token, caches, position)
    return logits
