"""Memories in a real headless Chromium at a desktop's and a phone's size: the timeline's
"On this day" strip (fetched after the first paint), the /memories page and a year's page.
The photos of this day are catalog rows that borrow a sample photo's renditions; they are
removed afterwards, so the other browser tests see the library as it was."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from conftest import SIZES, ViewerServer, add_photo, loaded, open_page, shot
from shoebox.catalog.models import File, Photo, Root

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_on_this_day_and_the_memories_pages(
    browser: Any, viewer_server: ViewerServer, size: str
) -> None:
    today = dt.date.today()
    borrowed = Photo.select().where(Photo.thumb_hash.is_null(False)).order_by(Photo.id).first()
    root_id = Root.select().first().id
    added = [
        add_photo(root_id, f"memories/{year}.jpg", dt.datetime(year, today.month, today.day, 12),
                  thumb_hash=borrowed.thumb_hash, width=borrowed.width, height=borrowed.height)
        for year in (2020, 2016, 2012)  # leap years: every day of the year is in them
    ]  # fmt: skip
    problems: list[str] = []
    page = open_page(browser, viewer_server, size, problems)
    try:
        strip = page.locator(".memories-strip")
        expect(strip.get_by_role("heading", name=re.compile("On this day"))).to_be_visible()
        tiles = strip.locator("a.tile")
        expect(tiles).to_have_count(3)
        assert tiles.evaluate_all("els => els.map(e => Number(e.dataset.id))") == added
        loaded(page, ".memories-strip a.tile img")
        tops = tiles.evaluate_all("els => els.map(e => Math.round(e.getBoundingClientRect().top))")
        assert len(set(tops)) == 1  # one row, scrolled sideways when it is longer
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= SIZES[size]["width"]
        expect(strip.get_by_role("heading", name="2020 · ")).to_be_visible()

        page.locator(".nav a", has_text="Memories").first.evaluate("a => a.click()")
        expect(page).to_have_url(re.compile(r"/memories$"))
        expect(page.locator(".memories a.tile")).to_have_count(3)
        expect(page.locator(".memory-years a", has_text="2016")).to_be_visible()
        loaded(page, ".memories a.tile img")
        shot(page, f"memories-{size}")

        page.locator(".memories a.tile").first.click()  # the newest: 2020's
        expect(page).to_have_url(re.compile(rf"/photo/{added[0]}\?q=month"))
        page.goto(viewer_server.url + "memories/2016")
        expect(page.locator(".memories a.tile")).to_have_count(1)
        expect(page.locator(".memories section.month h2")).to_have_text(today.strftime("%B"))
    finally:
        page.context.close()
        File.delete().where(File.photo.in_(added)).execute()
        Photo.delete().where(Photo.id.in_(added)).execute()
    assert problems == []
