"""The engine factors and residual ranges fitted on the published serving rows
(advisor/data/serve_fit.yaml, written by `python -m advisor.serve.fit --write`)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

FIT_FILE = Path(__file__).resolve().parent.parent / "data" / "serve_fit.yaml"
UNFITTED = {
    "a_mem": 1.0,
    "a_cmp": 1.0,
    "a_pre": 1.0,
    "step_overhead_s": 0.0,
    "seq_overhead_s": 0.0,
    "max_seqs": None,
    "a_ttft": 1.0,
    "rows": 0,
    "group": "unfitted",
}


@functools.lru_cache(maxsize=1)
def fit_data() -> dict[str, Any]:
    if not FIT_FILE.exists():
        return {"factors": {}, "ranges": {}}
    return yaml.safe_load(FIT_FILE.read_text(encoding="utf-8"))


def factors(engine: str) -> dict[str, Any]:
    """The engine's own factors, else those fitted on every engine's rows."""
    table = fit_data().get("factors", {})
    return dict(table.get(engine) or table.get("all") or UNFITTED)


def ratio_range(metric: str) -> tuple[float, float]:
    """10th-90th percentile of measured/predicted (cross-validated) for a metric."""
    r = fit_data().get("ranges", {}).get(metric)
    return (float(r["p10"]), float(r["p90"])) if r else (1.0, 1.0)
