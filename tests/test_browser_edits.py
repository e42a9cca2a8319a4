"""The Edit dialog of the photo page in Chromium (issue 14, item 5): a member sets the title,
the date with its zone and the place by clicking on the map; the page shows the edited photo
after saving, and a wrong value is said in the dialog without leaving it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import ViewerServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _one(page: Any, server: ViewerServer, query: str) -> int:
    answer = page.request.get(f"{server.url}api/photos?q={query}&limit=5")
    items = answer.json()["items"]
    assert items, query
    return int(items[0]["id"])


def test_a_photo_is_edited_from_its_page(page: Any, viewer_server: ViewerServer) -> None:
    photo = _one(page, viewer_server, "path:2021/scroll/S149")
    page.goto(f"{viewer_server.url}photo/{photo}")
    dialog = page.locator("dialog.edit-dialog")
    page.locator(".edit-open").click()
    expect(dialog).to_be_visible()
    dialog.locator("input[name=zone]").fill("Mars/Olympus")
    dialog.locator(".edit-save").click()
    expect(dialog.locator(".edit-error")).to_contain_text("zone: an IANA zone")
    dialog.locator("input[name=zone]").fill("America/New_York")
    dialog.locator("input[name=date]").fill("2019-12-24T18:30:00")
    dialog.locator("input[name=title]").fill("Christmas Eve at Grandpa's")
    dialog.locator("input[name=keywords]").fill("christmas, family")
    box = dialog.locator(".edit-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(dialog.locator("input[name=place]")).to_have_value(
        re.compile(r"^-?\d+\.\d{5}, -?\d+\.\d{5}$")
    )
    dialog.locator(".edit-save").click()
    expect(page.locator("aside.info h1")).to_have_text("Christmas Eve at Grandpa's")
    expect(page.locator("aside.info")).to_contain_text("set by hand")
    expect(page.locator("aside.info")).to_contain_text("America/New York, UTC-05:00")
    shown = page.request.get(f"{viewer_server.url}api/photos/{photo}").json()
    assert shown["taken_at_local"].startswith("2019-12-24T18:30")
    assert shown["sources"]["place"] == "edited" and shown["keywords"] == ["christmas", "family"]
