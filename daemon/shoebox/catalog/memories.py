"""Memories: the photos of this day in earlier years, and the highlights of a year, as one
member sees them (their own private photos, not another's; nothing archived).

Both are searches that a member could type (`month:12 day:5 before:2026-01-01`,
`year:2019 month:7`), so that a memory opened as a grid or a photo page walks the same list
with previous and next.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shoebox.catalog import search, visibility

HIGHLIGHTS_PER_MONTH = 8  # photos a year's page shows of each month
_LOOKED_AT = 200  # of a month's photos, the newest this many are chosen from


def on_this_day_text(today: dt.date) -> str:
    """The search for this day of the year in every earlier year."""
    return f"month:{today.month} day:{today.day} before:{today.year:04d}-01-01"


def on_this_day(
    viewer: visibility.Viewer, today: dt.date, limit: int = 60
) -> list[tuple[int, list[dict[str, Any]]]]:
    """(year, photos) for each earlier year with photos taken on this day, newest first;
    at most `limit` photos in all."""
    found = search.page(
        search.parse(on_this_day_text(today), viewer=viewer), limit=limit, total=False
    )
    years: list[tuple[int, list[dict[str, Any]]]] = []
    for item in found.items:
        year = int((item["taken_at_local"] or item["taken_at"])[:4])
        if not years or years[-1][0] != year:
            years.append((year, []))
        years[-1][1].append(item)
    return years


def years(viewer: visibility.Viewer) -> list[tuple[int, int]]:
    """(year, photos) for every year with photos, newest first."""
    counts: dict[int, int] = {}
    for year, _, n in search.months(search.parse("", viewer=viewer)):
        counts[year] = counts.get(year, 0) + n
    return sorted(counts.items(), reverse=True)


def highlights(
    viewer: visibility.Viewer, year: int, per_month: int = HIGHLIGHTS_PER_MONTH
) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """(month, photos in it, a few of them) for each month of `year` with photos, oldest
    month first: its favourites, then photos spread over the month."""
    months = search.months(search.parse(f"year:{year}", viewer=viewer))
    chosen: list[tuple[int, int, list[dict[str, Any]]]] = []
    for _, month, count in sorted(months, key=lambda row: row[1]):
        text = f"year:{year} month:{month}"
        favourites = search.page(
            search.parse(text + " favorite:yes", viewer=viewer), limit=per_month, total=False
        ).items
        rest = search.page(search.parse(text, viewer=viewer), limit=_LOOKED_AT, total=False).items
        taken = {item["id"] for item in favourites}
        rest = [item for item in rest if item["id"] not in taken]
        wanted = per_month - len(favourites)
        step = max(1, len(rest) // wanted) if wanted > 0 else 1
        spread = rest[::step][: max(0, wanted)]
        items = sorted(favourites + spread, key=lambda item: item["taken_at"], reverse=True)
        chosen.append((month, count, items))
    return chosen
