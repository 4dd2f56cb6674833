"""LoRA adapters on advisor/benchmarks/gpt.py's GPT: frozen base, trainable low-rank adapters.

Plain torch (Hu et al. 2021, §4.1): a targeted linear layer computes
y = x·Wᵀ + (x·Aᵀ)·Bᵀ·alpha/r with W (and its bias) frozen, A (r x d_in) and
B (d_out x r) trained, B initialised to zero. GPT's fused c_attn holds Q, K and V;
each of them gets its own A and B on its third of the output, so the adapters
are those advisor counts for separate q, k, v matrices (advisor/finetune/params.py).
Every other parameter (embeddings, norms, biases) is frozen, as PEFT does with
`bias="none"`.

With `impl="peft"` (only where the `peft` package is installed: it is not a
dependency) PEFT's LoraConfig wraps the same modules; it adapts the fused c_attn as
one matrix, so its adapter count differs from advisor's q,k,v (the row says which).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from advisor.benchmarks.results import LoraRequest

# advisor's target name -> (module path inside a Block, slice of the fused output)
BLOCK_TARGETS: dict[str, tuple[str, int | None]] = {
    "q": ("attn.c_attn", 0),
    "k": ("attn.c_attn", 1),
    "v": ("attn.c_attn", 2),
    "o": ("attn.c_proj", None),
    "up": ("mlp.c_fc", None),
    "down": ("mlp.c_proj", None),
}


def peft_available() -> bool:
    try:
        import peft  # noqa: F401
    except ImportError:
        return False
    return True


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus adapters on some of its `parts` equal output slices."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, slices: list[int], parts: int):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.width = base.out_features // parts
        self.parts = parts
        self.scale = alpha / rank
        self.slices = sorted(slices)
        self.lora_a = nn.ParameterList(
            nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
            for _ in self.slices
        )
        self.lora_b = nn.ParameterList(
            nn.Parameter(torch.zeros(self.width, rank, device=base.weight.device))
            for _ in self.slices
        )
        for a in self.lora_a:  # PEFT's init: kaiming-uniform A, zero B
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))

    def _delta(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return F.linear(F.linear(x, self.lora_a[i]), self.lora_b[i]) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.parts == 1:
            return y + self._delta(x, 0)
        pieces = list(y.split(self.width, dim=-1))
        for i, s in enumerate(self.slices):
            pieces[s] = pieces[s] + self._delta(x, i)
        return torch.cat(pieces, dim=-1)


def _get(module: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        module = getattr(module, part)
    return module


def _set(module: nn.Module, path: str, new: nn.Module) -> None:
    *parents, last = path.split(".")
    for part in parents:
        module = getattr(module, part)
    setattr(module, last, new)


def apply_torch_lora(model: nn.Module, lora: LoraRequest) -> nn.Module:
    """Freeze `model` and wrap the targeted linear layers of every block in LoRALinear."""
    model.requires_grad_(False)
    by_module: dict[str, list[int | None]] = {}
    for t in lora.targets:
        if t in BLOCK_TARGETS:  # 'gate': a GELU MLP has none
            path, part = BLOCK_TARGETS[t]
            by_module.setdefault(path, []).append(part)
    for block in model.blocks:  # type: ignore[attr-defined]
        for path, parts in by_module.items():
            base = _get(block, path)
            fused = parts[0] is not None
            slices = [p for p in parts if p is not None] if fused else [0]
            wrapped = LoRALinear(base, lora.rank, lora.alpha, slices, 3 if fused else 1)
            _set(block, path, wrapped)
    return model


def apply_peft_lora(model: nn.Module, lora: LoraRequest) -> nn.Module:
    """PEFT's LoRA on the same modules (the fused c_attn as one matrix)."""
    from peft import LoraConfig, get_peft_model

    names = sorted({BLOCK_TARGETS[t][0] for t in lora.targets if t in BLOCK_TARGETS})
    cfg = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, target_modules=names, bias="none")
    return get_peft_model(model, cfg)  # type: ignore[no-any-return]


def apply_lora(model: nn.Module, lora: LoraRequest) -> tuple[nn.Module, str]:
    """(model with adapters, the implementation used: 'peft' or 'torch')."""
    impl = lora.impl
    if impl == "auto":
        impl = "peft" if peft_available() else "torch"
    if impl == "peft":
        return apply_peft_lora(model, lora), "peft"
    return apply_torch_lora(model, lora), "torch"


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
