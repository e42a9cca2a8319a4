"""Private photos in a real headless Chromium against a real waitress server
(`viewer_server`): the owner makes a photo private from its page and several from a grid, and
another member, in a browser of their own, no longer finds them; then the household's again."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from conftest import ViewerServer, new_page
from shoebox.catalog.models import Account
from shoebox.passwords import hash_password

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _ben(browser: Any, server: ViewerServer, problems: list[str]) -> tuple[Any, Any]:
    """Another member of the household, logged in in a browser of their own."""
    password = secrets.token_urlsafe(12)
    account, _ = Account.get_or_create(
        name="ben", defaults={"folder": "/elsewhere/ben", "role": "member"}
    )
    account.password_hash = hash_password(password)
    account.save()
    context, page = new_page(browser, problems)
    page.goto(server.url + "login")
    page.fill("input[name=name]", "ben")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url)
    return context, page


def _found(page: Any, server: ViewerServer, query: str) -> set[int]:
    answer = page.request.get(f"{server.url}api/photos?q={query}&limit=500")
    assert answer.ok, answer.status
    return {item["id"] for item in answer.json()["items"]}


def test_a_photo_made_private_from_its_page_is_gone_for_another_member(
    browser: Any, viewer_server: ViewerServer, page: Any
) -> None:
    problems: list[str] = []
    (beach,) = _found(page, viewer_server, "beach")
    ben_context, ben = _ben(browser, viewer_server, problems)
    try:
        assert beach in _found(ben, viewer_server, "beach")
        page.goto(f"{viewer_server.url}photo/{beach}")
        button = page.locator('[data-action="private"]')
        expect(button).to_have_text("Make private")
        button.click()
        expect(button).to_have_text("Private")
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(page.locator("aside.info .status")).to_have_text("Only you see this photo now.")
        assert beach not in _found(ben, viewer_server, "beach")
        answer = ben.goto(f"{viewer_server.url}photo/{beach}")
        assert answer is not None and answer.status == 404
        ben.goto(viewer_server.url)
        expect(ben.locator(f'.tile[data-id="{beach}"]')).to_have_count(0)
        expect(ben.locator('[data-action="private"]')).to_have_count(0)  # not his to hide
        page.reload()
        expect(page.locator("aside.info")).to_contain_text("private: only you see it")
        page.locator('[data-action="private"]').click()
        expect(page.locator('[data-action="private"]')).to_have_text("Make private")
        assert beach in _found(ben, viewer_server, "beach")
    finally:
        ben_context.close()
    assert problems == []


def test_photos_chosen_in_a_grid_are_made_private_and_back(
    browser: Any, viewer_server: ViewerServer, page: Any
) -> None:
    problems: list[str] = []
    ben_context, ben = _ben(browser, viewer_server, problems)
    try:
        page.goto(f"{viewer_server.url}?q=path:scroll/S14")
        tiles = page.locator(".tile")
        expect(tiles).to_have_count(10)  # S140 to S149
        chosen = [int(tiles.nth(i).get_attribute("data-id") or 0) for i in (0, 3, 7)]
        assert set(chosen) <= _found(ben, viewer_server, "path:scroll/S14")
        page.click("button.select-toggle")
        for i in (0, 3, 7):
            tiles.nth(i).click()
        expect(page.locator(".selection-count")).to_have_text("3 selected")
        assert page.url == f"{viewer_server.url}?q=path:scroll/S14"  # choosing, not opening
        page.click('[data-visibility="private"]')
        expect(page.locator(".selection .status")).to_have_text("3 photos: only you see them now.")
        seen = _found(ben, viewer_server, "path:scroll/S14")
        assert len(seen) == 7 and not seen & set(chosen)
        ben.goto(f"{viewer_server.url}?q=path:scroll/S14")
        expect(ben.locator(".tile")).to_have_count(7)
        page.click('[data-visibility="household"]')
        expect(page.locator(".selection .status")).to_have_text(
            "3 photos: the household sees them now."
        )
        assert set(chosen) <= _found(ben, viewer_server, "path:scroll/S14")
        page.click("button.select-toggle")  # done: tiles open photos again
        expect(page.locator(".tile.selected")).to_have_count(0)
        tiles.nth(0).click()
        page.wait_for_url(f"{viewer_server.url}photo/{chosen[0]}*")
    finally:
        ben_context.close()
    assert problems == []
