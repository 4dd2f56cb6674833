"""The base of every catalog model: strict validation, ids, dtypes, and the sourced
number (`Figure`: a value with its `source` and `as_of` date) and the `Source` it cites."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")
Dtype = Literal["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8"]

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", min_length=1, max_length=80)]


class Strict(BaseModel):
    """Base for catalog models: unknown fields are errors, so typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(Strict):
    """One sourced number."""

    value: float = Field(
        ge=0, allow_inf_nan=False, description="The figure, in the unit its field names."
    )
    source: str = Field(min_length=1, description="Source key from sources.yaml, or an address.")
    as_of: dt.date = Field(description="Date the source was read (or the source's own date).")
    published: str | None = Field(
        default=None,
        pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
        description="When the source published the figure (YYYY, YYYY-MM or YYYY-MM-DD, as "
        "precise as it says), where it says; as_of is when it was read. Shows a price's age.",
    )
    note: str | None = Field(default=None, description="Why this value, derivations, caveats.")
    conflict: str | None = Field(
        default=None, description="Other values other sources give, with their sources."
    )
    derived: bool = Field(default=False, description="Arithmetic on sourced numbers, not quoted.")


class Source(Strict):
    """A document or page that figures cite by key."""

    key: str = Field(min_length=1)
    title: str
    address: str = Field(description="URL, or repository + path + commit.")
    as_of: dt.date
