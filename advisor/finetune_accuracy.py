"""The fine-tuning section of `advisor accuracy`: every published fine-tuning row
(advisor/finetune_runs.py) predicted by advisor/finetune_predict.py against what it
measured, with the napkins, statistics per source and method, the issue's targets, and
every row or figure not checked with why (advisor/finetune_checks.py).

Nothing is fitted on these rows (the predictor uses the catalog's device efficiencies
and the pretraining stack fit), so the errors are out-of-sample as they stand; the
section says so (`fitted: false`).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from advisor.catalog import load_catalog
from advisor.finetune_checks import FinetuneChecks, finetune_checks
from advisor.finetune_predict import mapping_notes, predict
from advisor.finetune_runs import load_finetune_runs

# Issue 11, Targets: median |error| over the rows that have them.
TARGETS = {"peak_memory_bytes": 0.10, "tokens_per_s_per_device": 0.20}
METHOD_NOTE = (
    "unfitted: each row through estimate's search under its stack (the row's layout where "
    "printed, else the fastest plan that fits, no headroom), device efficiencies from the "
    "catalog and the pretraining stack fit, nothing fitted on these rows (out-of-sample); "
    "napkins: memory 2 B per base parameter + 16 B per trainable one, throughput "
    "(6N + 12*L*s*h) FLOPs per token at 45% of the dense peak"
)


@functools.lru_cache(maxsize=1)
def finetune_accuracy() -> FinetuneChecks:
    """The checks of every published fine-tuning row (cached: rows and model are fixed)."""
    catalog = load_catalog()
    return finetune_checks(predict=lambda run: predict(run, catalog), catalog=catalog)


def targets(checks: FinetuneChecks) -> dict[str, dict[str, Any]]:
    """Each metric's median |error| against the issue's target, the napkin's beside."""
    out = {}
    for metric, target in TARGETS.items():
        overall = checks.summary[metric]["overall"]
        median = overall["model"]["median_abs_error"]
        out[metric] = {
            "target_median_abs_error": target,
            "median_abs_error": median,
            "napkin_median_abs_error": overall["napkin"]["median_abs_error"],
            "n": overall["model"]["n"],
            "met": bool(median <= target),  # False when no row has the figure (NaN)
        }
    return out


def _no_nan(x: Any) -> Any:
    """NaN (the median of no rows) as null: the JSON output allows no NaN."""
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return None if isinstance(x, float) and math.isnan(x) else x


def finetune_document() -> dict[str, Any]:
    """The `finetune` key of `advisor accuracy --json`."""
    checks = finetune_accuracy()
    checked = {r.id for r in checks.rows}
    return _no_nan(
        {
            "method": METHOD_NOTE,
            "fitted": False,
            "cross_validated": checks.cross_validated,
            "checks": [r.model_dump() for r in checks.rows],
            "summary": checks.summary,
            "targets": targets(checks),
            "approximations": {
                r.id: notes
                for r in load_finetune_runs()
                if r.id in checked and (notes := mapping_notes(r))
            },
            "not_checked": checks.not_checked,
            "figures_not_checked": checks.figures_not_checked,
        }
    )
