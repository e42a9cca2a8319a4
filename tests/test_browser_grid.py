"""The justified grid in a real headless Chromium at a desktop's size (1366x900) and a phone's
(390x844, touch), over a library of landscape, portrait, turned (EXIF orientation 6), square,
wide and panorama photos, and one of unknown size: the tiles of a row are one height, a row
fills the grid's width, a day's last row keeps the target height, a tile has its photo's
shape (a square without a size), the days of a month come in date order under their headers,
the next page joins the day it continues, selection works as before, and the Squares button
gives squares, remembered across a reload; and what the first screen's paint rests on (no
render-blocking request, deferred scripts, eager tiles first, static files cached for good).
The timeline's screenshots of docs/screenshots/ are taken here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import SIZES, ViewerServer, add_photo, indexed_for_admin, open_page, serving, shot
from shoebox.catalog.cache import TILE_ASPECTS
from shoebox.catalog.models import MODELS, Photo
from shoebox_viewer.grid import EAGER_TILES, PAGE_SIZE
from test_browser_viewerux import long_press

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROW = {"desktop": 180, "phone": 110}  # the target row heights of app.css
WIDEST = {"desktop": TILE_ASPECTS[1], "phone": 2.4}  # a phone's panorama: any tile fits beside
# (shown size, EXIF orientation): the shapes of the photos, in turn
SHAPES = [
    ((480, 320), 1),  # landscape 3:2
    ((240, 320), 1),  # portrait 3:4
    ((1280, 320), 1),  # a panorama, 4:1: shown at 3:1, the widest tile
    ((360, 360), 1),  # square
    ((240, 320), 6),  # portrait, stored turned
    ((640, 360), 1),  # 16:9
    ((384, 288), 1),  # 4:3
]
SATURDAY = dt.datetime(2025, 6, 14, 18, 0, 0)  # more photos than a page: the next page goes on
FRIDAY = dt.datetime(2025, 6, 13, 18, 0, 0)
TUESDAY = dt.datetime(2025, 5, 20, 18, 0, 0)
DAYS = [(SATURDAY, PAGE_SIZE + 10), (FRIDAY, 9), (TUESDAY, 5)]
TOTAL = sum(n for _, n in DAYS) + 1  # and one photo of unknown size on the Friday


@pytest.fixture(scope="module")
def grid_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    """A viewer over its own library of photos of many shapes."""
    from shoebox.catalog.models import Root
    from shoebox.sample import Shot, write_jpeg

    tmp = tmp_path_factory.mktemp("grid")
    root = tmp / "originals"
    i = 0
    for start, n in DAYS:
        for k in range(n):
            size, orientation = SHAPES[i % len(SHAPES)]
            taken = start - dt.timedelta(minutes=k)
            exif = Shot(taken, "+00:00", orientation=orientation)
            write_jpeg(root / f"{start:%Y-%m-%d}/P{i:03d}.jpg", exif, size, seed=i)
            i += 1
    settings, catalog, name, password = indexed_for_admin(tmp, root, workers=2)
    unknown = FRIDAY - dt.timedelta(minutes=30)
    add_photo(Root.get().id, f"{FRIDAY:%Y-%m-%d}/odd.heic", unknown, thumb_hash=None)
    try:
        with serving(settings) as url:
            yield ViewerServer(url, name, password, settings, root, catalog)
    finally:
        catalog.close()


@pytest.fixture(params=["desktop", "phone"])
def sized(request: Any, browser: Any, grid_server: ViewerServer) -> Iterator[tuple[str, Any]]:
    """(size, a logged-in page at that size); fails the test on a script error or CSP report."""
    problems: list[str] = []
    page = open_page(browser, grid_server, request.param, problems)
    try:
        yield request.param, page
    finally:
        page.context.close()
    assert problems == []


def expected_shapes(server: ViewerServer) -> dict[int, float]:
    """Every photo's aspect ratio as a tile shows it: its own, narrowed into TILE_ASPECTS;
    1 (a square) for a photo of unknown size."""
    assert server.catalog is not None
    server.catalog.db.bind(MODELS)  # another module's test may have bound them elsewhere
    low, high = TILE_ASPECTS
    rows = Photo.select(Photo.id, Photo.width, Photo.height).tuples()
    return {i: min(max(w / h, low), high) if w and h else 1.0 for i, w, h in rows}


def load_all(page: Any) -> None:
    """Scroll down until the infinite scroll has appended every page."""
    tiles = page.locator("#photos a.tile")
    expect(tiles).to_have_count(PAGE_SIZE)
    page.locator("#photos .more").scroll_into_view_if_needed()
    expect(tiles).to_have_count(TOTAL)
    expect(page.locator("#photos .more")).to_have_count(0)


LAYOUT = """() => [...document.querySelectorAll("#photos .day")].map(day => {
  const grid = day.querySelector(".grid").getBoundingClientRect();
  return {
    day: day.dataset.day, month: day.closest("section").dataset.month,
    label: day.querySelector("h3").textContent, left: grid.left, right: grid.right,
    tiles: [...day.querySelectorAll(".tile")].map(t => {
      const r = t.getBoundingClientRect();
      return {id: Number(t.dataset.id), x: r.left, y: r.top, w: r.width, h: r.height};
    }),
  };
})"""


def rows_of(tiles: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The tiles of a day in rows (a row's tiles share their top), top to bottom."""
    rows: dict[int, list[dict[str, Any]]] = {}
    for tile in tiles:
        rows.setdefault(round(tile["y"]), []).append(tile)
    return [sorted(rows[y], key=lambda t: t["x"]) for y in sorted(rows)]


def test_rows_are_justified_and_days_in_order(
    sized: tuple[str, Any], grid_server: ViewerServer
) -> None:
    size, page = sized
    page.wait_for_function(
        """() => [...document.querySelectorAll("#photos .tile img")]
          .filter(i => i.getBoundingClientRect().top < innerHeight)
          .every(i => i.complete && i.naturalWidth > 0)"""
    )  # the first screen's pictures, for the screenshot
    shot(page, f"timeline-{size}")
    load_all(page)
    days = page.evaluate(LAYOUT)
    assert [(d["month"], d["day"], d["label"]) for d in days] == [
        ("2025-06", "2025-06-14", "Saturday 14 June"),
        ("2025-06", "2025-06-13", "Friday 13 June"),
        ("2025-05", "2025-05-20", "Tuesday 20 May"),
    ]  # the Saturday's second page joined it: one header for the day
    assert [len(d["tiles"]) for d in days] == [PAGE_SIZE + 10, 10, 5]
    shapes = expected_shapes(grid_server)
    row = ROW[size]
    full_rows = 0
    for day in days:
        rows = rows_of(day["tiles"])
        assert len(rows) >= 2 or len(day["tiles"]) < 6
        for n, tiles in enumerate(rows):
            heights = [t["h"] for t in tiles]
            assert max(heights) - min(heights) < 1, (day["day"], n, heights)
            assert abs(tiles[0]["x"] - day["left"]) < 1
            right = tiles[-1]["x"] + tiles[-1]["w"]
            if n < len(rows) - 1:  # a full row: as wide as the grid, no lower than the target
                assert row - 1 < heights[0] < 2 * row - 1  # nor grown as far as it may
                assert abs(right - day["right"]) < 2, (day["day"], n, right, day["right"])
                full_rows += 1
            else:  # the day's last row is not stretched
                assert abs(heights[0] - row) < 1 and right <= day["right"] + 1
            for tile in tiles:
                shape = min(shapes[tile["id"]], WIDEST[size])
                assert tile["w"] / tile["h"] == pytest.approx(shape, rel=0.03), tile
    assert full_rows >= 5
    widest = max(
        (t for d in days for t in d["tiles"]), key=lambda t: float(t["w"] / t["h"])
    )  # the panorama, at 3:1 (2.4:1 on a phone)
    assert widest["w"] / widest["h"] == pytest.approx(WIDEST[size], rel=0.01)
    odd = [t for d in days for t in d["tiles"] if shapes[t["id"]] == 1.0]
    assert odd and all(abs(t["w"] - t["h"]) < 1 for t in odd)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size]["width"]


def test_selection_works_in_the_justified_grid(sized: tuple[str, Any]) -> None:
    size, page = sized
    tiles = page.locator("#photos a.tile")
    expect(tiles.first).to_be_visible()
    if size == "phone":
        long_press(page, tiles.nth(1))
        expect(page.locator(".selection-count")).to_have_text("1 selected")
        tiles.nth(2).tap()
        expect(page.locator(".selection-count")).to_have_text("2 selected")
        expect(page).not_to_have_url(re.compile(r"/photo/"))
        return
    page.locator(".select-toggle").click()
    tiles.nth(1).click()
    tiles.nth(5).click(modifiers=["Shift"])  # the range, in the order the rows read
    expect(page.locator(".selection-count")).to_have_text("5 selected")
    chosen = page.locator("#photos a.tile.selected").evaluate_all(
        "ts => ts.map(t => [t.getBoundingClientRect().top, t.getBoundingClientRect().left])"
    )
    assert chosen == sorted(chosen)  # what reads first in the grid comes first in the range
    expect(page).not_to_have_url(re.compile(r"/photo/"))  # the clicks opened nothing


def test_the_squares_setting_is_remembered(sized: tuple[str, Any]) -> None:
    _, page = sized
    button = page.locator("#photos .grid-style button")
    tiles = page.locator("#photos a.tile")
    expect(tiles.first).to_be_visible()
    expect(button).to_have_attribute("aria-pressed", "false")

    def squares() -> bool:
        boxes = tiles.evaluate_all(
            "ts => ts.slice(0, 40).map(t => [t.getBoundingClientRect().width, t.getBoundingClientRect().height])"
        )
        return all(abs(w - h) < 1 for w, h in boxes)

    assert not squares()
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#photos .sections.squares")).to_have_count(1)
    assert squares()
    page.reload()  # the cookie: the page comes as squares from the server
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(tiles.first).to_be_visible()
    assert squares()
    button.click()
    expect(page.locator("#photos .sections.squares")).to_have_count(0)
    assert not squares()
    page.reload()
    expect(button).to_have_attribute("aria-pressed", "false")
    assert not squares()


FIRST_SCREEN = """() => ({
  blocking: performance.getEntriesByType("resource")
    .filter((e) => e.renderBlockingStatus === "blocking").map((e) => e.name),
  stylesheets: document.querySelectorAll('link[rel="stylesheet"]').length,
  inline: document.querySelectorAll("head > style").length,
  scripts: [...document.scripts].map((s) => [s.getAttribute("src") || "", s.defer, s.async]),
  statics: performance.getEntriesByType("resource")
    .filter((e) => new URL(e.name).pathname.startsWith("/static/"))
    .map((e) => [e.name, e.transferSize]),
  tiles: [...document.querySelectorAll("#photos .tile img")].map((i) => [
    i.getAttribute("loading"), i.getAttribute("fetchpriority"),
    i.getBoundingClientRect().top < innerHeight,
  ]),
})"""


def test_the_first_screen_waits_for_nothing_but_the_page(
    sized: tuple[str, Any], grid_server: ViewerServer
) -> None:
    """What bench/viewer_paint.py's first screen rests on: the timeline makes no request that
    holds its rendering (its stylesheet is inline), its scripts are deferred and only those it
    needs, the first screen's tiles load at once and first, and on a later visit the scripts
    come from the browser's cache without a request (versioned URLs, cached for a year)."""
    _, page = sized  # logged in: it has opened the timeline once
    page.goto(grid_server.url)
    expect(page.locator("#photos a.tile").first).to_be_visible()
    seen = page.evaluate(FIRST_SCREEN)
    assert seen["blocking"] == [] and seen["stylesheets"] == 0 and seen["inline"] == 1
    names = set()
    for src, deferred, is_async in seen["scripts"]:
        assert re.fullmatch(r"/static/[a-z]+\.js\?v=[0-9a-f]{12}", src), src
        assert deferred and not is_async, src
        names.add(src.split("?")[0].removeprefix("/static/"))
    assert names == {"api.js", "app.js", "share.js"}  # not people, places, edit, fullscreen
    tiles = seen["tiles"]
    assert len(tiles) == PAGE_SIZE
    assert all(t[:2] == ["eager", "high"] for t in tiles[:EAGER_TILES])
    assert all(t[:2] == ["lazy", None] for t in tiles[EAGER_TILES:])
    first_screen = [t for t in tiles if t[2]]
    assert 3 <= len(first_screen) <= EAGER_TILES and tiles[: len(first_screen)] == first_screen
    scripts = {url for url, _ in seen["statics"]}
    assert {u.split("?")[0].rsplit("/", 1)[1] for u in scripts} == names
    assert all(size == 0 for _, size in seen["statics"]), seen["statics"]  # not even a 304
    for url in scripts:
        answer = page.request.get(url)
        assert (
            answer.ok and answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        )
        for other in (url.split("?")[0], url.split("?")[0] + "?v=0123456789ab"):
            assert page.request.get(other).headers["cache-control"] == "public, max-age=3600"
