"""The whole-run (goodput) options shared by estimate, recommend and report, and the
line `estimate` prints about it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from advisor.catalog import Catalog
from advisor.errors import UsageError, unknown
from advisor.goodput import GoodputSettings
from advisor.units import format_duration, parse_duration

P = "Whole run (goodput)"

GoodputOpt = Annotated[
    str,
    typer.Option(
        "--goodput",
        help="on: wall-clock time and cost with failures, restarts, checkpoints, evaluation, "
        "stragglers and spot reclaims; off: the steady state.",
        rich_help_panel=P,
    ),
]
CheckpointStorageOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoint-storage",
        help="Storage id checkpoints are written to ('advisor catalog list storage'); "
        "default: the offering's, else 1.2 GB/s per node (BLOOM).",
        rich_help_panel=P,
    ),
]
CheckpointIntervalOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoint-interval",
        help="Time between checkpoints, e.g. 30m or 3h (default: the Young/Daly optimum).",
        rich_help_panel=P,
    ),
]
NodeMtbfOpt = Annotated[
    str | None,
    typer.Option(
        "--node-mtbf",
        help="Mean time between failures of one node, e.g. 200d (default 200d: 5 failures "
        "per 1000 node-days, Kokolis et al. 2024).",
        rich_help_panel=P,
    ),
]
AsyncCheckpointOpt = Annotated[
    bool,
    typer.Option(
        "--async-checkpoint/--sync-checkpoint",
        help="Asynchronous checkpoints block training only for a copy to host memory.",
        rich_help_panel=P,
    ),
]
EvalFractionOpt = Annotated[
    float | None,
    typer.Option(
        "--eval-fraction",
        help="Evaluation time as a fraction of training time (default 0.007, BLOOM; "
        "0 when it runs on other nodes).",
        rich_help_panel=P,
    ),
]
SpotInterruptionsOpt = Annotated[
    float | None,
    typer.Option(
        "--spot-interruptions",
        help="Spot reclaims per instance-hour (default 3.1e-4: AWS's >20%/month bucket).",
        rich_help_panel=P,
    ),
]


def goodput_from(
    catalog: Catalog,
    goodput: str = "on",
    storage: str | None = None,
    interval: str | None = None,
    node_mtbf: str | None = None,
    async_checkpoint: bool = False,
    eval_fraction: float | None = None,
    spot_interruptions: float | None = None,
) -> GoodputSettings:
    """The settings from the command line; a bad value is one clear UsageError."""
    mode = (goodput or "").strip().lower()
    if mode not in ("on", "off"):
        raise unknown("--goodput value", goodput, ("on", "off"))
    if eval_fraction is not None and not 0.0 <= eval_fraction < 1.0:
        raise UsageError(f"--eval-fraction: {eval_fraction:g} must be at least 0 and below 1")
    if spot_interruptions is not None and not 0.0 <= spot_interruptions < 1.0:
        raise UsageError(
            f"--spot-interruptions: {spot_interruptions:g} per instance-hour must be at least "
            "0 and below 1"
        )
    if node_mtbf is not None and node_mtbf.strip().startswith("-"):
        raise UsageError(
            f"--node-mtbf: '{node_mtbf.strip()}' must be greater than zero (one node's mean "
            "time between failures, e.g. 200d)"
        )
    return GoodputSettings(
        enabled=mode == "on",
        node_mtbf_s=parse_duration(node_mtbf, "--node-mtbf") if node_mtbf else None,
        storage=catalog.lookup("storage", storage) if storage else None,
        interval_s=parse_duration(interval, "--checkpoint-interval") if interval else None,
        async_checkpoint=async_checkpoint,
        eval_fraction=eval_fraction,
        spot_per_hour=spot_interruptions,
        storages=catalog.storage,
    )


def print_goodput(c: Any, out: Any) -> None:
    """The whole run in one line: goodput and where the wall time goes."""
    g = out.goodput
    if g is None or not g.enabled:
        return
    lost = ", ".join(
        f"{k} {format_duration(v)}" for k, v in g.parts_s.items() if v >= 0.0005 * g.wall_s
    )
    c.print(
        f"goodput {g.fraction:.1%}: {out.wall_tokens_per_s_per_device:,.0f} tokens/s per device "
        f"over the whole run; steady {format_duration(g.productive_s)} + lost {lost}"
    )
