"""The plan arrays the search scores and the step-time parts it returns.

`Plans` holds one element per layout (advisor/search.py builds them); `StepTime`
holds the seconds per step by part, whose sum is the step time (the design's
`breakdown_s` keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REC_CODES = {"none": 0, "selective": 1, "full": 2}
BREAKDOWN_KEYS = (
    "compute",
    "memory_bound",
    "tp_comm",
    "pp_bubble",
    "pp_comm",
    "dp_comm_exposed",
    "optimizer",
    "cp_comm",
    "ep_comm",
)


@dataclass
class Plans:
    """Plan fields as equal-length integer arrays."""

    dp: np.ndarray
    tp: np.ndarray
    pp: np.ndarray
    vpp: np.ndarray
    sp: np.ndarray  # 0/1
    zero: np.ndarray
    mb: np.ndarray
    m: np.ndarray  # micro-batches per step per replica (gradient accumulation)
    rec: np.ndarray  # REC_CODES
    cp: np.ndarray | None = None  # context-parallel degree (default 1)
    ep: np.ndarray | None = None  # expert-parallel degree (default 1; advisor/model/moe.py)

    def __post_init__(self) -> None:
        if self.cp is None:
            self.cp = np.ones_like(self.dp)
        if self.ep is None:
            self.ep = np.ones_like(self.dp)

    @classmethod
    def of(cls, **fields: Any) -> Plans:
        fields.setdefault("cp", 1)
        fields.setdefault("ep", 1)
        arrays = {k: np.atleast_1d(np.asarray(v)) for k, v in fields.items()}
        n = max(a.size for a in arrays.values())
        return cls(**{k: np.broadcast_to(a, (n,)).astype(np.int64) for k, a in arrays.items()})

    def __len__(self) -> int:
        return int(self.dp.size)

    # The names memory.py reads from a ParallelPlan.
    @property
    def micro_batch(self) -> np.ndarray:
        return self.mb

    @property
    def grad_accum(self) -> np.ndarray:
        return self.m

    def take(self, idx: Any) -> Plans:
        return Plans(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass
class StepTime:
    """Seconds per step by part (arrays); the parts add up to `total`."""

    compute: np.ndarray
    memory_bound: np.ndarray
    tp_comm: np.ndarray
    pp_bubble: np.ndarray
    pp_comm: np.ndarray
    dp_comm_exposed: np.ndarray
    optimizer: np.ndarray
    dp_comm_total: np.ndarray  # before overlap, for reporting
    cp_comm: np.ndarray | None = None  # ring attention's exposed K/V exchange
    ep_comm: np.ndarray | None = None  # MoE token all-to-all, exposed (advisor/model/moe.py)

    def __post_init__(self) -> None:
        if self.cp_comm is None:
            self.cp_comm = np.zeros_like(self.compute)
        if self.ep_comm is None:
            self.ep_comm = np.zeros_like(self.compute)

    @property
    def total(self) -> np.ndarray:
        return np.sum([getattr(self, k) for k in BREAKDOWN_KEYS], axis=0)

    def breakdown(self, i: int) -> dict[str, float]:
        """Seconds by part for plan i (the design's `breakdown_s`)."""
        return {k: float(getattr(self, k)[i]) for k in BREAKDOWN_KEYS}
