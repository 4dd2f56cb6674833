"""`advisor emit` and the `--emit DIR` option of `recommend` and `report`: write a
launch bundle (advisor/launch/) for one scored plan.

`advisor emit` takes exactly the model, hardware and layout flags of `advisor
estimate` (its signature is estimate's, so the two cannot drift) plus `--out DIR`;
it scores the plan through `advisor estimate --json` and writes the bundle.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from advisor.cli import estimate_cmd
from advisor.errors import UsageError

EmitOpt = Annotated[
    Path | None,
    typer.Option(
        "--emit",
        help="Write a launch bundle for the #1 option into this new or empty folder "
        "(SkyPilot task and managed job, framework config, README).",
        show_default=False,
    ),
]


def check_emit(target: Path | None, flag: str = "--emit") -> None:
    """Refuse a bad --emit folder before the search runs."""
    if target is not None:
        from advisor.launch import check_target

        check_target(target, flag)


def emit_option(
    option: Any, catalog: Any, pricing: str, headroom: float, target: Path, flag: str = "--emit"
) -> None:
    """Write the bundle of one estimate or recommend option, and say so on stderr."""
    from advisor.launch import LaunchPlan, emit

    off_id = option.hardware.get("offering")
    offering = catalog.offerings.get(off_id) if off_id else None
    lp = LaunchPlan(option, offering, pricing=pricing, memory_headroom=headroom)
    names = emit(lp, target, flag)
    sys.stderr.write(f"advisor: wrote {target}/ ({', '.join(names)})\n")


def emit(**kwargs: Any) -> None:
    """Write a launch bundle (SkyPilot, framework config, README) for one layout."""
    from advisor.cli.common import catalog_from
    from advisor.describe import EstimateOut

    out = kwargs.pop("out")
    if out is None:
        raise UsageError("give --out DIR: the new or empty folder to write the bundle into")
    check_emit(out, "--out")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        estimate_cmd.estimate(**kwargs, json_out=True, strict=False)
    est = EstimateOut.model_validate_json(buf.getvalue())
    if est.fits is False:
        from advisor.errors import AdvisorError
        from advisor.units import format_bytes

        need = format_bytes(est.memory_per_device_bytes.total)
        cap = format_bytes(est.memory_capacity_bytes or 0)
        raise AdvisorError(
            f"the plan does not fit: {need} per device against {cap}; no bundle written "
            "(see `advisor estimate` with the same flags for what would fit)"
        )
    pricing = (kwargs.get("pricing") or "on-demand").strip().lower()
    cat = catalog_from(kwargs.get("catalog"))
    emit_option(est, cat, pricing, kwargs["memory_headroom"], out, "--out")


def _signature() -> tuple[inspect.Signature, dict[str, Any]]:
    """estimate's parameters without --json/--strict, plus --out."""
    hints = typing.get_type_hints(estimate_cmd.estimate, include_extras=True)
    sig = inspect.signature(estimate_cmd.estimate)
    params = [
        p.replace(annotation=hints[n])
        for n, p in sig.parameters.items()
        if n not in ("json_out", "strict")
    ]
    out_type = Annotated[
        Path | None,
        typer.Option("--out", "-o", help="New or empty folder for the bundle.", show_default=False),
    ]
    params.insert(
        0,
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=out_type, default=None),
    )
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    annotations = {p.name: p.annotation for p in params} | {"return": None}
    return inspect.Signature(params), annotations


emit.__signature__, emit.__annotations__ = _signature()  # type: ignore[attr-defined]


def emit_top(out: Any, req: Any, target: Path) -> None:
    """`--emit DIR` of recommend/report: the bundle of the #1 option."""
    from advisor.errors import AdvisorError

    if not out.options:
        raise AdvisorError(f"--emit {target}: no option to write a bundle for")
    kw = req.kwargs
    emit_option(out.options[0], req.catalog, kw["pricing"], kw["memory_headroom"], target)
