"""Predicted against measured peak memory and throughput on the published fine-tuning
rows (advisor/finetune_runs.py), with the two napkins beside them and the statistics
`advisor accuracy` prints for pretraining (advisor/crossval.py: median and p90 |error|,
overall and per source).

The model is passed in, not imported: `predict(run) -> (peak_memory_bytes,
tokens_per_s_per_device)` (either may be None where it cannot say), or, where
efficiencies are fitted on these rows, `fit(training_rows) -> predict`, called once per
source with that source's rows left out (leave-one-source-out, as for pretraining).

Napkins:
- memory: 2 bytes per base parameter plus 16 per trainable one (issue 11, Targets);
  taken literally, so full fine-tuning counts 18 bytes per parameter (the LLaMA-Factory
  estimate's "18x", finetune_runs.md) and QLoRA still 2 per base parameter.
- throughput: the pretraining napkin, 45% of the dense peak over 6·N + 12·L·s·h FLOPs
  per token (advisor/crossval.py NAPKIN_MFU, PaLM App. B), also for LoRA and QLoRA:
  the issue gives no fine-tuning throughput napkin, and this one ignores that frozen
  weights need no weight gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel

from advisor.catalog import Catalog, load_catalog
from advisor.crossval import NAPKIN_MFU, abs_stats
from advisor.finetune.params import target_shapes
from advisor.finetune_runs import FinetuneRun, load_finetune_runs
from advisor.model.flops import model_flops_per_token
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec

Prediction = tuple[float | None, float | None]  # (peak memory bytes, tokens/s per device)
Predictor = Callable[[FinetuneRun], Prediction]
Fitter = Callable[[list[FinetuneRun]], Predictor]
Metric = Literal["peak_memory_bytes", "tokens_per_s_per_device"]
METRICS: tuple[Metric, ...] = ("peak_memory_bytes", "tokens_per_s_per_device")
NAPKIN_BASE_BYTES = 2.0  # per base parameter (issue 11 Targets)
NAPKIN_TRAINABLE_BYTES = 16.0  # per trainable parameter (issue 11 Targets)


def lora_trainable_params(
    spec: ModelSpec,
    rank: int,
    targets: Iterable[str],
    fused_qkv: bool = False,
    extra: Iterable[str] = (),
) -> int:
    """LoRA parameters: r·(d_in + d_out) per adapted matrix per layer, from the model's
    own shapes (advisor/finetune/params.py target_shapes; Hu et al. 2021 §4). What the
    published rows add: a fused QKV projection is one matrix (h -> q + 2·kv), and
    `output` adapts the output head."""
    shapes = target_shapes(spec)
    wanted = set(targets)
    per_layer = 0
    if fused_qkv and wanted & {"q", "k", "v"}:
        h, q_w, kv_w = shapes["q"][0], shapes["q"][1], shapes["k"][1]
        per_layer += rank * (h + q_w + 2 * kv_w)
        wanted -= {"q", "k", "v"}
    per_layer += sum(
        rank * (d_in + d_out) * n for name, (d_in, d_out, n) in shapes.items() if name in wanted
    )
    head = rank * (spec.hidden + spec.vocab) if "output" in set(extra) else 0
    return spec.layers * per_layer + head


def trainable_params(run: FinetuneRun) -> int | None:
    """Every parameter for full fine-tuning; the adapters for LoRA and QLoRA."""
    if run.spec is None:
        return None
    if run.method == "full":
        return count_params(run.spec).total
    if run.lora_rank is None or run.lora_targets is None:
        return None
    return lora_trainable_params(
        run.spec, run.lora_rank, run.lora_targets, run.lora_fused_qkv, run.lora_extra
    )


def napkin_memory_bytes(run: FinetuneRun) -> float | None:
    """2 bytes per base parameter + 16 per trainable one (issue 11 Targets), per device:
    spread over the devices where the row shards the model (FSDP / ZeRO-3)."""
    n_train = trainable_params(run)
    if run.spec is None or n_train is None:
        return None
    base = count_params(run.spec).total
    total = NAPKIN_BASE_BYTES * base + NAPKIN_TRAINABLE_BYTES * n_train
    return total / (run.devices or 1) if run.layout.get("zero") == 3 else total


def napkin_tokens_per_s_per_device(run: FinetuneRun, catalog: Catalog) -> float | None:
    """45% of the dense peak over 6·N + 12·L·s·h FLOPs per token (the pretraining napkin,
    advisor/crossval.py), at the row's precision and length."""
    if run.spec is None or run.accelerator is None or run.precision is None:
        return None
    peak = catalog.accelerator(run.accelerator).peak_flops(run.precision)
    if peak is None:
        return None
    spec = run.spec.model_copy(update={"seq_len": run.seq_len}) if run.seq_len else run.spec
    return NAPKIN_MFU * peak / model_flops_per_token(spec)


class FinetuneCheckRow(BaseModel):
    """One figure of one row: measured, predicted and napkin, with errors
    (predicted / measured - 1, as for pretraining)."""

    id: str
    source: str
    stack: str
    family: str
    accelerator: str
    method: str
    metric: Metric
    measured: float
    predicted: float
    error: float
    napkin: float | None
    napkin_error: float | None


class FinetuneChecks(BaseModel):
    cross_validated: bool
    rows: list[FinetuneCheckRow]
    summary: dict[str, Any]
    not_checked: dict[str, str]  # row id -> why no figure of it is checked
    figures_not_checked: dict[str, dict[str, str]]  # row id -> metric -> why


def _measured(run: FinetuneRun, metric: Metric) -> float | None:
    reason = run.memory_reason if metric == "peak_memory_bytes" else run.throughput_reason
    return None if reason else getattr(run, metric)


def _check_row(
    run: FinetuneRun, metric: Metric, measured: float, predicted: float, napkin: float | None
) -> FinetuneCheckRow:
    assert run.accelerator and run.method
    return FinetuneCheckRow(
        id=run.id,
        source=run.source,
        stack=run.stack,
        family=run.family or run.accelerator,
        accelerator=run.accelerator,
        method=run.method,
        metric=metric,
        measured=measured,
        predicted=predicted,
        error=predicted / measured - 1,
        napkin=napkin,
        napkin_error=napkin / measured - 1 if napkin is not None else None,
    )


def _predictors(
    runs: list[FinetuneRun], predict: Predictor | None, fit: Fitter | None
) -> dict[str, Predictor]:
    """One predictor per source: fitted on the other sources' rows when `fit` is given."""
    sources = sorted({r.source for r in runs})
    if fit is not None:
        return {s: fit([r for r in runs if r.source != s]) for s in sources}
    assert predict is not None
    return dict.fromkeys(sources, predict)


def finetune_checks(
    predict: Predictor | None = None,
    *,
    fit: Fitter | None = None,
    runs: Iterable[FinetuneRun] | None = None,
    catalog: Catalog | None = None,
) -> FinetuneChecks:
    """Per-row predicted against measured peak memory and tokens/s per device, with
    the napkins, and their summary. Give `predict`, or `fit` for leave-one-source-out."""
    if (predict is None) == (fit is None):
        raise ValueError("give exactly one of predict or fit")
    all_runs = list(runs if runs is not None else load_finetune_runs())
    catalog = catalog or load_catalog()
    mapped = [r for r in all_runs if r.reason is None]
    by_source = _predictors(mapped, predict, fit)
    rows: list[FinetuneCheckRow] = []
    not_checked = {r.id: r.reason for r in all_runs if r.reason is not None}
    figures_not_checked: dict[str, dict[str, str]] = {}
    for run in mapped:
        skipped = figures_not_checked.setdefault(run.id, {})
        try:
            predicted = by_source[run.source](run)
        except Exception as e:  # reported per row, never dropped silently
            not_checked[run.id] = f"the model cannot score it: {e}"
            del figures_not_checked[run.id]
            continue
        napkins = (napkin_memory_bytes(run), napkin_tokens_per_s_per_device(run, catalog))
        for metric, pred, nap in zip(METRICS, predicted, napkins, strict=True):
            measured = _measured(run, metric)
            if measured is None:
                why = run.memory_reason if metric == "peak_memory_bytes" else run.throughput_reason
                skipped[metric] = why or "not measured"
            elif pred is None:
                skipped[metric] = "the model gives no prediction"
            else:
                rows.append(_check_row(run, metric, measured, pred, nap))
        if not skipped:
            del figures_not_checked[run.id]
    return FinetuneChecks(
        cross_validated=fit is not None,
        rows=rows,
        summary=summary(rows),
        not_checked=not_checked,
        figures_not_checked=figures_not_checked,
    )


def _stats(rows: list[FinetuneCheckRow]) -> dict[str, Any]:
    naps = [r.napkin_error for r in rows if r.napkin_error is not None]
    return {"model": abs_stats([r.error for r in rows]), "napkin": abs_stats(naps)}


def summary(rows: list[FinetuneCheckRow]) -> dict[str, Any]:
    """Per metric: median and p90 |error| of the model and the napkin, overall and per
    source, method, family and stack (the shape of advisor/crossval.py's summary)."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        mine = [r for r in rows if r.metric == metric]
        entry: dict[str, Any] = {"overall": _stats(mine)}
        for key in ("source", "method", "family", "stack"):
            groups: dict[str, list[FinetuneCheckRow]] = {}
            for r in mine:
                groups.setdefault(getattr(r, key), []).append(r)
            entry[f"by_{key}"] = {g: _stats(rs) for g, rs in sorted(groups.items())}
        out[metric] = entry
    return out
