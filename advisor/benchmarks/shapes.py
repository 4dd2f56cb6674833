"""GPT shapes the single-device training benchmarks share, by device and suite size
(no torch: a benchmark's shape is known before it runs)."""

from __future__ import annotations

from typing import Any

from advisor.benchmarks.results import GPTShape


def training_gpt_shape(ctx: Any, name: str) -> GPTShape:
    """The GPT that the mixed-precision and LoRA step benchmarks train: GPT-2 small's
    width (12 or 6 layers) on CUDA, a few narrow layers elsewhere."""
    if ctx.device == "cuda":
        return ctx.size(  # type: ignore[no-any-return]
            full=GPTShape(
                name=name, layers=12, hidden=768, heads=12, vocab=32768, seq_len=1024, batch=8
            ),
            quick=GPTShape(
                name=name, layers=6, hidden=768, heads=12, vocab=32768, seq_len=1024, batch=8
            ),
            tiny=GPTShape(name="gpt-tiny", layers=1, hidden=32, heads=2, vocab=64, seq_len=16),
        )
    return ctx.size(  # type: ignore[no-any-return]
        full=GPTShape(name=name, layers=4, hidden=384, heads=6, vocab=4096, seq_len=256, batch=4),
        quick=GPTShape(name=name, layers=2, hidden=256, heads=4, vocab=2048, seq_len=128, batch=4),
        tiny=GPTShape(name="gpt-tiny", layers=1, hidden=32, heads=2, vocab=64, seq_len=16),
    )
