"""The published runs as advisor reads them: one `Run` per CSV row, mapped to catalog
ids, a shape, a layout, a precision, a stack and a measured figure, or a reason why it
cannot be checked.

The CSVs (advisor/data/published_runs*.csv) are shipped as the sources print them;
the mapping of their free-text cells lives in advisor/data/run_sources.yaml. This
module is read by `advisor accuracy` and `python -m advisor.crossval`, never by
`estimate` or `recommend` (those read only the fitted data, advisor/fitted.py).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advisor.model.spec import ModelSpec

DATA = Path(__file__).resolve().parent / "data"
RUN_FILES = ("published_runs.csv", "published_runs_2.csv")
SOURCES_FILE = DATA / "run_sources.yaml"

# The ZeRO stage a stack's published benchmarks run when a row does not say: Megatron's
# distributed optimizer (ZeRO-1), FSDP full shard (ZeRO-3) for torchtitan, FSDP and
# MaxText, DeepSpeed's stage 1 default. Attention kernels and overlap come from the
# stack's catalog entry (hardware_catalog/stacks.yaml); per-source overrides sit in
# run_sources.yaml.
STACK_DEFAULT_ZERO: dict[str, int] = {
    "megatron": 1,
    "torchtitan": 3,
    "fsdp": 3,
    "deepspeed": 1,
    "maxtext": 3,
}


def stack_conventions(stack: str) -> dict[str, Any]:
    """flash_attention, dp_overlap and tp_overlap from the stack's catalog entry."""
    from advisor.catalog import load_catalog
    from advisor.stacks import conventions

    conv = conventions(load_catalog().stack(stack))
    return {
        "flash_attention": conv.flash_attention,
        "dp_overlap": conv.dp_overlap,
        "tp_overlap": conv.tp_overlap,
        "zero": STACK_DEFAULT_ZERO[stack],
    }


@dataclass(frozen=True)
class Run:
    """One published row, mapped. `reason` is set when it cannot be checked."""

    id: str
    source: str  # left out together in cross-validation
    stack: str
    accelerator: str | None  # catalog id
    family: str | None
    devices: int | None
    spec: ModelSpec | None
    layout: dict[str, Any]  # tp pp dp cp ep vp mbs gbs_seqs zero sp
    precision: str
    recompute: str
    metric: str | None  # "tokens_per_s_per_gpu" or "step_time_s"
    measured: float | None
    global_batch_tokens: float | None
    whole_run: bool
    flash_attention: bool
    dp_overlap: bool
    tp_overlap: bool
    node_network_gbs: float | None
    memory_gb: float | None
    raw: dict[str, str] = field(repr=False, default_factory=dict)
    reason: str | None = None


@functools.lru_cache(maxsize=1)
def sources_data() -> dict[str, Any]:
    return yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def raw_rows() -> tuple[dict[str, str], ...]:
    out: list[dict[str, str]] = []
    for name in RUN_FILES:
        with (DATA / name).open(newline="", encoding="utf-8") as f:
            out += [dict(r, file=name) for r in csv.DictReader(f)]
    return tuple(out)


def source_of(run_id: str) -> dict[str, Any]:
    """The run_sources.yaml entry whose prefix is the longest match of the row id."""
    srcs = sources_data()["sources"]
    best = max((p for p in srcs if run_id.startswith(p)), key=len, default=None)
    if best is None:
        raise KeyError(f"{SOURCES_FILE.name}: no source prefix matches row '{run_id}'")
    return srcs[best]


def family_of(accelerator_id: str) -> str:
    """Accelerator family (the unit fitted efficiencies are grouped by); the id itself
    when run_sources.yaml does not group it."""
    return sources_data()["families"].get(accelerator_id, accelerator_id)


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def _int(v: str | None) -> int | None:
    x = _num(v)
    return int(x) if x is not None and x == int(x) else None


def _find(pattern: str, *texts: str) -> int | None:
    for t in texts:
        m = re.search(pattern, t or "")
        if m:
            return int(m.group(1))
    return None


def parse_layout(r: dict[str, str], stack_zero: int) -> dict[str, Any]:
    """tp/pp/dp from their columns; cp/ep/vp/mbs/gbs/FSDP from `other_parallel`."""
    other, notes = r.get("other_parallel", ""), r.get("notes", "")
    fsdp = _find(r"FSDP (\d+)", other)
    zero = stack_zero
    if "ZeRO-1" in other or "distributed optimizer" in other:
        zero = 1
    if fsdp is not None:
        zero = 3 if fsdp > 0 else min(zero, 1)
    tp = _int(r.get("tp"))
    pp = _int(r.get("pp")) or 1
    # torchtitan's "local batch" is a data-parallel rank's batch; with pipeline stages it
    # is split into micro-batches the row does not print, so the search chooses them.
    local = _find(r"(?:local|per-device) batch (\d+)", other) if pp == 1 else None
    return {
        "tp": tp,
        "pp": _int(r.get("pp")),
        "dp": _int(r.get("dp")),
        "cp": _find(r"\bCP (\d+)", other) or 1,
        "ep": _find(r"\bEP (\d+)", other) or 1,
        "vp": _find(r"\bVP (\d+)", other) or _find(r"virtual pipeline (\d+)", other),
        "mbs": _find(r"\bMBS (\d+)", other) or local or _find(r"micro-batch (\d+)", notes),
        "gbs_seqs": _find(r"GBS (\d+) seqs", other),
        "zero": zero,
        "sp": {"yes": True, "no": False}.get((r.get("sequence_parallel") or "").lower()),
    }


def parse_precision(text: str) -> str:
    t = (text or "").lower()
    if "fp4" in t:
        return "fp4"
    if "fp8" in t or "float8" in t:
        return "fp8"
    if "16-bit" in t or "fp16" in t:
        return "fp16"
    return "bf16"  # BF16, amp_bf16, or not printed (an assumption, see `Run.raw`)


def parse_recompute(text: str) -> str:
    t = (text or "").lower()
    if "selective" in t or "minimal" in t or "offloaded" in t:
        return "selective"
    if t.startswith(("full", "yes")) or "remat_policy=full" in t:
        return "full"
    return "none"


def moe_model(r: dict[str, str]) -> dict[str, Any] | None:
    """The run_sources.yaml `moe_models` entry of a MoE row (None for a dense row)."""
    model = r.get("model", "")
    for name, entry in (sources_data().get("moe_models") or {}).items():
        if model.startswith(name):
            return entry
    return None


def _moe_spec(r: dict[str, str], entry: dict[str, Any]) -> ModelSpec | None:
    """A MoE row's shape: its preset at the row's vocabulary and context, no MTP."""
    from advisor.model.presets import preset

    if not entry.get("preset"):
        return None
    return preset(entry["preset"]).model_copy(
        update={
            "name": r["id"],
            "vocab": _int(r["vocab"]),
            "seq_len": _int(r["seq_len"]),
            "mtp_layers": 0,
        }
    )


def _spec(r: dict[str, str], src: dict[str, Any]) -> ModelSpec | None:
    need = ("layers", "hidden", "heads", "vocab", "seq_len")
    if any(_int(r.get(k)) is None for k in need if k != "heads"):
        return None
    entry = moe_model(r)
    if entry is not None:
        return _moe_spec(r, entry)
    if _int(r.get("heads")) is None:
        return None
    hidden, ffn = _int(r["hidden"]), _int(r.get("ffn"))
    assert hidden is not None
    gated = ffn is not None and ffn != 4 * hidden  # Llama-style SwiGLU (3 matrices)
    old = bool(src.get("gpt2_style"))
    hd = _find(r"head_dim (\d+)", r.get("derived", ""), r.get("notes", ""))
    heads = _int(r["heads"])
    head_dim = hd if hd and heads and hd * heads != hidden else None
    return ModelSpec(
        name=r["id"],
        layers=_int(r["layers"]),  # type: ignore[arg-type]
        hidden=hidden,
        heads=_int(r["heads"]),  # type: ignore[arg-type]
        kv_heads=_int(r.get("kv_heads")),
        ffn_hidden=ffn,
        mlp="swiglu" if gated else "gelu",
        vocab=_int(r["vocab"]),  # type: ignore[arg-type]
        seq_len=_int(r["seq_len"]),  # type: ignore[arg-type]
        tied_embeddings=not gated,
        position="rope" if gated else "learned",
        norm="rmsnorm" if gated else "layernorm",
        linear_bias=old,
        dropout=old,
        head_dim=head_dim,
    )


def _measured(r: dict[str, str]) -> tuple[str | None, float | None]:
    """The figure the source printed: its step time unless that was derived."""
    tps, step = _num(r.get("tokens_per_s_per_gpu")), _num(r.get("step_time_s"))
    if step and "step_time_s" not in (r.get("derived") or ""):
        return "step_time_s", step
    if tps:
        return "tokens_per_s_per_gpu", tps
    if step:
        return "step_time_s", step
    return None, None


def needs_feature(run: Run) -> str | None:
    """The model feature a row needs that advisor lacks today, or None. One place, so
    rows light up as the features land (context parallelism, uneven pipeline stages,
    FP4, head_dim, GB300/MI350X, expert parallelism). What remains: expert parallelism,
    and parts whose multi-node network is not sourced (run_sources.yaml)."""
    r = run.raw
    acc_entry = sources_data()["accelerators"].get(r.get("accelerator", ""), {})
    if acc_entry.get("needs"):
        return acc_entry["needs"]
    if acc_entry.get("beyond_node_needs") and (run.devices or 0) > 8:
        return acc_entry["beyond_node_needs"]
    entry = moe_model(r)
    if entry is not None and not entry.get("preset"):
        return entry["why"]
    if entry is None and not r.get("ffn", "").strip().isdigit() and r.get("ffn"):
        return "mixture-of-experts layers of a model not mapped in run_sources.yaml"
    return None


def not_checked_reason(run: Run) -> str | None:
    """Why a row cannot be checked (data it lacks, or a model feature it needs)."""
    r = run.raw
    if (r.get("run_type") or "").startswith("estimate"):
        return "a paper's own estimate (formula), not a measurement"
    entry = sources_data()["accelerators"].get(r.get("accelerator", ""))
    if entry is None:
        return f"accelerator '{r.get('accelerator')}' not mapped in run_sources.yaml"
    if entry.get("id") is None:
        return entry["why"]
    if run.metric is None:
        has = [k for k in ("tflops_per_gpu", "mfu_pct", "gpu_hours") if r.get(k)]
        given = f" (gives {', '.join(has)} only, under its own FLOP convention)" if has else ""
        return "no measured tokens/s or step time" + given
    need = needs_feature(run)
    if run.spec is None and need:
        return need
    if run.spec is None:
        missing = [k for k in ("layers", "hidden", "heads", "vocab", "seq_len") if not r.get(k)]
        return f"shape incomplete (no {', '.join(missing)})"
    if not run.devices:
        return "device count not given"
    if not run.global_batch_tokens:
        return "global batch not recorded"
    need = needs_feature(run)
    return f"needs {need}" if need else None


def map_row(r: dict[str, str]) -> Run:
    src = source_of(r["id"])
    stack = src["stack"]
    conv = {
        **stack_conventions(stack),
        **{k: src[k] for k in ("flash_attention", "dp_overlap", "tp_overlap", "zero") if k in src},
    }
    entry = sources_data()["accelerators"].get(r.get("accelerator", ""), {}) or {}
    acc = entry.get("id")
    metric, measured = _measured(r)
    run_type = (r.get("run_type") or "").lower()
    run = Run(
        id=r["id"],
        source=src["source"],
        stack=stack,
        accelerator=acc,
        family=family_of(acc) if acc else None,
        devices=_int(r.get("num_accelerators")),
        spec=_spec(r, src),
        layout=parse_layout(r, conv["zero"]),
        precision=parse_precision(r.get("precision", "")),
        recompute=parse_recompute(r.get("activation_recompute", "")),
        metric=metric,
        measured=measured,
        global_batch_tokens=_num(r.get("global_batch_tokens")),
        whole_run=not run_type.startswith("benchmark"),
        flash_attention=conv["flash_attention"],
        dp_overlap=conv["dp_overlap"],
        tp_overlap=conv["tp_overlap"],
        node_network_gbs=src.get("node_network_gbs"),
        memory_gb=_num(r.get("accel_mem_gb")),
        raw=r,
    )
    return _with_reason(run)


def _kor22_layout(run_id: str, layout: dict[str, Any], by_id: dict[str, dict[str, str]]) -> None:
    """Korthikanti et al. print neither v nor, for the full-recompute rows, the
    micro-batch: Calculon's validation configurations for Table 5 use v = 3 for 175B
    and 530B, 1 for 1T, and the full-recompute rows repeat their selective twin's
    micro-batch (published_runs.md, kor22 notes)."""
    if layout["pp"] == 1 or run_id.startswith("kor22-1T"):
        layout["vp"] = 1
    else:
        layout["vp"] = 3
    twin = by_id.get(run_id.removesuffix("-fullrecompute"))
    if layout["mbs"] is None and twin is not None:
        layout["mbs"] = _find(r"micro-batch (\d+)", twin.get("notes", ""))


def _with_reason(run: Run) -> Run:
    from dataclasses import replace

    if run.id.startswith("kor22"):
        _kor22_layout(run.id, run.layout, {r["id"]: r for r in raw_rows()})
    return replace(run, reason=not_checked_reason(run))


@functools.lru_cache(maxsize=1)
def load_runs() -> tuple[Run, ...]:
    return tuple(map_row(r) for r in raw_rows())
