"""A photo shown before its renditions exist, in a real headless Chromium: the timeline's tile
and the photo page's preview show the thumbnail inside the JPEG (upright) while the tile and
preview files are not in the cache; once they are, the page swaps in the real ones by itself,
without a reload."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import ViewerServer, indexed_for_admin, new_page, serving
from shoebox.sample import Shot, write_jpeg
from test_pending import make_pending, write_thumbed

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

SWAP_DEADLINE_MS = 20_000  # the page asks every 2.5 s (slower while nothing comes)


@pytest.fixture(scope="module")
def pending_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    """A viewer over a library of three photos, one of them with an EXIF thumbnail."""
    tmp = tmp_path_factory.mktemp("pending")
    root = tmp / "originals"
    write_thumbed(root / "thumbed.jpg", tmp)
    for i in range(2):
        taken = dt.datetime(2024, 4, 1 + i, 12, 0, 0)
        write_jpeg(root / f"other{i}.jpg", Shot(taken, "+00:00"), (800, 600), seed=i)
    settings, catalog, name, password = indexed_for_admin(tmp, root, workers=2)
    try:
        with serving(settings) as url:
            yield ViewerServer(url, name, password, settings, root, catalog)
    finally:
        catalog.close()


def _shows(page: Any, selector: str, size: tuple[int, int], src: str) -> None:
    """Wait until the image of `selector` is loaded from a URL holding `src`, at `size`."""
    page.wait_for_function(
        """([s, w, h, src]) => { const i = document.querySelector(s);
             return i && i.complete && i.src.includes(src)
               && i.naturalWidth === w && i.naturalHeight === h; }""",
        arg=[selector, size[0], size[1], src],
        timeout=SWAP_DEADLINE_MS,
    )


def test_the_real_tile_and_preview_replace_the_thumbnail_without_a_reload(
    browser: Any, pending_server: ViewerServer
) -> None:
    from PIL import Image

    from shoebox.catalog.cache import PREVIEW, TILE, rendition_path
    from shoebox.catalog.models import File, Photo

    photo_id = File.get(File.rel_path == "thumbed.jpg").photo_id
    content_hash = Photo.get_by_id(photo_id).thumb_hash
    cache = pending_server.settings.library.cache
    problems: list[str] = []
    _, page = new_page(browser, problems)
    for where, selector, name in (
        ("", f'.tile[data-id="{photo_id}"] img', TILE),
        (f"photo/{photo_id}", "img.media", PREVIEW),
    ):
        with Image.open(rendition_path(cache, content_hash, name)) as made:
            made_size = made.size
        put_back = make_pending(cache, photo_id)
        if where:
            page.goto(pending_server.url + where)
        else:  # the timeline, where the login lands, before the browser has ever had the tile
            pending_server.login(page)
        expect(page.locator(selector)).to_have_attribute("data-pending", name)
        _shows(page, selector, (160, 120), f"/{photo_id}")  # the EXIF thumbnail, upright
        page.evaluate("window.notReloaded = true")
        put_back()
        _shows(page, selector, made_size, "made=1")
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("[data-pending]").count() == 0
    page.context.close()
    assert problems == []
