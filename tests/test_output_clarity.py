"""Small output defects from issue 9, item 11: each printed figure says what it is."""

from __future__ import annotations

import json
import re

SHARDED = ["estimate", "--params", "1.3B", "--accelerator", "h100", "--count", "1024"]
SHARDED += ["--zero", "3"]


def test_sharded_state_bytes_per_param_are_not_rounded_to_zero(cli) -> None:
    doc = json.loads(cli(*SHARDED, "--json").out)
    mem, params = doc["memory_per_device_bytes"], doc["params"]
    r = cli(*SHARDED)
    assert r.code == 0, r.err
    for part in ("weights", "gradients", "optimizer"):
        row = next(ln for ln in r.out.splitlines() if ln.strip().startswith(part))
        per = float(re.findall(r"[\d.e+-]+", row.split()[-1])[0])
        assert per > 0, row
        assert abs(per - mem[part] / params) <= 0.01 * mem[part] / params, row
