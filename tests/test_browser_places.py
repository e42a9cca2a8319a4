"""The Places page in a real headless Chromium: the offline world map is drawn from the served
outlines, the sample library's geotagged photos (Lisbon, Kyoto, a beach off Nantucket) appear
as clusters, zooming splits nothing it should not, and clicking a cluster shows its photos.
The photo page names the place and pins it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import ViewerServer

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
