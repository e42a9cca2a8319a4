"""Memories: /memories (this day in earlier years, and every year) and /memories/YEAR (a
year's highlights, month by month). The timeline's top fetches this day's strip
(`/memories?part=strip`) once it is shown, so the strip never delays its first paint. What they hold is read by `shoebox.catalog.memories`, as the requester sees it;
they are drawn with the timeline's own grid (`_grid.html`), one section a year or a month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import bottle

from shoebox.catalog import memories, visibility
from shoebox_viewer import access
from shoebox_viewer.context import Context, url

_STRIP = 12  # photos in the timeline's "On this day"


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/memories and /memories/YEAR."""

    @app.get("/memories")
    @access.browse
    def memories_page() -> str:
        today = dt.date.today()
        viewer = access.who().sees
        if bottle.request.query.get("part") == "strip":  # the timeline's top, when there is one
            day = this_day(viewer, today, limit=_STRIP)
            return ctx.render("_memories.html", **day) if day["memory_grid"]["groups"] else ""
        return ctx.render(
            "memories.html",
            day_label=today.strftime("%-d %B"),
            years=memories.years(viewer),
            can_change=False,  # no selection bar here: a memory opens in the timeline
            year=None,  # no year is the current one
            **this_day(viewer, today),
        )

    @app.get("/memories/<year:int>")
    @access.browse
    def year_page(year: int) -> str:
        if not 1 <= year <= 9999:
            raise bottle.HTTPError(404, "no such year")
        viewer = access.who().sees
        years = memories.years(viewer)
        groups = [
            (f"{year:04d}-{month:02d}", dt.date(year, month, 1).strftime("%B"), items)
            for month, _, items in memories.highlights(viewer, year)
        ]
        return ctx.render(
            "memories_year.html",
            year=year,
            total=dict(years).get(year, 0),
            years=years,
            memory_grid={"groups": groups, "next_url": None},
            year_qs="?" + urlencode({"q": f"year:{year}"}),
            prefix=url(""),
            can_change=False,
        )


def this_day(viewer: visibility.Viewer, today: dt.date, limit: int = 60) -> dict[str, Any]:
    """What a page needs to show this day in earlier years: `memory_grid` (a section a
    year) and `day_qs` (the search, for the photo pages' previous and next)."""
    groups = [
        (str(year), f"{year} · {_ago(today.year - year)}", items)
        for year, items in memories.on_this_day(viewer, today, limit)
    ]
    return {
        "memory_grid": {"groups": groups, "next_url": None},
        "day_qs": "?" + urlencode({"q": memories.on_this_day_text(today)}),
        "prefix": url(""),
    }


def _ago(years: int) -> str:
    return "a year ago" if years == 1 else f"{years} years ago"
