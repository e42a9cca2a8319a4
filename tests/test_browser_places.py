"""The Places page in a real headless Chromium: the offline world map is drawn from the served
outlines, the sample library's geotagged photos (Lisbon, Kyoto, a beach off Nantucket) appear
as clusters, zooming splits nothing it should not, and clicking a cluster shows its photos.
The photo page names the place and pins it. The first view fits the photos, on a desktop and
on a phone, and clusters never overlap."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from conftest import SIZES, ViewerClient, ViewerServer, open_page, serving

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_the_map_draws_the_world_and_clusters_and_opens_one(
    page: Any, viewer_server: ViewerServer
) -> None:
    page.goto(viewer_server.url + "places")
    world = page.locator(".geo-map[data-interactive=yes]")
    expect(world).to_have_attribute("data-drawn", re.compile(r"^2\d\d$"))
    assert page.locator(".geo-map path.land").count() > 200
    expect(world).to_have_attribute("data-shown", re.compile(r"^[1-9]"))
    expect(page.locator(".geo-status")).to_have_text(re.compile(r"\d+ photos? here"))
    # the places list links to searches
    expect(page.locator(".place-list.cities")).to_contain_text("Lisbon")
    expect(page.locator(".place-list.cities")).to_contain_text("Kyoto")

    # zoom in on Lisbon with the hash (both photos in one cell), then open its cluster
    page.goto(viewer_server.url + "places#38.70,-9.17,6")
    lisbon = page.locator(".geo-map .cluster")
    expect(lisbon).to_have_count(1)
    expect(lisbon).to_have_attribute("data-count", "2")
    lisbon.click()
    expect(page).to_have_url(re.compile(r"/search\?q=near%3A"))
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(2)


def test_buttons_zoom_and_the_view_is_kept_in_the_hash(
    page: Any, viewer_server: ViewerServer
) -> None:
    page.goto(viewer_server.url + "places#35.01,135.77,3")
    world = page.locator(".geo-map[data-interactive=yes]")
    expect(world).to_have_attribute("data-shown", re.compile(r"^[1-9]"))
    page.get_by_role("button", name="Zoom in").click()
    expect(page).to_have_url(re.compile(r"#35\.\d+,135\.\d+,4\.00$"))
    page.get_by_role("button", name="Zoom out").click()
    expect(page).to_have_url(re.compile(r",3\.00$"))


def test_the_photo_page_names_the_place_and_pins_it(page: Any, viewer_server: ViewerServer) -> None:
    page.goto(viewer_server.url + "search?q=city:kyoto")
    page.locator(".grid .tile").first.click()
    expect(page.locator(".place-name")).to_have_text("Kyoto, Japan")
    pin_map = page.locator(".geo-map.small")
    expect(pin_map).to_have_attribute("data-drawn", re.compile(r"^2\d\d$"))
    expect(pin_map.locator("circle.pin")).to_have_count(1)
    page.locator(".pin-map-link").click()
    expect(page).to_have_url(re.compile(r"/places#35\.01160,135\.76810,10$"))


# Iceland to St Petersburg, crowded in the middle: (lat, lng): photos taken there
NORTH = {
    (64.1466, -21.9426): 3,  # Reykjavik
    (65.6835, -18.0878): 1,  # Akureyri
    (59.9343, 30.3351): 12,  # St Petersburg
    (59.4370, 24.7536): 4,  # Tallinn
    (60.1699, 24.9384): 6,  # Helsinki
    (59.3293, 18.0686): 8,  # Stockholm
    (59.9139, 10.7522): 5,  # Oslo
    (55.6761, 12.5683): 20,  # Copenhagen
    (53.5511, 9.9937): 20,  # Hamburg
    (52.5200, 13.4050): 30,  # Berlin
}
CIRCLES = """els => els.map(e => {
    const r = e.querySelector('circle').getBoundingClientRect();
    return [r.x + r.width / 2, r.y + r.height / 2, r.width / 2, Number(e.dataset.count)];
})"""


def test_the_first_view_fits_every_photo_and_clusters_never_overlap(
    browser: Any, viewer_client: ViewerClient
) -> None:
    """On a desktop and on a 390-px phone the map opens on the photos (Reykjavik and St
    Petersburg at its sides, not the world with Europe in a corner), every photo is in a
    cluster inside the map, and no two clusters' circles overlap, there or zoomed out."""
    vc = viewer_client
    taken = dt.datetime(2024, 6, 1, 12, 0)
    for n, ((lat, lng), count) in enumerate(NORTH.items()):
        for i in range(count):
            vc.add_photo(f"north/{n}/{i}.jpg", taken, lat=lat, lng=lng)
    total = sum(NORTH.values())
    problems: list[str] = []
    settings = vc.library.settings
    with serving(settings) as url:
        server = ViewerServer(url, "ada", vc.PASSWORD, settings, vc.library.root)
        for size in SIZES:
            page = open_page(browser, server, size, problems)
            try:
                page.goto(url + "places")
                expect(page.locator(".geo-status")).to_have_text(f"{total} photos here")
                world = page.locator(".geo-map[data-interactive=yes]")
                box = world.bounding_box()
                assert box is not None
                for zoom_out in (False, True):
                    if zoom_out:
                        page.get_by_role("button", name="Zoom out").click()
                        expect(page).to_have_url(re.compile(r"#"))
                        expect(page.locator(".geo-status")).to_have_text(f"{total} photos here")
                    circles = page.locator(".geo-map .cluster").evaluate_all(CIRCLES)
                    assert sum(c[3] for c in circles) == total, (size, circles)
                    for i, (x, y, r, _) in enumerate(circles):
                        for x2, y2, r2, _ in circles[i + 1 :]:
                            apart = ((x - x2) ** 2 + (y - y2) ** 2) ** 0.5
                            assert apart >= r + r2, (size, zoom_out, circles)
                    if not zoom_out:  # fitted: inside the map, and filling it
                        xs, ys = [c[0] for c in circles], [c[1] for c in circles]
                        for x, y, r, _ in circles:
                            assert box["x"] <= x - r and x + r <= box["x"] + box["width"], size
                            assert box["y"] <= y - r and y + r <= box["y"] + box["height"], size
                        spread = max(
                            (max(xs) - min(xs)) / box["width"], (max(ys) - min(ys)) / box["height"]
                        )
                        assert spread > 0.5, (size, circles)
            finally:
                page.context.close()
    assert problems == []
