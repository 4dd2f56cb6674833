"""The published serving rows (advisor/data/inference_runs.csv) as checkable records:
model preset, accelerator, engine, formats, layout, workload, load and what was measured.
The label maps live in advisor/data/inference_rows.yaml."""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from advisor.errors import DataError
from advisor.serve.engines import engine_for_row

DATA = Path(__file__).resolve().parent.parent / "data"
RUNS_FILE = DATA / "inference_runs.csv"
ROWS_FILE = DATA / "inference_rows.yaml"


class ServeRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str  # one published table (the row id's prefix): the cross-validation fold
    document: str  # where it is printed (address without the commit)
    model: str  # preset
    accelerator: str
    engine: str
    weights: str
    kv: str
    devices: int
    tp: int
    input_len: int
    output_len: int
    mode: str  # offline, concurrency, rate
    load: float | None
    throughput: float | None  # output tokens/s of all devices
    ttft_s: float | None
    tpot_s: float | None
    memory_bytes: float | None  # peak memory at batch 1 (litgpt/torchtune)
    lengths_assumed: bool


@functools.lru_cache(maxsize=1)
def row_maps() -> dict[str, Any]:
    return yaml.safe_load(ROWS_FILE.read_text(encoding="utf-8"))


def _num(text: str) -> float | None:
    t = (text or "").strip().replace(",", "")
    try:
        return float(t)
    except ValueError:
        return None


def _formats(text: str) -> tuple[str, str]:
    low = text.lower()
    for rule in row_maps()["precisions"]:
        if rule["match"] in low:
            return rule["weights"], rule["kv"]
    raise DataError(f"{RUNS_FILE}: no weight format for '{text}' in {ROWS_FILE.name}")


def _mode(raw: dict[str, str]) -> tuple[str, float | None]:
    text = raw["batch_or_concurrency"]
    m = re.match(r"^QPS (\d+)", text)
    if m:
        return "rate", float(m.group(1))
    m = re.search(r"online: (\d+) req/s", text)
    if m:
        return "rate", float(m.group(1))
    m = re.match(r"^(\d+)( \(static batch\))?$", text.strip())
    if m:
        return "concurrency", float(m.group(1))
    return "offline", None


def _lengths(raw: dict[str, str]) -> tuple[int, int, bool]:
    maps = row_maps()
    inp, out = _num(raw["input_len"]), _num(raw["output_len"])
    if "ShareGPT" in raw["input_len"]:
        sg = maps["sharegpt"]
        return int(sg["input_len"]["value"]), int(sg["output_len"]["value"]), True
    b1 = maps["batch1"]
    assumed = inp is None or out is None
    return (
        int(inp if inp is not None else b1["input_len"]["value"]),
        int(out if out is not None else b1["output_len"]["value"]),
        assumed,
    )


def source_key(row_id: str) -> str:
    """One measurement campaign: the TRT-LLM v0.17 offline table, its v0.14 online
    table, the v0.6.1 and v0.5 tables, Lambda's, SGLang's, gpt-fast's, litgpt's."""
    head = row_id.split("-")[0]
    return "lambda" if head == "lambda" else head


def parse_row(raw: dict[str, str]) -> ServeRow | str:
    """A checkable row, or why it is not checked."""
    maps = row_maps()
    rid = raw["id"]
    for prefix, why in maps["skip"].items():
        if rid.startswith(prefix):
            return why
    model = maps["models"].get(raw["model"])
    if model is None:
        return f"model '{raw['model']}' has no preset shape"
    acc = maps["accelerators"].get(raw["accelerator"])
    if acc is None:
        return f"accelerator '{raw['accelerator']}' not stated or not in the catalog"
    eng = engine_for_row(raw["engine"])
    if eng is None:
        return f"engine '{raw['engine']}' not modelled"
    weights, kv = _formats(raw["quant"] + " " + raw["precision"])
    mode, load = _mode(raw)
    inp, out, assumed = _lengths(raw)
    thr = _num(raw["throughput_tokens_per_s"])
    if thr is not None and "/GPU" in raw["notes"] and rid.startswith("trt061"):
        thr *= int(raw["num_accelerators"])  # the v0.6.1 H100 table prints per GPU
    ttft = _num(raw["ttft_ms"])
    tpot = _num(raw["tpot_ms"])
    if raw["derived"].startswith("tpot_ms = 1000"):
        tpot = None  # derived from the throughput: the same measurement, counted once
    if mode == "offline" and ttft is not None:
        ttft = None  # includes the queue of every request sent at once: not modelled
    mem = _num(raw["mem_gb"])
    return ServeRow(
        id=rid,
        source=source_key(rid),
        document=raw["source"].split("@")[0].strip(),
        model=model,
        accelerator=acc,
        engine=eng.id,
        weights=weights,
        kv=kv,
        devices=int(raw["num_accelerators"]),
        tp=int(raw["tp"]),
        input_len=inp,
        output_len=out,
        mode=mode,
        load=load,
        throughput=thr,
        ttft_s=ttft / 1e3 if ttft is not None else None,
        tpot_s=tpot / 1e3 if tpot is not None else None,
        memory_bytes=mem * 1e9 if mem is not None else None,
        lengths_assumed=assumed,
    )


@functools.lru_cache(maxsize=1)
def load_rows() -> tuple[tuple[ServeRow, ...], dict[str, str]]:
    with RUNS_FILE.open(encoding="utf-8", newline="") as fh:
        raws = list(csv.DictReader(fh))
    rows, skipped = [], {}
    for raw in raws:
        r = parse_row(raw)
        if isinstance(r, str):
            skipped[raw["id"]] = r
        else:
            rows.append(r)
    return tuple(rows), skipped
