"""The serving section of `advisor accuracy`: every published serving row predicted with
engine factors fitted without its own source, the napkin beside it."""

from __future__ import annotations

from typing import Any

from advisor.serve.fit import MIN_ROWS, cross_validate, summary

METHOD = (
    "leave-one-source-out (a source is one published table): per engine, a_mem, a_cmp, "
    "a_pre, the host time per step and per sequence, and (where the engine's limit is not "
    f"sourced) the sequences per step, fitted on the engine's rows from other sources "
    f"(every engine's when it has fewer than {MIN_ROWS}); a_ttft the geometric mean of "
    "measured/predicted TTFT. Napkin: decode at the spec memory bandwidth, one read of the "
    "weights per step (throughput = batch x bandwidth / weight bytes per device, at the "
    "batch the model runs; at a given rate, the rate); TTFT = prompt FLOPs at the dense peak"
)


def serving_document() -> dict[str, Any]:
    cv = cross_validate()
    return {
        "method": METHOD,
        "checks": cv["checks"],
        "summary": summary(cv["checks"]),
        "memory": cv["memory"],
        "not_checked": cv["not_checked"],
        "targets": {"throughput": 0.20, "tpot": 0.25, "ttft": 0.25},
    }
