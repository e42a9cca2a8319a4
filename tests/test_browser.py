"""The viewer end to end in a real headless Chromium (Playwright) against a real waitress
server (the `viewer_server` fixture): log in, scroll the timeline, search, step through
photos with the keyboard, favourite one, play the sample video."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import BROWSER_TIMEOUT_MS, SCROLL_PHOTOS, ViewerServer
from shoebox_viewer.grid import PAGE_SIZE

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_login_is_required(browser: Any, viewer_server: ViewerServer) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(viewer_server.url + "favorites")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.fill("input[name=name]", viewer_server.name)
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
        page.fill("input[name=name]", viewer_server.name)
        page.fill("input[name=password]", viewer_server.password)
        page.click("button[type=submit]")
        expect(page).to_have_url(viewer_server.url + "favorites")
    finally:
        context.close()


def test_timeline_scrolls_to_the_end(page: Any) -> None:
    tiles = page.locator("#photos a.tile")
    expect(tiles).to_have_count(PAGE_SIZE)
    expect(page.locator("section.month h2").first).to_be_visible()
    total = SCROLL_PHOTOS + 7  # and the sample library's photos
    page.locator("#photos a.tile").last.scroll_into_view_if_needed()  # the next page comes
    expect(tiles).to_have_count(total)
    ids = tiles.evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == total  # nothing twice
    months = page.locator("section.month").evaluate_all("els => els.map(e => e.dataset.month)")
    assert len(months) == len(set(months))  # a month continued, not repeated
    expect(page.locator("#photos .more")).to_have_count(0)


def test_the_month_column_jumps_to_a_month(page: Any) -> None:
    """The column is filled in from /api/months after the page has come."""
    july = page.locator(".scrubber a[title^='July 2023']")
    expect(july).to_be_visible()
    july.click()
    expect(page).to_have_url(re.compile(r"month=2023-07"))
    expect(page.locator("section.month").first).to_have_attribute("data-month", "2023-07")


def test_search_narrows_and_explains_bad_queries(page: Any) -> None:
    page.fill("input[name=q]", "kyoto")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#photos a.tile")).to_have_count(2)  # the Kyoto photo and clip
    page.fill("input[name=q]", "kyoto type:video")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#photos a.tile")).to_have_count(1)
    page.fill("input[name=q]", "year:soon")
    page.press("input[name=q]", "Enter")
    expect(page.get_by_role("alert")).to_contain_text("wants a number")
    expect(page.locator("#photos a.tile")).to_have_count(0)


def test_open_a_photo_step_with_keys_and_favourite_it(
    page: Any, viewer_server: ViewerServer
) -> None:
    page.locator("#photos a.tile").first.click()
    expect(page.locator("article.photo")).to_be_visible()
    first = page.locator("article.photo").get_attribute("data-id")
    expect(page.locator(".meta")).to_contain_text("Taken")
    page.keyboard.press("ArrowRight")
    expect(page.locator("article.photo")).not_to_have_attribute("data-id", first or "")
    second = page.locator("article.photo").get_attribute("data-id")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("article.photo")).to_have_attribute("data-id", first or "")
    page.keyboard.press("ArrowRight")
    expect(page.locator("article.photo")).to_have_attribute("data-id", second or "")
    favourite = page.locator('[data-action="favorite"]')
    expect(favourite).to_have_attribute("aria-pressed", "false")
    favourite.click()
    expect(favourite).to_have_attribute("aria-pressed", "true")
    page.goto(viewer_server.url + "favorites")
    expect(page.locator(f'#photos a.tile[data-id="{second}"]')).to_have_count(1)
    page.goto(viewer_server.url + f"photo/{second}")  # leave the library as it was
    page.locator('[data-action="favorite"]').click()
    expect(page.locator('[data-action="favorite"]')).to_have_attribute("aria-pressed", "false")


def test_add_to_a_new_album(page: Any, viewer_server: ViewerServer) -> None:
    page.goto(viewer_server.url + "?q=Lisbon")
    page.locator("#photos a.tile").first.click()
    form = page.locator("form.add-to-album")
    form.locator("select").select_option("new")
    form.locator("input[name=title]").fill("Lisbon trip")
    form.locator("button").click()
    expect(page.locator(".status")).to_contain_text("Added to “Lisbon trip”")
    page.goto(viewer_server.url + "albums")
    page.get_by_text("Lisbon trip").click()
    expect(page.locator("#photos a.tile")).to_have_count(1)


def test_play_the_sample_video(page: Any, viewer_server: ViewerServer) -> None:
    page.goto(viewer_server.url + "?q=type:video")
    page.locator("#photos a.tile").first.click()
    video = page.locator("video.media")
    expect(video).to_be_visible()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video.media');"
        " return v.readyState >= 2 && v.currentTime > 0.2; }",
        timeout=BROWSER_TIMEOUT_MS,
    )
