"""Parse and format the quantities users type: sizes, money, durations, counts.

One module so that every command rejects the same bad values with the same
reasons: empty, zero, negative, NaN, infinite or absurd.
"""

from __future__ import annotations

import math
import re

from advisor.errors import UsageError

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NUMBER = r"[0-9][0-9_,]*(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|\.[0-9]+(?:e[+-]?[0-9]+)?"
_SIZE_RE = re.compile(rf"^\s*({_NUMBER})\s*([kmbgtp]?)\s*$", re.IGNORECASE)
_DURATION_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "y": 365.25 * 86400.0,
}
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$", re.IGNORECASE)


def _number(text: str, what: str) -> float:
    cleaned = text.replace("_", "").replace(",", "")
    try:
        value = float(cleaned)
    except ValueError as e:
        raise UsageError(f"{what}: '{text}' is not a number") from e
    return value


def _check(value: float, text: str, what: str, maximum: float) -> float:
    if math.isnan(value) or math.isinf(value):
        raise UsageError(f"{what}: '{text}' is not a finite number")
    if value <= 0:
        raise UsageError(f"{what}: '{text}' must be greater than zero")
    if value > maximum:
        raise UsageError(f"{what}: '{text}' is absurdly large (limit {maximum:.3g})")
    return value


def _scaled(text: str, what: str, example: str) -> tuple[float, str]:
    if text is None or not str(text).strip():
        raise UsageError(f"{what}: empty value; expected something like {example}")
    raw = str(text).strip()
    low = raw.lower()
    if low in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        raise UsageError(f"{what}: '{raw}' is not a finite number")
    if low.startswith("-"):
        raise UsageError(f"{what}: '{raw}' must be greater than zero")
    m = _SIZE_RE.match(raw)
    if not m:
        raise UsageError(f"{what}: cannot read '{raw}'; expected something like {example}")
    return _number(m.group(1), what) * _SUFFIX[m.group(2).lower()], raw


def parse_size(text: str, what: str = "size", maximum: float = 1e16) -> float:
    """'1.3B', '350M', '2T', '1.3e9', '125k' -> a count (parameters or tokens)."""
    value, raw = _scaled(text, what, "1.3B, 350M, 2T or 1.3e9")
    return _check(value, raw, what, maximum)


def parse_money(text: str, what: str = "budget", maximum: float = 1e12) -> float:
    """'5000', '5k', '20M', '$5,000', 'USD 5000' -> US dollars."""
    if text is None or not str(text).strip():
        raise UsageError(f"{what}: empty value; expected something like 5000, 5k or $5,000")
    raw = str(text).strip()
    body = re.sub(r"^(?:usd|us\$|\$)\s*", "", raw, flags=re.IGNORECASE)
    body = re.sub(r"\s*(?:usd|\$)$", "", body, flags=re.IGNORECASE)
    if body.startswith("-") or body.startswith("$-"):
        raise UsageError(f"{what}: '{raw}' must be greater than zero")
    value, _ = _scaled(body, what, "5000, 5k, 20M or $5,000")
    return _check(value, raw, what, maximum)


def parse_duration(
    text: str, what: str = "duration", maximum: float = 100 * 365.25 * 86400
) -> float:
    """'36h', '14d', '90m', '2w', '3600' (seconds) -> seconds."""
    if text is None or not str(text).strip():
        raise UsageError(f"{what}: empty value; expected something like 36h or 14d")
    raw = str(text).strip()
    if raw.startswith("-"):
        raise UsageError(f"{what}: '{raw}' must be greater than zero (a deadline in the past?)")
    if raw.lower() in ("nan", "inf", "infinity"):
        raise UsageError(f"{what}: '{raw}' is not a finite number")
    m = _DURATION_RE.match(raw)
    if not m:
        raise UsageError(f"{what}: cannot read '{raw}'; expected something like 36h, 14d or 2w")
    unit = m.group(2).lower() or "s"
    if unit not in _DURATION_UNITS:
        raise UsageError(f"{what}: unknown unit '{m.group(2)}' in '{raw}'; use s, m, h, d or w")
    value = _number(m.group(1), what) * _DURATION_UNITS[unit]
    return _check(value, raw, what, maximum)


def parse_count(text: str | int, what: str = "count", maximum: int = 1_000_000) -> int:
    """A positive whole number such as a device count."""
    raw = str(text).strip()
    if not raw:
        raise UsageError(f"{what}: empty value; expected a whole number")
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError as e:
        raise UsageError(f"{what}: '{raw}' is not a whole number") from e
    if value <= 0:
        raise UsageError(f"{what}: '{raw}' must be at least 1")
    if value > maximum:
        raise UsageError(f"{what}: '{raw}' is absurdly large (limit {maximum})")
    return value


def format_size(n: float) -> str:
    """1.3e9 -> '1.30B' (three significant figures)."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


def format_bytes(n: float) -> str:
    """Bytes in GiB/MiB, binary units as device memory tools print them."""
    for suffix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n:.0f} B"


def format_money(usd: float) -> str:
    if usd >= 1e6:
        return f"${usd / 1e6:,.2f}M"
    if usd >= 1e4:
        return f"${usd:,.0f}"
    return f"${usd:,.2f}"


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
