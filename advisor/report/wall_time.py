"""The report's "where the wall time goes" section: each option's goodput and the
seconds its whole run loses by cause (advisor/goodput.py), beside its steady time."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from advisor.goodput import PARTS
from advisor.recommend import Option


class WallTimeRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    enabled: bool
    goodput: float
    steady_s: float
    wall_s: float
    parts_s: dict[str, float]  # seconds lost, PARTS order
    interruptions: float | None
    interval_s: float | None
    write_s: float | None
    spare_nodes: int


def wall_time_rows(options: list[Option]) -> list[WallTimeRow]:
    """One row per option with whole-run figures, in the table's order."""
    out = []
    for o in options:
        g = o.goodput
        if g is None:
            continue
        ck = o.checkpoint
        out.append(
            WallTimeRow(
                label=f"#{o.rank} {o.offering} x{o.nodes}",
                enabled=g.enabled,
                goodput=g.fraction,
                steady_s=g.productive_s,
                wall_s=g.wall_s,
                parts_s={k: g.parts_s.get(k, 0.0) for k in PARTS},
                interruptions=(o.expected_interruptions or {}).get("total"),
                interval_s=ck.interval_s if ck else None,
                write_s=ck.write_s if ck else None,
                spare_nodes=g.spare_nodes,
            )
        )
    return out
