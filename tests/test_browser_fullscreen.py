"""Full screen on the photo page, in a real headless Chromium at a desktop's size (1366x900) and
a phone's (390x844, touch): it opens over the whole screen with the large picture, the wheel
and a pinch zoom, a double-click or double-tap zooms back, the arrow keys and a swipe move to
the next photo of the list the page came from, the slideshow moves on by itself, Esc and the
close button leave it on the page of the photo last shown; a visitor on a share link gets the
same through the link's own routes (what they may get: tests/test_visitors.py). The screenshots fullscreen-*.png of docs/screenshots/ are
taken here."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from conftest import BROWSER_TIMEOUT_MS, SIZES, ViewerServer, loaded, new_page, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

MATRIX = "() => new DOMMatrix(getComputedStyle(document.querySelector('.viewer img')).transform)"
SCALE = f"() => ({MATRIX})().a"
SHOWN = "() => document.querySelector('.viewer').dataset.id"


def photo_id(name: str) -> int:
    from shoebox.catalog.models import File

    found: int = File.get(File.rel_path.endswith(name)).photo_id
    return found


def next_of(page: Any) -> str:
    """The id of the photo after the one the page (or the viewer) shows, from its link."""
    link = page.locator("article.photo").get_attribute("data-next")
    found = re.search(r"photo/(\d+)", link or "")
    assert found, link
    return found.group(1)


def wait_shown(page: Any, wanted: str) -> None:
    page.wait_for_function(
        "id => document.querySelector('.viewer').dataset.id === id", arg=wanted,
        timeout=BROWSER_TIMEOUT_MS,
    )  # fmt: skip


def wait_large(page: Any, shown: str) -> None:
    """Wait until the viewer shows the decoded large picture of this photo."""
    page.wait_for_function(
        """id => { const i = document.querySelector('.viewer img');
                   return i.src.endsWith('/large/' + id) && i.complete && i.naturalWidth > 0; }""",
        arg=shown, timeout=BROWSER_TIMEOUT_MS,
    )  # fmt: skip


def scale_is(page: Any, test: str) -> None:
    page.wait_for_function(f"() => ({SCALE})() {test}", timeout=BROWSER_TIMEOUT_MS)


def swipe(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """One finger across the screen, resting at the end so that it is not a fling, whose end a
    tap would stop instead of clicking (Chrome's touch events, over CDP)."""
    cdp = page.context.new_cdp_session(page)
    begin = time.time()
    for i in range(9):
        step = min(i, 5) / 5
        point = {
            "x": start[0] + (end[0] - start[0]) * step,
            "y": start[1] + (end[1] - start[1]) * step,
        }
        kind = "touchStart" if i == 0 else "touchMove"
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [point], "timestamp": begin + i * 0.05},
        )
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": "touchEnd", "touchPoints": [], "timestamp": begin + 0.5},
    )
    cdp.detach()


def pinch(page: Any, centre: tuple[float, float], start: float, end: float) -> None:
    """Two fingers moving apart from `start` to `end` pixels around `centre`."""
    cdp = page.context.new_cdp_session(page)
    x, y = centre

    def points(gap: float) -> list[dict[str, float]]:
        return [{"x": x - gap / 2, "y": y, "id": 0}, {"x": x + gap / 2, "y": y, "id": 1}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
    for i in range(1, 6):
        gap = start + (end - start) * i / 5
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(gap)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_full_screen_zooms_moves_on_and_plays_a_slideshow(
    sized: tuple[str, Any], viewer_server: ViewerServer
) -> None:
    size, page = sized
    width, height = SIZES[size]["width"], SIZES[size]["height"]
    kyoto = str(photo_id("2024/Kyoto/DSC01234.JPG"))  # 1500x1000, from the timeline
    page.goto(viewer_server.url + f"photo/{kyoto}")
    loaded(page, "img.media")
    after = next_of(page)
    opener = page.get_by_role("button", name="Full screen")
    box = opener.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44
    viewer = page.locator(".viewer")
    expect(viewer).to_be_hidden()
    opener.click()
    expect(viewer).to_be_visible()
    wait_large(page, kyoto)
    area = viewer.bounding_box()
    assert area is not None and (area["width"], area["height"]) == (width, height)
    assert page.evaluate("() => document.fullscreenElement === document.querySelector('.viewer')")
    for each in viewer.locator(".viewer-bar button").all():
        bar_button = each.bounding_box()
        assert bar_button is not None and bar_button["width"] >= 44 and bar_button["height"] >= 44
    shot(page, f"fullscreen-{size}")

    centre = (width / 2, height / 2)
    assert page.evaluate(SCALE) == 1
    if size == "desktop":
        page.mouse.move(*centre)
        page.mouse.wheel(0, -400)
        scale_is(page, "> 1.5")
        page.mouse.down()
        page.mouse.move(centre[0] + 200, centre[1], steps=5)
        page.mouse.up()  # dragged to the right: the left of the picture comes into view
        page.wait_for_function(f"() => ({MATRIX})().e > 100", timeout=BROWSER_TIMEOUT_MS)
        page.mouse.dblclick(*centre)  # back to the whole picture
        scale_is(page, "=== 1")
        page.keyboard.press("+")
        scale_is(page, "> 1")
        page.keyboard.press("-")
        scale_is(page, "=== 1")
        page.keyboard.press("ArrowRight")
    else:
        pinch(page, centre, 60, 240)
        scale_is(page, "> 2")
        page.touchscreen.tap(*centre)
        page.touchscreen.tap(*centre)  # a double tap: the whole picture again
        scale_is(page, "=== 1")
        swipe(page, (width * 0.8, height / 2), (width * 0.15, height / 2 + 10))
    wait_shown(page, after)  # the next photo of the same list
    expect(page).to_have_url(re.compile(rf"/photo/{after}\b"))

    if size == "desktop":
        page.keyboard.press(" ")
    else:
        viewer.get_by_label("Slideshow").tap()
    expect(viewer.get_by_label("Slideshow")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        f"() => !['{kyoto}', '{after}'].includes(({SHOWN})())", timeout=BROWSER_TIMEOUT_MS
    )  # it moved on by itself
    shown = page.evaluate(SHOWN)
    if size == "desktop":
        page.keyboard.press("Escape")
    else:
        viewer.get_by_label("Close full screen").tap()
    expect(viewer).to_be_hidden()
    # closing leaves the page of the photo last shown, out of full screen
    expect(page.locator("article.photo")).to_have_attribute("data-id", shown)
    assert page.evaluate("() => document.fullscreenElement") is None


def test_a_visitor_gets_full_screen_through_the_link(
    browser: Any, viewer_server: ViewerServer
) -> None:
    from shoebox.catalog import shares
    from shoebox.catalog.models import Account

    maker = Account.get(Account.name == viewer_server.name).id
    share = shares.create("search", query="folder:2021/scroll", created_by=maker)
    problems: list[str] = []
    context, page = new_page(browser, problems, viewport=SIZES["desktop"])
    try:
        page.goto(viewer_server.url + f"s/{share.token}")
        page.locator("a[href*='/photo/']").first.click()
        first = page.locator("article.photo").get_attribute("data-id") or ""
        after = next_of(page)
        page.get_by_role("button", name="Full screen").click()
        wait_large(page, first)
        src = page.evaluate("() => document.querySelector('.viewer img').src")
        assert f"/s/{share.token}/large/{first}" in src
        page.keyboard.press("ArrowRight")
        wait_shown(page, after)
        wait_large(page, after)
        page.keyboard.press("Escape")
        expect(page.locator(".viewer")).to_be_hidden()
    finally:
        context.close()
    assert problems == []
