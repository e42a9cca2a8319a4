"""A page of a grid of photos: read from the search engine a page at a time by keyset cursor
(`?cursor=` continues a grid, `?month=YYYY-MM` jumps to a month) and grouped into month
sections, each split into days; tiles take their photos' shapes (`tile_shape`), or are squares
when the `sb_grid` cookie says so (`grid_squares`). Every page of photos (the timeline, an
album, a folder, a person) is such a grid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import bottle

from shoebox.catalog import search
from shoebox.catalog.cache import TILE_ASPECTS
from shoebox.errors import UsageError
from shoebox_viewer.context import url
from shoebox_viewer.formats import day_label, month_label

PAGE_SIZE = 120  # tiles per page of a grid
EAGER_TILES = 20  # the first tiles of a page's grid, loaded at once (the first screen's)
_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
SHAPES = 20  # a tile's aspect ratio is rounded to 1/20: the classes .a10 to .a60 of app.css
GRID_COOKIE = "sb_grid"  # "squares": the grids are of squares (set by app.js's toggle)


@dataclass(frozen=True)
class Grid:
    """One page of a grid: its month groups, the link to the next page, and the total."""

    groups: list[tuple[str, str, list[dict[str, Any]]]]  # key "2024-07", label, items
    next_url: str | None
    total: int | None
    error: str


def read_grid(query: search.Query) -> Grid:
    """The page of `query` that `?cursor=` or `?month=` asks for, grouped by month."""
    request = bottle.request
    cursor = request.query.get("cursor") or None
    month = request.query.get("month") or ""
    try:
        if month and not cursor:
            found = _MONTH.match(month)
            if not found or not 1 <= int(found[2]) <= 12:
                raise UsageError(f"month: wants YYYY-MM, not {month[:20]!r}")
            cursor = search.cursor_for_month(query, int(found[1]), int(found[2]))
            if cursor is None:
                return Grid([], None, 0, "")
        page = search.page(query, cursor=cursor, limit=PAGE_SIZE, total=cursor is None)
    except UsageError as exc:
        return Grid([], None, None, str(exc))
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.query.items() if k not in ("cursor", "month", "part")}
        params["cursor"] = page.next_cursor
        next_url = url(request.path) + "?" + urlencode(params)
    return Grid(group_by_month(page.items), next_url, page.total, "")


def group_by_month(
    items: list[dict[str, Any]],
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Items in timeline order split into months: (key "2024-07", label, items)."""
    return _grouped(items, len("2024-07"), month_label)


def _grouped(
    items: list[dict[str, Any]], width: int, label: Callable[[str], str]
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Runs of items whose local date starts alike (its first `width` characters)."""
    groups: list[tuple[str, str, list[dict[str, Any]]]] = []
    for item in items:
        key = (item["taken_at_local"] or item["taken_at"])[:width]
        if not groups or groups[-1][0] != key:
            groups.append((key, label(key), []))
        groups[-1][2].append(item)
    return groups


def grid_squares() -> bool:
    """Whether this browser asked for grids of squares (the `sb_grid` cookie of app.js)."""
    return bool(bottle.request.get_cookie(GRID_COOKIE) == "squares")


def group_by_day(
    items: list[dict[str, Any]],
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """A month's items split into days (by local date): (key "2024-07-14", label, items)."""
    return _grouped(items, len("2024-07-14"), day_label)


def tile_shape(item: dict[str, Any]) -> str:
    """The class that gives a tile of the justified grid its photo's shape: "a27" for an
    aspect ratio of 27/20, rounded into TILE_ASPECTS (the tile rendition's own range); "a20",
    a square, for a photo of unknown size."""
    width, height = item.get("width"), item.get("height")
    if not width or not height or width < 0 or height < 0:
        return f"a{SHAPES}"
    low, high = TILE_ASPECTS
    return f"a{round(min(max(width / height, low), high) * SHAPES)}"
