"""Share links in a real headless Chromium against a real waitress server (`viewer_server`):
a member makes a link with the photo page's Share button, and a fresh browser with no cookies
opens it, sees that photo and reaches nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import ViewerServer, new_page

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _photo_ids(page: Any, server: ViewerServer, query: str) -> list[int]:
    answer = page.request.get(f"{server.url}api/photos?q={query}&limit=500")
    assert answer.ok, answer.status
    return [item["id"] for item in answer.json()["items"]]


def test_a_member_shares_a_photo_and_a_stranger_sees_only_it(
    browser: Any, viewer_server: ViewerServer
) -> None:
    problems: list[str] = []
    member_context, page = new_page(browser, problems)
    try:
        viewer_server.login(page)
        beach = _photo_ids(page, viewer_server, "beach")[0]
        others = [i for i in _photo_ids(page, viewer_server, "") if i != beach]
        page.goto(f"{viewer_server.url}photo/{beach}")
        page.click("button.share-open")
        dialog = page.locator("dialog.share-dialog")
        expect(dialog).to_be_visible()
        dialog.locator("input[name=title]").fill("Low tide for Grandma")
        dialog.locator("input[name=expires_days]").fill("7")
        dialog.locator("button.share-make").click()
        link_field = dialog.locator(".share-url")
        expect(link_field).to_have_value(re.compile(rf"^{viewer_server.url}s/[A-Za-z0-9_-]{{32}}$"))
        link = link_field.input_value()
        dialog.locator("button.share-copy").click()
        dialog.locator("button.share-close").click()
        expect(dialog).to_be_hidden()
        page.goto(f"{viewer_server.url}shares")
        expect(page.locator("table.share-list")).to_contain_text("Low tide for Grandma")
    finally:
        member_context.close()

    stranger_context, stranger = new_page(browser, problems)
    try:
        assert stranger_context.cookies() == []
        stranger.goto(link)
        picture = stranger.locator("img.media")
        expect(picture).to_have_attribute("src", re.compile(rf"preview/{beach}$"))
        stranger.wait_for_function("document.querySelector('img.media').naturalWidth > 0")
        expect(stranger.locator("h1")).to_contain_text("Low tide")
        sources = stranger.eval_on_selector_all(
            "img, video, a", "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"
        )
        shown = {
            int(found[1])
            for src in sources
            if (found := re.search(r"/(?:tile|preview|video|photo)/(\d+)$", src or ""))
        }
        assert shown == {beach}
        stranger.goto(viewer_server.url)
        assert "/login" in stranger.url
        stranger.goto(f"{viewer_server.url}photo/{others[0]}")
        assert "/login" in stranger.url
        assert stranger.request.get(f"{viewer_server.url}api/photos").status == 401
        tile = stranger.request.get(f"{viewer_server.url}tile/{others[0]}", max_redirects=0)
        assert tile.status == 303 and "/login" in tile.headers["location"]
        for what in ("photo", "tile", "preview", "video"):
            answer = stranger.request.get(f"{link}/{what}/{others[0]}")
            assert answer.status == 404, (what, answer.status)
        assert stranger.request.get(f"{link}/preview/{beach}").status == 200
        api = stranger.request.get(f"{link}/api/photos").json()
        assert [item["id"] for item in api["items"]] == [beach]
    finally:
        stranger_context.close()
    assert problems == []


def test_the_share_dialog_shows_more_only_when_asked(
    browser: Any, viewer_server: ViewerServer
) -> None:
    """Location, details, people's names and downloads are choices of the dialog, all off at
    first; a link made with location and details shows them, a link made as it opens does
    not."""
    problems: list[str] = []
    context, page = new_page(browser, problems)
    links = {}
    try:
        viewer_server.login(page)
        lisbon = _photo_ids(page, viewer_server, "path:IMG_0001")[0]
        for name, chosen in (("more", ("show_location", "show_details")), ("plain", ())):
            page.goto(f"{viewer_server.url}photo/{lisbon}")
            page.click("button.share-open")
            dialog = page.locator("dialog.share-dialog")
            for option in ("show_location", "show_details", "show_people", "allow_download"):
                expect(dialog.locator(f"input[name={option}]")).not_to_be_checked()
            for option in chosen:
                dialog.locator(f"input[name={option}]").check()
            dialog.locator("button.share-make").click()
            field = dialog.locator(".share-url")
            expect(field).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{32}$"))
            links[name] = field.input_value()
        made = page.request.get(f"{viewer_server.url}api/shares").json()["items"]
        by_url = {share["url"]: share for share in made}
        assert by_url[links["more"]]["show_location"] and by_url[links["more"]]["show_details"]
        assert (
            not by_url[links["more"]]["show_people"] and not by_url[links["plain"]]["show_location"]
        )
    finally:
        context.close()
    stranger_context, stranger = new_page(browser, problems)
    try:
        stranger.goto(links["more"])
        info = stranger.locator("aside.info")
        expect(info).to_contain_text("38.71390, -9.13940")
        expect(info).to_contain_text("iPhone 13")
        stranger.goto(links["plain"])
        expect(stranger.locator("aside.info")).to_contain_text("2023")  # the date
        text = stranger.locator("body").inner_text()
        assert "38.71" not in text and "iPhone" not in text and "IMG_0001" not in text
        api = stranger.request.get(f"{links['plain']}/api/photos").json()["items"][0]
        assert "lat" not in api and "camera_model" not in api and "files" not in api
    finally:
        stranger_context.close()
    assert problems == []


def test_a_visitor_steps_through_an_album_link_with_the_keys_and_the_arrows(
    browser: Any, viewer_server: ViewerServer
) -> None:
    """On a photo of an album link, the right arrow key and the "next" arrow go to the next photo
    of the album, the left key back; the last has no "next", and "Download all" is there."""
    from shoebox.catalog import albums, shares
    from shoebox.catalog.visibility import OPERATOR

    problems: list[str] = []
    member, page = new_page(browser, problems)
    try:
        viewer_server.login(page)
        ids = _photo_ids(page, viewer_server, "type:image")[:3]
    finally:
        member.close()
    assert len(ids) == 3
    album = albums.create("Steps", None)
    albums.add_photos(album, ids, OPERATOR)
    link = shares.create("album", album_id=album.id, allow_download=True)
    context, visitor = new_page(browser, problems)
    try:
        visitor.goto(f"{viewer_server.url}s/{link.token}/photo/{ids[0]}")
        expect(visitor.locator(".download-all")).to_have_attribute("href", f"/s/{link.token}/zip")
        expect(visitor.locator(".step.prev")).to_have_count(0)
        visitor.keyboard.press("ArrowRight")
        expect(visitor.locator("article.photo")).to_have_attribute("data-id", str(ids[1]))
        visitor.locator(".step.next").click()
        expect(visitor.locator("article.photo")).to_have_attribute("data-id", str(ids[2]))
        expect(visitor.locator(".step.next")).to_have_count(0)
        visitor.keyboard.press("ArrowLeft")
        expect(visitor.locator("article.photo")).to_have_attribute("data-id", str(ids[1]))
    finally:
        context.close()
        albums.delete(album)
    assert problems == []
