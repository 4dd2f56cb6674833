"""How old a catalog price is, and the caveat an option carries when it is old.

A price's date is the date its source published it (`published`, as precise as the source
says: YYYY, YYYY-MM or YYYY-MM-DD, read as the last day it can mean, so that a price is
never called older than it is). Where the source gives no date, the date it was read
(`as_of`) stands in: the price is at least that old, so a caveat from it is never wrong.
Prices move month to month in 2026 (Nebius raised H100 from 3.85 to 4.50 per GPU-h on
2026-10-01; hardware-2026.md §2): STALE_AFTER_DAYS is six months, relative to today.
"""

from __future__ import annotations

import calendar
import datetime as dt

from advisor.catalog.schema import Figure, Offering

STALE_AFTER_DAYS = 183  # six months


def price_figure(offering: Offering, pricing: str) -> Figure | None:
    """The catalog figure behind an offering's price under a pricing model (None on-premises)."""
    if offering.kind == "onprem":
        return offering.onprem.purchase_price_usd if offering.onprem else None
    return offering.rental_price(pricing)


def price_date(fig: Figure) -> tuple[dt.date, bool]:
    """(date of the price, whether the source published that date) for one figure."""
    if not fig.published:
        return fig.as_of, False
    parts = [int(p) for p in fig.published.split("-")]
    year = parts[0]
    month = parts[1] if len(parts) > 1 else 12
    day = parts[2] if len(parts) > 2 else calendar.monthrange(year, month)[1]
    return dt.date(year, month, day), True


def price_date_label(fig: Figure | None) -> str:
    """What `catalog list offerings` shows: the published date, else 'read <as_of>'."""
    if fig is None:
        return ""
    return fig.published if fig.published else f"read {fig.as_of}"


def stale_price_caveat(
    offering: Offering, pricing: str, today: dt.date | None = None
) -> str | None:
    """A caveat when the price an option uses is more than six months old, else None."""
    fig = price_figure(offering, pricing)
    if fig is None:
        return None
    today = today or dt.date.today()
    when, published = price_date(fig)
    age = (today - when).days
    if age <= STALE_AFTER_DAYS:
        return None
    label = f"published {fig.published}" if published else f"undated, read {fig.as_of}"
    what = "purchase" if offering.kind == "onprem" else pricing
    return (
        f"{what} price is {age // 30} months old ({label}; more than 6 months before "
        f"{today}): check the current rate"
    )
