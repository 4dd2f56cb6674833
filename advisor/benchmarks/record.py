"""The base of every benchmark record (unknown fields are errors, numbers finite), the
timing statistics of one case, and the small GPT's shape; advisor/benchmarks/results.py
builds the rows and the results file on them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base: unknown fields are errors and numbers must be finite."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="null")


class Stats(Record):
    """Timing statistics of one case, in seconds per call."""

    warmup: int = Field(ge=0, description="Untimed calls before the samples.")
    repeats: int = Field(ge=1, description="Timed samples.")
    inner: int = Field(default=1, ge=1, description="Calls per sample (for very short calls).")
    median_s: float = Field(gt=0)
    mean_s: float = Field(gt=0)
    min_s: float = Field(gt=0)
    max_s: float = Field(gt=0)
    stdev_s: float = Field(ge=0)
    iqr_s: float = Field(ge=0, description="Interquartile range of the samples.")
    spread: float = Field(ge=0, description="iqr / median: relative spread of the samples.")
    samples_s: list[float] = Field(description="Every sample, per call.")


class GPTShape(Record):
    """A small nanoGPT-style model (see advisor/benchmarks/gpt.py) and its micro-batch."""

    name: str = "gpt"
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    heads: int = Field(ge=1)
    vocab: int = Field(ge=2)
    seq_len: int = Field(ge=1)
    batch: int = Field(default=1, ge=1, description="Sequences per micro-batch.")
