"""Fine-tuning: full, LoRA and QLoRA over the same plan search as pretraining.

Public API (what other modules and the CLI call):
- `FinetuneSpec` (spec.py): method, LoRA rank and targets, base quantization.
- `trainable_params(spec, ft)` (params.py): LoRA parameters, exact from the shape.
- `finetune_memory(spec, plans, training, ft)` (memory.py): bytes per device by part.
- `finetune_time(...)` (time.py): the step time of a frozen base with adapters.
- `check_quant_support(accelerator, ft)` (spec.py): refuses quantized bases where the
  kernels do not run.
`advisor.search.score(..., finetune=ft)` and `advisor.estimate.estimate(..., finetune=ft)`
route through these; `finetune=None` or method 'full' is pretraining's model unchanged.
"""

from advisor.finetune.spec import FinetuneSpec, check_quant_support, parse_targets

__all__ = ["FinetuneSpec", "check_quant_support", "parse_targets"]
