"""What a fine-tuning run trains: the method, the LoRA adapters and the base's storage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from advisor.errors import UsageError, nearest

Method = Literal["full", "lora", "qlora"]
Quant = Literal["none", "int8", "nf4"]
METHODS: tuple[str, ...] = ("full", "lora", "qlora")
QUANTS: tuple[str, ...] = ("none", "int8", "nf4")
# The linear layers of a block LoRA can adapt (PEFT/torchtune names: q_proj ... down_proj).
TARGETS: tuple[str, ...] = ("q", "k", "v", "o", "gate", "up", "down")
TARGET_ALIASES: dict[str, tuple[str, ...]] = {
    "attn": ("q", "k", "v", "o"),
    "mlp": ("gate", "up", "down"),
    "all": TARGETS,
}
# Vendors whose parts run bitsandbytes' int8/NF4 kernels. An assumption, not a sourced
# figure: the notes cite bitsandbytes' CUDA code (functional.py quantize_4bit); its
# other backends (ROCm, XPU, CPU, Gaudi) are not sourced here, so other parts refuse.
QUANT_VENDORS: tuple[str, ...] = ("NVIDIA",)


def parse_targets(text: str | list[str] | tuple[str, ...] | set[str]) -> frozenset[str]:
    """A comma list of q,k,v,o,gate,up,down or the aliases attn, mlp, all."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: set[str] = set()
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        if name in TARGET_ALIASES:
            out |= set(TARGET_ALIASES[name])
        elif name in TARGETS:
            out.add(name)
        else:
            choices = (*TARGETS, *TARGET_ALIASES)
            hint = nearest(name, choices)
            tail = f"; did you mean '{hint}'?" if hint else ""
            raise UsageError(
                f"unknown LoRA target '{raw.strip()}'{tail} (choose from {', '.join(choices)})"
            )
    if not out:
        raise UsageError("--lora-targets names no layer; give e.g. q,v or all")
    return frozenset(out)


class FinetuneSpec(BaseModel):
    """Fine-tuning method. `quant` defaults to nf4 for qlora and none otherwise; double
    quantization defaults on for NF4 (the QLoRA recipe, `bnb_4bit_use_double_quant`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = "full"
    lora_rank: int = Field(default=16, description="LoRA rank r (>= 1).")
    lora_targets: frozenset[str] = Field(default=frozenset(TARGETS))
    quant: Quant | None = Field(default=None, description="Storage of the frozen base.")
    double_quant: bool | None = Field(default=None, description="NF4 double quantization.")
    paged_optimizer: bool = Field(
        default=False, description="bitsandbytes paged optimizer: same bytes on the device."
    )

    @field_validator("lora_rank")
    @classmethod
    def _rank(cls, r: int) -> int:
        if r < 1:
            raise ValueError(f"--lora-rank must be at least 1, got {r}")
        return r

    @field_validator("lora_targets", mode="before")
    @classmethod
    def _targets(cls, v: Any) -> frozenset[str]:
        try:
            return parse_targets(v)
        except UsageError as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneSpec:
        q = self.quant
        if self.method == "full" and q not in (None, "none"):
            raise ValueError(
                f"--quant {q} with --method full: a quantized base cannot be trained in full; "
                f"did you mean --method qlora (frozen {q} base, trained adapters)?"
            )
        if self.method == "qlora" and q not in (None, "nf4", "int8"):
            raise ValueError(
                "--method qlora quantizes the base (nf4); for a 16-bit base use --method lora"
            )
        if q is None:
            object.__setattr__(self, "quant", "nf4" if self.method == "qlora" else "none")
        if self.double_quant is None:
            object.__setattr__(self, "double_quant", self.method == "qlora")
        return self

    @property
    def adapters(self) -> bool:
        """LoRA or QLoRA: the base is frozen and only adapters train."""
        return self.method != "full"

    @property
    def quantized(self) -> bool:
        return self.quant in ("int8", "nf4")

    def describe(self) -> str:
        if not self.adapters:
            return "full fine-tuning (every parameter trained)"
        base = {"none": "16-bit", "int8": "int8", "nf4": "NF4"}[self.quant or "none"]
        dq = " with double quantization" if self.quant == "nf4" and self.double_quant else ""
        targets = ",".join(t for t in TARGETS if t in self.lora_targets)
        return f"{self.method}: rank {self.lora_rank} on {targets}, frozen {base} base{dq}"


def make_finetune(**fields: Any) -> FinetuneSpec:
    """A FinetuneSpec from CLI values; a validation failure is a one-line UsageError."""
    from pydantic import ValidationError

    try:
        return FinetuneSpec(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        msg = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise UsageError(msg) from None


def check_quant_support(accelerator: Any, ft: FinetuneSpec | None) -> None:
    """Refuse a quantized base on a part whose vendor does not run bitsandbytes' kernels."""
    if ft is None or not ft.quantized:
        return
    vendor = getattr(accelerator, "vendor", None)
    if vendor not in QUANT_VENDORS:
        raise UsageError(
            f"--method {ft.method} (--quant {ft.quant}) needs bitsandbytes' int8/NF4 kernels, "
            f"which advisor assumes run on CUDA GPUs only; {accelerator.id} ({vendor}) has "
            "none: use --method lora (16-bit base) or an NVIDIA part"
        )
