"""One training step of the small GPT, as users write it: forward, backward, AdamW.

Mixed precision follows the PyTorch AMP recipe (torch.amp docs, "Automatic Mixed
Precision examples"): fp32 weights, the forward under `torch.autocast`, and for
fp16 a `torch.amp.GradScaler` that scales the loss and unscales before the step.
"""

from __future__ import annotations

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16-autocast", "fp16-autocast")
AUTOCAST_DTYPE = {"bf16-autocast": torch.bfloat16, "fp16-autocast": torch.float16}


def autocast_supported(device: str, precision: str) -> bool:
    """Whether this device runs `precision` under autocast (fp32 always runs)."""
    if precision == "fp32":
        return True
    dtype = AUTOCAST_DTYPE[precision]
    if device == "cuda":
        return dtype != torch.bfloat16 or torch.cuda.is_bf16_supported()
    if device == "cpu":
        if dtype == torch.bfloat16:
            return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)())
        return True
    return device == "mps" and dtype == torch.float16


class TrainStep:
    """Callable running one full step; `loss()` reads the last loss (syncs the device)."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        precision: str,
        device: str,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{precision}'")
        self.model, self.x, self.y, self.device = model, x, y, device
        self.opt = optimizer or torch.optim.AdamW(model.parameters(), lr=1e-3)
        self.dtype = AUTOCAST_DTYPE.get(precision)
        self.scaler = torch.amp.GradScaler(device) if precision == "fp16-autocast" else None
        self._last: torch.Tensor | None = None

    def forward(self) -> torch.Tensor:
        if self.dtype is None:
            return self.model(self.x, self.y)  # type: ignore[no-any-return]
        with torch.autocast(device_type=self.device, dtype=self.dtype):
            return self.model(self.x, self.y)  # type: ignore[no-any-return]

    def __call__(self) -> None:
        loss = self.forward()
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self._last = loss.detach()

    def loss(self) -> float:
        if self._last is None:
            self()
        assert self._last is not None
        return float(self._last)
