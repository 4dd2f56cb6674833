"""Reading the free-text cells of the published fine-tuning rows
(advisor/data/finetune_runs.csv): method, LoRA targets, quantization, precision,
optimizer and activation checkpointing as the sources print them, into the names the
model uses (advisor/model/spec.py). Pure functions of one cell each.
"""

from __future__ import annotations

import re
from typing import Literal

from advisor.model.spec import Optimizer, Precision, Recompute

Method = Literal["full", "lora", "qlora"]
Quant = Literal["none", "int8", "nf4", "gptq-int4"]
LORA_MATRICES = ("q", "k", "v", "o", "gate", "up", "down")


def num(v: str | None) -> float | None:
    m = re.match(r"\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)", v or "")
    return float(m.group(1)) if m else None


def lead_int(v: str | None) -> int | None:
    """The leading integer of a cell ('2048 (max_length; ...)' -> 2048)."""
    m = re.match(r"\s*(\d+)\b(?!\.\d)", v or "")
    return int(m.group(1)) if m else None


def parse_method(text: str) -> Method | None:
    t = (text or "").lower()
    if t.startswith("qlora"):
        return "qlora"
    if t.startswith("lora") and not t.startswith("lora/qlora"):
        return "lora"
    if t.startswith("full"):
        return "full"  # incl. DeepSpeed-Chat step 1 (supervised, all parameters)
    return None  # adapter, RLHF, "LoRA/QLoRA" or a baseline whose method is not stated


def parse_lora_targets(text: str) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """The adapted matrices among q,k,v,o,gate,up,down, and any beyond them.

    Reads the spellings the sources print: q_proj / query / W_q, output_proj / o_proj,
    fused qkv_proj, 'MLP' (gate, up, down), 'all linear'. None when the text names no
    matrix (a framework default, a trainable count only)."""
    t = (text or "").lower()
    found: set[str] = set()
    if "all linear" in t:
        found.update(LORA_MATRICES)
    if "qkv" in t or "c_attn" in t:  # fused Q, K, V (Qwen's c_attn)
        found.update(("q", "k", "v"))
    for name, pat in (
        ("q", r"\b(?:w_)?q(?:_proj)?\b|\bquery\b"),
        ("k", r"\b(?:w_)?k(?:_proj)?\b|\bkey\b"),
        ("v", r"\b(?:w_)?v(?:_proj)?\b|\bvalue\b"),
        ("o", r"\bo(?:utput)?_proj\b|\bw_o\b|\+ o\b"),
    ):
        if re.search(pat, t):
            found.add(name)
    if re.search(r"\bmlp\b", t):
        found.update(("gate", "up", "down"))
    for name in ("gate", "up", "down"):
        if re.search(rf"\b{name}_proj\b", t):
            found.add(name)
    extra = ("output",) if "output head" in t else ()
    if not found:
        return None, extra
    return tuple(m for m in LORA_MATRICES if m in found), extra


def fused_qkv(text: str) -> bool:
    """The source adapts one fused QKV projection (NeMo/MLPerf qkv_proj, Qwen c_attn):
    one adapter of r·(h + q + 2·kv), not three."""
    t = (text or "").lower()
    return "qkv" in t or "c_attn" in t


def parse_quant(text: str, method: Method | None) -> tuple[Quant | None, bool | None]:
    """Base-weight storage and double quantization (None where not stated)."""
    t = (text or "").lower()
    dq: bool | None = None
    if "nf4" in t or "bnb" in t or "4-bit" in t:
        if "dq" in t or "double quant" in t:
            dq = True
        elif t.startswith("bnb.nf4"):
            dq = False  # litgpt names its double-quantized variant apart (bnb.nf4-dq)
        # bitsandbytes stores 4-bit values with one absmax per 64-block whether the
        # code book is NF4 or FP4 (functional.quantize_4bit): storage reads as NF4.
        return "nf4", dq
    if "gptq" in t or ("int4" in t and "q-lora" in t):
        return "gptq-int4", None
    if "int8" in t:
        return "int8", None
    if t.startswith("none"):
        return "none", None
    if method in ("full", "lora"):
        return "none", None
    return None, None


def parse_precision(text: str) -> Precision | None:
    """Compute precision; None where the row does not state it."""
    t = (text or "").lower()
    if "not stated" in t or "not verified" in t:
        return None
    if "fp8" in t:
        return "fp8"
    if "bf16" in t:
        return "bf16"
    if t.startswith(("16-bit", "fp16")):
        return "fp16"
    return None


def parse_optimizer(text: str) -> tuple[Optimizer | None, bool, bool]:
    """(optimizer, paged, fused into backward) from the printed text.

    Adam and AdamW hold the same two moments; bitsandbytes' PagedAdamW is the 32-bit
    AdamW with paged state (PagedAdamW8bit would say 8-bit)."""
    t = re.sub(r"\(no [^)]*\)", "", (text or "").lower())  # "(no optimizer_in_bwd / 8-bit)"
    if not t.strip() or "not stated" in t:
        return None, False, False
    paged = "paged" in t
    in_bwd = "fused into backward" in t or "optimizer_in_bwd=true" in t
    if "8-bit" in t or "8bit" in t:
        return "adam8bit", paged, in_bwd
    if "adam" in t:
        return "adamw", paged, in_bwd
    return None, paged, in_bwd


def parse_recompute(text: str) -> tuple[Recompute | None, bool]:
    """(activation checkpointing, activation offloading); None where not stated."""
    t = (text or "").lower()
    offload = "activation offloading" in t
    if t.startswith(("true", "config default (true")):
        return "full", offload
    if t.startswith(("false", "none")):
        return "none", offload
    return None, offload
