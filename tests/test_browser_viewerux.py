"""The viewer a family opens every day, in a real headless Chromium at a desktop's size
(1366x900) and a phone's (390x844, touch): the phone's menu behind a button with 44-px rows,
the photo page that fits the screen with a portrait and a landscape photo, a Live Photo that
plays at the first tap, and a clear placeholder for a photo without a rendition. The
screenshots of docs/screenshots/ are taken here (the timeline's in test_browser_grid.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from conftest import (
    BROWSER_TIMEOUT_MS,
    DESKTOP,
    SIZES,
    ViewerServer,
    add_photo,
    loaded,
    open_page,
    shot,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_the_menu_fits_the_screen(sized: tuple[str, Any]) -> None:
    size, page = sized
    expect(page.locator("#photos a.tile").first).to_be_visible()
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= SIZES[size]["width"]  # nothing behind a sideways scroll
    button = page.locator(".menu-button")
    archive = page.locator(".nav a", has_text="Archive")
    if size == "desktop":
        expect(button).to_be_hidden()
        expect(archive).to_be_visible()
        return  # the timeline's screenshots are taken by test_browser_grid.py
    expect(archive).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    button.tap()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(archive).to_be_visible()
    for link in page.locator(".nav a").all():
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 390
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44
    shot(page, "menu-phone")
    archive.tap()
    expect(page).to_have_url(re.compile(r"/archive$"))


@pytest.mark.parametrize("name", ["IMG_0002", "DSC01234"])
def test_the_photo_fits_the_screen(
    sized: tuple[str, Any], viewer_server: ViewerServer, name: str
) -> None:
    """IMG_0002 is 900x1200 (portrait), DSC01234 1500x1000: each fits below the header, the
    whole picture in view, however long the info column is."""
    size, page = sized
    page.goto(viewer_server.url + f"search?q={name}")
    page.locator("#photos a.tile").first.click()
    loaded(page, "img.media")
    views = [SIZES[size]]
    if size == "phone":
        views.append({"width": 844, "height": 390})  # turned sideways
    for view in views:
        page.set_viewport_size(view)
        page.evaluate("() => window.scrollTo(0, 0)")
        header = page.locator("header.bar").bounding_box()
        picture = page.locator("img.media").bounding_box()
        assert header is not None and picture is not None
        assert picture["y"] >= header["y"] + header["height"] - 1
        assert picture["y"] + picture["height"] <= view["height"] + 0.5
        assert picture["x"] >= 0 and picture["x"] + picture["width"] <= view["width"] + 0.5
        room = view["height"] - header["height"]  # it fills the width or the height: no stamp
        assert picture["width"] >= 0.6 * view["width"] or picture["height"] >= 0.6 * room
    page.set_viewport_size(SIZES[size])
    if size == "desktop":
        # the picture stays in view while the info column scrolls
        page.mouse.wheel(0, 600)
        page.wait_for_function("() => window.scrollY > 0", timeout=BROWSER_TIMEOUT_MS)
        picture = page.locator("img.media").bounding_box()
        assert picture is not None and picture["y"] + picture["height"] <= DESKTOP["height"] + 0.5
        page.evaluate("() => window.scrollTo(0, 0)")
    kind = "portrait" if name == "IMG_0002" else "landscape"
    shot(page, f"photo-{kind}-{size}")


def test_a_live_photo_plays_at_the_first_tap(browser: Any, viewer_server: ViewerServer) -> None:
    """A touch sends pointer events, then emulated mouse events, then a click: the first tap
    plays the clip (it used to play on mouseenter and stop on the click)."""
    from shoebox.catalog.models import File, Photo

    still = Photo.get(Photo.id == File.get(File.rel_path == "2024/Kyoto/DSC01234.JPG").photo_id)
    clip = File.get(File.rel_path == "2024/Kyoto/clip.mp4")
    photo_id = add_photo(
        clip.root_id,
        "2019/live/IMG_LIVE.HEIC",
        dt.datetime(2019, 6, 1, 12, 0),
        type="live",
        thumb_hash=still.thumb_hash,
    )
    File.create(
        root=clip.root_id, rel_path="2019/live/IMG_LIVE.MOV", rel_path_raw=clip.rel_path_raw,
        path_key="l" * 32, stem_key="l" * 32, size=clip.size, mtime_ns=clip.mtime_ns,
        hash=clip.hash, mime=clip.mime, role="live-video", photo=photo_id,
    )  # fmt: skip
    problems: list[str] = []
    page = open_page(browser, viewer_server, "phone", problems)
    try:
        page.goto(viewer_server.url + f"photo/{photo_id}")
        live = page.locator(".live")
        expect(live).not_to_have_class(re.compile(r"\bplaying\b"))
        live.tap()
        expect(live).to_have_class(re.compile(r"\bplaying\b"))
        page.wait_for_function(
            "() => document.querySelector('.live video').currentTime > 0.1",
            timeout=BROWSER_TIMEOUT_MS,
        )
        expect(live).to_have_class(re.compile(r"\bplaying\b"))  # not stopped at once
        live.tap()
        expect(live).not_to_have_class(re.compile(r"\bplaying\b"))  # a second tap stops it
    finally:
        page.context.close()
        File.delete().where(File.photo == photo_id).execute()
        Photo.delete().where(Photo.id == photo_id).execute()
    assert problems == []


def test_a_photo_without_rendition_shows_a_placeholder(
    sized: tuple[str, Any], viewer_server: ViewerServer
) -> None:
    from shoebox.catalog.models import File, Photo

    root_id = File.get(File.rel_path == "2024/Kyoto/clip.mp4").root_id
    taken = dt.datetime(2018, 2, 3)
    photo_id = add_photo(root_id, "2018/raw/DSC_0042.NEF", taken, type="raw", thumb_hash=None)
    size, page = sized
    try:
        page.goto(viewer_server.url + "search?q=DSC_0042")
        tile = page.locator("#photos a.tile")
        expect(tile).to_have_count(1)
        expect(tile.locator("img")).to_have_count(0)  # no broken image
        expect(tile.locator(".placeholder .kind")).to_have_text("NEF")
        expect(tile.locator(".placeholder")).to_contain_text("RAW file without a preview")
        tile.click()
        placeholder = page.locator(".stage .placeholder")
        expect(placeholder).to_be_visible()
        expect(placeholder).to_contain_text("NEF")
        box = placeholder.bounding_box()
        assert box is not None and box["x"] + box["width"] <= SIZES[size]["width"]
    finally:
        File.delete().where(File.photo == photo_id).execute()
        Photo.delete().where(Photo.id == photo_id).execute()


def scroll_page(page: Any, viewer_server: ViewerServer) -> Any:
    """The small 2021 photos (two a day), newest first; returns their tiles."""
    page.goto(viewer_server.url + "search?q=folder:2021/scroll")
    tiles = page.locator("#photos a.tile")
    expect(tiles.first).to_be_visible()
    return tiles


def api_total(page: Any, query: str) -> int:
    total: int = page.evaluate(
        "q => fetch('api/photos?q=' + encodeURIComponent(q)).then(r => r.json()).then(j => j.total)",
        query,
    )
    return total


def long_press(page: Any, locator: Any) -> None:
    """Touch and hold until the tile is selected, then lift (Chrome's touch events, over CDP)."""
    box = locator.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    expect(locator).to_have_class(re.compile(r"\bselected\b"))
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_select_with_the_mouse_and_act_on_all(browser: Any, viewer_server: ViewerServer) -> None:
    problems: list[str] = []
    page = open_page(browser, viewer_server, "desktop", problems)
    try:
        tiles = scroll_page(page, viewer_server)
        count = page.locator(".selection-count")
        tiles.nth(0).click(modifiers=["ControlOrMeta"])  # starts choosing, does not open it
        expect(count).to_have_text("1 selected")
        tiles.nth(3).click()
        tiles.nth(6).click(modifiers=["Shift"])  # 3 to 6
        expect(count).to_have_text("5 selected")
        tiles.nth(4).click()  # off again
        expect(count).to_have_text("4 selected")
        chosen = page.locator("#photos a.tile.selected").evaluate_all(
            "els => els.map(e => Number(e.dataset.id))"
        )
        assert len(chosen) == 4
        expect(page).to_have_url(re.compile(r"search\?q=folder"))  # no photo opened
        page.evaluate("() => window.scrollTo(0, 0)")  # the bar and the first days, for the shot
        shot(page, "selection-desktop")
        bar = page.locator(".tools.selection")

        bar.get_by_role("button", name="♥ Favourite").click()
        expect(bar.locator(".status")).to_have_text("4 photos: favourites now.")
        expect(page.locator("#photos a.tile.selected .heart")).to_have_count(4)
        assert api_total(page, "favorite:yes folder:2021/scroll") == 4
        bar.get_by_role("button", name="Not favourite").click()
        expect(bar.locator(".status")).to_have_text("4 photos: no longer favourites.")
        assert api_total(page, "favorite:yes folder:2021/scroll") == 0

        # a new album, filled at once
        bar.locator(".bulk-album select").select_option("new")
        bar.locator(".bulk-album input").fill("Chosen four")
        bar.get_by_role("button", name="Add to album").click()
        expect(bar.locator(".status")).to_have_text("4 photos added to “Chosen four”.")

        # one link for the selection; a visitor sees those four
        bar.locator(".share-open").click()
        dialog = page.locator("dialog.share-dialog[open]")
        dialog.locator(".share-make").click()
        link = dialog.locator(".share-url")
        expect(link).to_have_value(re.compile(r"/s/"))
        visitor = browser.new_context()
        try:
            seen = visitor.new_page()
            seen.goto(link.input_value())
            expect(seen.locator(".share-grid a.tile")).to_have_count(4)
            shown = seen.locator(".share-grid a.tile").evaluate_all(
                "els => els.map(e => Number(e.dataset.id))"
            )
            assert sorted(shown) == sorted(chosen)
        finally:
            visitor.close()
        dialog.locator(".share-close").click()

        # archive two: they leave the timeline, and come back from the Archive page
        bar.locator(".select-toggle").click()  # done
        expect(page.locator("#photos a.tile.selected")).to_have_count(0)
        bar.locator(".select-toggle").click()
        tiles.nth(0).click()
        tiles.nth(1).click()
        bar.get_by_role("button", name="Archive").click()
        expect(bar.locator(".status")).to_contain_text("2 photos archived")
        assert api_total(page, "archived:yes folder:2021/scroll") == 2
        page.goto(viewer_server.url + "archive")
        page.locator(".select-toggle").click()
        page.locator("section.month .select-group").first.click()  # the month's photos
        expect(page.locator(".selection-count")).to_have_text("2 selected")
        page.get_by_role("button", name="Unarchive").click()
        expect(page.locator(".selection .status")).to_contain_text("back in the timeline")
        assert api_total(page, "archived:yes folder:2021/scroll") == 0

        # the album: select the month, remove them all
        page.goto(viewer_server.url + "albums")
        page.get_by_text("Chosen four").click()
        expect(page.locator("#photos a.tile")).to_have_count(4)
        page.locator(".selection .select-toggle").click()
        page.locator("section.month .select-group").first.click()
        page.get_by_role("button", name="Remove from this album").click()
        expect(page.locator(".selection .status")).to_have_text("4 photos removed from this album.")
        expect(page.locator("#photos a.tile")).to_have_count(0)
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete album").click()
        expect(page).to_have_url(re.compile(r"/albums$"))
    finally:
        page.context.close()
    assert problems == []


def test_select_with_a_long_press_on_a_phone(browser: Any, viewer_server: ViewerServer) -> None:
    problems: list[str] = []
    page = open_page(browser, viewer_server, "phone", problems)
    try:
        tiles = scroll_page(page, viewer_server)
        long_press(page, tiles.nth(1))
        expect(page.locator(".selection-count")).to_have_text("1 selected")
        expect(page).to_have_url(re.compile(r"search\?q=folder"))  # the press opened nothing
        tiles.nth(2).tap()
        tiles.nth(5).tap()
        expect(page.locator(".selection-count")).to_have_text("3 selected")
        tiles.nth(5).tap()
        expect(page.locator(".selection-count")).to_have_text("2 selected")
        for button in page.locator(".selection-tools button:visible").all():
            box = button.bounding_box()
            assert box is not None and box["height"] >= 44
        shot(page, "selection-phone")
        page.get_by_role("button", name="♥ Favourite").tap()
        expect(page.locator(".selection .status")).to_have_text("2 photos: favourites now.")
        assert api_total(page, "favorite:yes folder:2021/scroll") == 2
        page.get_by_role("button", name="Not favourite").tap()
        expect(page.locator(".selection .status")).to_have_text("2 photos: no longer favourites.")
        page.locator(".select-toggle").tap()
        tiles.nth(2).tap()  # not selecting any more: a tap opens the photo
        expect(page.locator("article.photo")).to_be_visible()
    finally:
        page.context.close()
    assert problems == []


def zip_names(download: Any) -> list[str]:
    import zipfile

    with zipfile.ZipFile(download.path()) as archive:
        assert archive.testzip() is None
        return archive.namelist()


def test_download_a_selection_and_a_shared_album(
    sized: tuple[str, Any], browser: Any, viewer_server: ViewerServer
) -> None:
    from shoebox.catalog import albums, shares
    from shoebox.catalog.visibility import OPERATOR

    size, page = sized
    tiles = scroll_page(page, viewer_server)
    page.locator(".select-toggle").click()
    tiles.nth(0).click()
    tiles.nth(1).click()
    expect(page.locator(".selection-count")).to_have_text("2 selected")
    with page.expect_download() as selected:
        page.get_by_role("button", name="Download", exact=True).click()
    names = zip_names(selected.value)
    assert len(names) == 2 and all(n.startswith("2021/scroll/S") for n in names)

    ids = page.locator("#photos a.tile.selected").evaluate_all(
        "els => els.map(e => Number(e.dataset.id))"
    )
    album = albums.create(f"To download {size}", None)
    albums.add_photos(album, ids, OPERATOR)
    link = shares.create("album", album_id=album.id, allow_download=True)
    closed = shares.create("album", album_id=album.id)
    visitor = browser.new_context(viewport=SIZES[size], has_touch=size == "phone")
    try:
        seen = visitor.new_page()
        seen.goto(viewer_server.url + f"s/{closed.token}")
        expect(seen.locator(".share-grid a.tile")).to_have_count(2)
        expect(seen.locator(".download-all")).to_have_count(0)
        seen.goto(viewer_server.url + f"s/{link.token}")
        with seen.expect_download() as everything:
            seen.locator(".download-all").click()
        assert sorted(zip_names(everything.value)) == sorted(n.split("/")[-1] for n in names)
        # the member's album page has the same button
        page.goto(viewer_server.url + f"album/{album.id}")
        with page.expect_download() as whole:
            page.locator(".download-all").click()
        assert sorted(zip_names(whole.value)) == sorted(names)
    finally:
        visitor.close()
        albums.delete(album)
