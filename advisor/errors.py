"""Errors a user can act on. The CLI prints them as one line and exits with `exit_code`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class AdvisorError(Exception):
    """Base: a problem with the user's data or environment (exit 1)."""

    exit_code = 1


class DataError(AdvisorError):
    """A file or figure is malformed or missing (exit 1)."""

    exit_code = 1


class UsageError(AdvisorError):
    """A command-line value is invalid (exit 2)."""

    exit_code = 2


def nearest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest valid name to a typo, or None when nothing is close."""
    import difflib

    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hits[0]] if hits else None


def unknown(
    kind: str, name: str, choices: list[str] | tuple[str, ...], hint: str | None = None
) -> UsageError:
    """An 'unknown X' error that suggests `hint`, else the nearest valid name by spelling."""
    hint = hint or nearest(name, choices)
    tail = f"; did you mean '{hint}'?" if hint else f"; see 'advisor catalog list {kind}s'"
    if kind not in ("accelerator", "offering", "network", "cpu"):
        tail = f"; did you mean '{hint}'?" if hint else f"; choose from: {', '.join(choices[:12])}"
    return UsageError(f"unknown {kind} '{name}'{tail}")


def one_of(value: str | None, kind: str, choices: tuple[str, ...]) -> str | None:
    """`value` lower-cased when it is one of `choices` (None stays None), else 'unknown X'."""
    if value is None:
        return None
    v = value.strip().lower()
    if v not in choices:
        raise unknown(kind, value, choices)
    return v


def first_field_error(path: object, e: ValidationError) -> str:
    """'path: field.path: message' for the first error of a pydantic ValidationError."""
    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    return f"{path}: {field}: {err['msg']}"
