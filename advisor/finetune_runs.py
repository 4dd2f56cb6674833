"""The published fine-tuning rows as advisor reads them: one `FinetuneRun` per CSV row,
mapped to a catalog accelerator, a model shape, a method (full, LoRA, QLoRA) with its
rank, targets and quantization, an optimizer, a batch and length, and the measured peak
memory and throughput, or the reasons a figure cannot be checked.

The CSV (advisor/data/finetune_runs.csv) ships as the sources print it, with its notes
(finetune_runs.md); the mapping of its free-text cells lives in
advisor/data/finetune_sources.yaml. Read by `advisor accuracy` (advisor/finetune_checks.py),
never by `estimate` or `recommend`.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from advisor.errors import AdvisorError
from advisor.finetune_cells import (
    Method,
    Quant,
    fused_qkv,
    lead_int,
    num,
    parse_lora_targets,
    parse_method,
    parse_optimizer,
    parse_precision,
    parse_quant,
    parse_recompute,
)
from advisor.finetune_sources import SOURCES_FILE, sources_data
from advisor.model.presets import preset
from advisor.model.spec import ModelSpec, Optimizer, Precision, Recompute
from advisor.runs import family_of

DATA = Path(__file__).resolve().parent / "data"
RUNS_FILE = DATA / "finetune_runs.csv"

GIB = 2**30
MEMORY_UNIT_BYTES = {"GiB": float(GIB), "GB": 1e9}
# Quantized base weights the model stores (bitsandbytes NF4 and int8, issue 11 item 2).
MODELLED_QUANT = ("none", "int8", "nf4")
# Row features the model lacks, and the figures each one changes. One place, so rows
# light up as features land: chunked cross-entropy keeps only a chunk of the fp32
# logits (advisor holds three s·b·V tensors); activation offloading moves saved
# activations to host memory and costs transfers. `packed` and `compile` stay checked:
# packing fills the length the row prints, compile is kernel efficiency (what is fitted).
UNMODELLED: dict[str, tuple[str, ...]] = {
    "chunked_ce": ("memory",),
    "activation_offload": ("memory", "throughput"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FinetuneRun(_Frozen):
    """One published fine-tuning row, mapped. A figure is checkable when its reason is
    None; the row is mapped when either is (memory_reason, throughput_reason)."""

    id: str
    source: str  # left out together in cross-validation
    framework: str  # the software the source ran (torchtune, litgpt, nemo, ...)
    stack: str  # catalog stack the model scores it with
    model: str  # as printed
    preset: str | None
    spec: ModelSpec | None  # at the row's sequence length (or its longest sample)
    method: Method | None  # None: not full/LoRA/QLoRA (adapter, RLHF, unstated)
    method_printed: str
    lora_rank: int | None
    lora_targets: tuple[str, ...] | None  # subset of LORA_MATRICES, in that order
    lora_extra: tuple[str, ...] = ()  # adapted beyond the 7 matrices ("output")
    lora_fused_qkv: bool = False  # one adapter on a fused QKV projection (MLPerf, Qwen)
    quant: Quant | None
    double_quant: bool | None  # None: not stated
    precision: Precision | None
    pure_bf16: bool | None  # bf16 weights and optimizer states, no fp32 master
    optimizer: Optimizer | None
    optimizer_assumed: bool = False
    optimizer_paged: bool = False
    optimizer_in_backward: bool = False
    accelerator: str | None  # catalog id
    family: str | None
    devices: int | None
    micro_batch: int | None
    global_batch: int | None  # sequences per optimizer step
    global_batch_assumed: bool = False
    seq_len: int | None  # tokens per sequence, when every batch fills it
    seq_len_printed: int | None  # the length the source prints (a maximum for some)
    seq_len_memory: int | None  # the length that sets the peak (seq_len, or longest sample)
    recompute: Recompute  # "none" where not stated, as for the pretraining rows
    recompute_stated: bool
    layout: dict[str, int | None]  # tp pp cp zero where the source prints them
    features: tuple[str, ...] = ()
    peak_memory_printed: float | None
    memory_unit: Literal["GiB", "GB"]
    memory_scope: str
    peak_memory_bytes: float | None  # per device, when memory_scope allows
    oom: bool = False
    tokens_per_s: float | None  # system total as printed or derived
    tokens_per_s_per_device: float | None
    step_time_s: float | None
    time_to_train: str | None
    memory_reason: str | None
    throughput_reason: str | None

    @property
    def reason(self) -> str | None:
        """Why nothing in the row can be checked; None when a figure can."""
        if self.memory_reason is None or self.throughput_reason is None:
            return None
        if self.memory_reason == self.throughput_reason:
            return self.memory_reason
        return f"memory: {self.memory_reason}; throughput: {self.throughput_reason}"


@functools.lru_cache(maxsize=1)
def raw_rows() -> tuple[dict[str, str], ...]:
    with RUNS_FILE.open(newline="", encoding="utf-8") as f:
        return tuple(dict(r) for r in csv.DictReader(f))


def source_of(run_id: str) -> dict[str, Any]:
    """The finetune_sources.yaml entry whose prefix is the longest match of the id."""
    srcs = sources_data()["sources"]
    best = max((p for p in srcs if run_id.startswith(p)), key=len, default=None)
    if best is None:
        raise AdvisorError(f"{SOURCES_FILE.name}: no source prefix matches row '{run_id}'")
    return srcs[best]


def _spec(model: str, seq_len: int | None) -> tuple[str | None, ModelSpec | None, str | None]:
    """(preset id, spec at seq_len, why not) for a printed model name."""
    entry = sources_data()["models"].get(model)
    if entry is None:
        return None, None, f"model '{model}' not mapped in {SOURCES_FILE.name}"
    if entry.get("preset"):
        return entry["preset"], preset(entry["preset"], seq_len), None
    if entry.get("shape"):
        shape = {**entry["shape"], "seq_len": seq_len or 2048}
        try:
            return None, ModelSpec(name=model, source=entry["source"], **shape), None
        except ValidationError as e:
            raise AdvisorError(f"{SOURCES_FILE.name}: models.{model}: {e}") from None
    return None, None, entry["why"]


def _memory(r: dict[str, str], src: dict[str, Any]) -> tuple[float | None, float | None]:
    """(printed peak, bytes per device) in the source's unit; bytes only where the
    printed figure is a device's peak (or the average / largest over the devices)."""
    printed = num(r.get("peak_mem_gb"))
    if printed is None or src["memory_scope"] not in PER_DEVICE_SCOPES:
        return printed, None
    return printed, printed * MEMORY_UNIT_BYTES[src["memory_unit"]]


PER_DEVICE_SCOPES = ("per_device", "average_per_device", "max_over_devices")


def _throughput(
    r: dict[str, str], src: dict[str, Any], devices: int | None
) -> tuple[float | None, float | None]:
    """(system tokens/s, tokens/s per device)."""
    tps = num(r.get("tokens_per_s"))
    if tps is None:
        return None, None
    if src["throughput_scope"] == "per_device":
        return (tps * devices if devices else None), tps
    return tps, (tps / devices if devices else None)


def _shared_reason(run: dict[str, Any], acc_why: str | None, spec_why: str | None) -> str | None:
    """Why neither figure of a row can be checked: what it is, or a setting it lacks."""
    if run["method"] is None:
        return f"method: '{run['method_printed']}' is not full, LoRA or QLoRA"
    if spec_why:
        return f"shape: {spec_why}"
    if run["accelerator"] is None:
        return f"accelerator: {acc_why}"
    if not run["devices"]:
        return "setting: device count not given"
    if run["precision"] is None:
        return "setting: precision not stated"
    if run["method"] != "full":
        if run["lora_rank"] is None:
            return "setting: LoRA rank not stated"
        if run["lora_targets"] is None:
            return "setting: LoRA target matrices not stated"
    if run["quant"] is None:
        return "setting: base-weight quantization not stated"
    if run["quant"] not in MODELLED_QUANT:
        return f"feature: {run['quant']} base weights (advisor stores bitsandbytes NF4 / int8)"
    return None


def _unmodelled(features: tuple[str, ...], metric: str) -> str | None:
    lacking = [f for f in features if metric in UNMODELLED.get(f, ())]
    return f"feature: needs {', '.join(lacking)}" if lacking else None


def _memory_reason(
    run: dict[str, Any], src: dict[str, Any], row_extra: dict[str, Any]
) -> str | None:
    scope = src["memory_scope"]
    if run["peak_memory_printed"] is None:
        if run["oom"]:
            return "measurement: out of memory only (a does-not-fit check, no figure)"
        return "measurement: no peak memory printed"
    if scope in ("upper_bound", "lower_bound"):
        return f"measurement: a claim ({scope.replace('_', ' ')}), not a measurement"
    if scope == "aggregate":
        return "measurement: total over an unknown number of devices"
    if row_extra.get("doubtful_memory"):
        return f"measurement: doubtful ({row_extra['doubtful_memory']})"
    if run["optimizer"] is None and run["method"] == "full":
        return "setting: optimizer not stated"
    if run["micro_batch"] is None:
        return "setting: micro-batch not stated"
    if run["seq_len_memory"] is None:
        if run["seq_len_printed"] is not None:
            return "setting: batches fill less than the printed maximum length (not given)"
        return "setting: sequence length not stated"
    return _unmodelled(run["features"], "memory")


def _throughput_reason(run: dict[str, Any]) -> str | None:
    if run["tokens_per_s_per_device"] is None:
        if run["step_time_s"] is not None and run["seq_len"] is None:
            return "measurement: time per iteration only; tokens per iteration not given"
        if run["time_to_train"]:
            return "measurement: time to train only (no tokens/s; tokens trained not given)"
        return "measurement: no throughput printed"
    if run["global_batch_assumed"]:
        return "setting: global batch assumed (the source does not give it)"
    if run["seq_len"] is None:
        if run["seq_len_printed"] is not None:
            return "setting: batches fill less than the printed maximum length (not given)"
        return "setting: sequence length not stated"
    if run["micro_batch"] is None and run["global_batch"] is None:
        return "setting: batch not stated"
    return _unmodelled(run["features"], "throughput")


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def map_row(r: dict[str, str]) -> FinetuneRun:
    """One CSV row, mapped (finetune_sources.yaml supplies what its cells leave open)."""
    data = sources_data()
    src = source_of(r["id"])
    extra: dict[str, Any] = data.get("rows", {}).get(r["id"], {}) or {}
    acc_entry = data["accelerators"].get(r.get("accelerator", ""))
    if acc_entry is None:
        acc_entry = {
            "id": None,
            "why": f"'{r.get('accelerator')}' not mapped in {SOURCES_FILE.name}",
        }
    acc = acc_entry.get("id")
    method = parse_method(r["method"])
    exact = extra.get("seq_len_exact", True) and "variable" not in (r.get("seq_len") or "")
    seq_printed = lead_int(r.get("seq_len"))
    seq_len = seq_printed if exact else None
    seq_mem = seq_len or src.get("seq_len_longest")
    preset_id, spec, spec_why = _spec(r["model"], seq_mem)
    targets, lora_extra = parse_lora_targets(r.get("lora_targets", ""))
    quant, dq = parse_quant(r.get("quant", ""), method)
    opt, paged, in_bwd = parse_optimizer(r.get("optimizer", ""))
    opt_assumed = False
    if opt is None and src.get("optimizer"):
        opt, opt_assumed = src["optimizer"]["name"], True
    recompute, act_offload = parse_recompute(r.get("grad_checkpointing", ""))
    if extra.get("recompute"):
        recompute = extra["recompute"]
    features = tuple(extra.get("features", ()))
    if act_offload and "activation_offload" not in features:
        features += ("activation_offload",)
    if "offload" in r["method"].lower():
        features += ("optimizer_offload",)  # DeepSpeed CPU offload (issue 11 item 2)
    devices = lead_int(r.get("num_accelerators"))
    printed, mem_bytes = _memory(r, src)
    tps, tps_dev = _throughput(r, src, devices)
    gb_text = r.get("global_batch") or ""
    run: dict[str, Any] = {
        "id": r["id"],
        "source": src["source"],
        "framework": src["framework"],
        "stack": src["stack"],
        "model": r["model"],
        "preset": preset_id,
        "spec": spec,
        "method": method,
        "method_printed": r["method"],
        "lora_rank": lead_int(r.get("lora_rank")) if method in ("lora", "qlora") else None,
        "lora_targets": targets if method in ("lora", "qlora") else None,
        "lora_extra": lora_extra,
        "lora_fused_qkv": targets is not None and fused_qkv(r.get("lora_targets", "")),
        "quant": quant,
        "double_quant": dq,
        "precision": extra.get("precision") or parse_precision(r.get("precision", "")),
        "pure_bf16": src.get("pure_bf16"),
        "optimizer": opt,
        "optimizer_assumed": opt_assumed,
        "optimizer_paged": paged,
        "optimizer_in_backward": in_bwd,
        "accelerator": acc,
        "family": family_of(acc) if acc else None,
        "devices": devices,
        "micro_batch": lead_int(r.get("micro_batch")),
        "global_batch": lead_int(gb_text),
        "global_batch_assumed": "assumed" in gb_text,
        "seq_len": seq_len,
        "seq_len_printed": seq_printed,
        "seq_len_memory": seq_mem,
        "recompute": recompute or "none",
        "recompute_stated": recompute is not None,
        "layout": {k: _first(extra.get(k), src.get(k)) for k in ("tp", "pp", "cp", "zero")},
        "features": features,
        "peak_memory_printed": printed,
        "memory_unit": src["memory_unit"],
        "memory_scope": src["memory_scope"],
        "peak_memory_bytes": mem_bytes,
        "oom": "OOM" in (r.get("time_to_train") or "") or "OOM" in (r.get("notes") or ""),
        "tokens_per_s": tps,
        "tokens_per_s_per_device": tps_dev,
        "step_time_s": num(r.get("step_time_s")),
        "time_to_train": r.get("time_to_train") or None,
    }
    shared = _shared_reason(run, acc_entry.get("why"), spec_why)
    if shared == "setting: precision not stated" and r.get("precision"):
        shared += f" (printed: '{r['precision']}')"  # e.g. MLPerf's 'not verified'
    run["memory_reason"] = shared or _memory_reason(run, src, extra)
    run["throughput_reason"] = shared or _throughput_reason(run)
    return FinetuneRun(**run)


@functools.lru_cache(maxsize=1)
def load_finetune_runs() -> tuple[FinetuneRun, ...]:
    return tuple(map_row(r) for r in raw_rows())


def reason_counts(runs: tuple[FinetuneRun, ...] | None = None) -> dict[str, int]:
    """Rows that cannot be checked at all, by the kind of reason (text before ':'),
    named per figure where memory and throughput fail for different kinds."""
    out: dict[str, int] = {}
    for run in runs if runs is not None else load_finetune_runs():
        if run.reason is None:
            continue
        assert run.memory_reason and run.throughput_reason
        mk, tk = run.memory_reason.split(":", 1)[0], run.throughput_reason.split(":", 1)[0]
        kind = mk if mk == tk else f"{mk} (memory) / {tk} (throughput)"
        out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items()))
