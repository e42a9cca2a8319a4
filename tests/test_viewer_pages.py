"""The household's HTML pages in-process (WebTest), on SQLite and MariaDB: the timeline's pages
and month jumps, its days and tile shapes and the Squares cookie, search and its messages, the
photo page, favourites, archive, albums and folders, and the login that guards them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

import shoebox_viewer
from conftest import ViewerClient, page_body
from shoebox.catalog.cache import TILE_ASPECTS
from shoebox_viewer.grid import PAGE_SIZE, SHAPES, tile_shape

T0 = dt.datetime(2024, 7, 14, 12, 0, 0)
TILE = re.compile(r'class="tile[^"]*" href="/photo/(\d+)')


def tiles(html: str) -> list[int]:
    return [int(i) for i in TILE.findall(html)]


def more_link(html: str) -> str | None:
    found = re.search(r'class="more" href="([^"]+)"', html)
    return found[1].replace("&amp;", "&") if found else None


def test_timeline_pages_by_month_without_losing_a_photo(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    n = PAGE_SIZE + 30
    ids = [
        vc.add_photo(f"2024/{i:03d}.jpg", T0 - dt.timedelta(days=i // 4, minutes=i % 2))
        for i in range(n)
    ]
    page = vc.app.get("/")
    assert f"{n} photos" in page.text
    assert "<h2>July 2024</h2>" in page.text and 'loading="lazy"' in page.text
    seen = tiles(page.text)
    assert len(seen) == PAGE_SIZE
    link = more_link(page.text)
    assert link is not None
    fragment = vc.app.get(link + "&part=grid")
    assert "<html" not in fragment.text  # just the grid, for the infinite scroll
    seen += tiles(fragment.text)
    assert more_link(fragment.text) is None
    assert sorted(seen) == sorted(ids) and len(set(seen)) == n
    # the scrubber (filled in from /api/months) jumps to a month: the page starts with its
    # newest photo
    assert 'class="scrubber" aria-label="Jump to month" data-q=""' in page.text
    june = vc.app.get("/", {"month": "2024-06"})
    times = {pid: T0 - dt.timedelta(days=i // 4, minutes=i % 2) for i, pid in enumerate(ids)}
    in_june = sum(1 for t in times.values() if t.month == 6)
    assert {"year": 2024, "month": 6, "count": in_june} in vc.app.get("/api/months").json
    first_june = max((t, pid) for pid, t in times.items() if t.month == 6)[1]
    assert tiles(june.text)[0] == first_june and "Newest photos" in june.text
    assert "wants YYYY-MM" in vc.app.get("/", {"month": "2024-13"}, status=400).text


def test_search_and_bad_queries(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    beach = vc.add_photo("2023/beach.jpg", dt.datetime(2023, 8, 1), title="Low tide")
    vc.add_photo("2024/garden.jpg", T0)
    found = vc.app.get("/search", {"q": "tide"})
    assert tiles(found.text) == [beach] and 'value="tide"' in found.text
    assert f'href="/photo/{beach}?q=tide"' in found.text  # the photo page walks the results
    assert tiles(vc.app.get("/", {"q": "year:2023"}).text) == [beach]
    bad = vc.app.get("/", {"q": "year:soon"}, status=400)
    assert 'role="alert"' in bad.text and "wants a number" in bad.text
    assert 'value="year:soon"' in bad.text  # the box keeps what was typed
    assert "No photos here" in vc.app.get("/", {"q": "nothing-matches-this"}).text
    assert 'role="alert"' in vc.app.get("/", {"cursor": "nonsense"}, status=400).text


def test_photo_page(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    older = vc.add_photo("2023/a.jpg", T0 - dt.timedelta(days=2))
    pid = vc.add_photo(
        "2023/Lisbon/IMG_0001.jpg",
        T0,
        taken_at_local=T0 + dt.timedelta(hours=1),
        timezone="+01:00",
        camera_make="Apple",
        camera_model="iPhone 13",
        lens_model="iPhone 13 back camera 5.1mm f/1.6",
        exposure_time=1 / 125,
        f_number=1.8,
        focal_length=4.2,
        iso=100,
        width=4032,
        height=3024,
        lat=38.7139,
        lng=-9.1394,
        title="Evening <light>",
    )
    newer = vc.add_photo("2023/c.jpg", T0 + dt.timedelta(days=2))
    text = vc.app.get(f"/photo/{pid}").text
    assert "1/125 s · f/1.8 · 4.2 mm · ISO 100" in text
    assert "Apple iPhone 13" in text and "4032 \u00d7 3024" in text
    assert "Sun 14 July 2024, 13:00" in text and "UTC+01:00" in text
    assert "38.71390, -9.13940" in text and "openstreetmap.org" in text
    assert "Evening &lt;light&gt;" in text  # escaped
    assert f'src="/preview/{pid}"' in text
    file_id = re.search(r'href="/original/(\d+)"', text)
    assert file_id and "IMG_0001.jpg" in text and "123.5 KB" in text
    assert f'data-prev="/photo/{newer}"' in text and f'data-next="/photo/{older}"' in text
    assert 'data-action="favorite"' in page_body(text)
    assert vc.app.get("/photo/999999", status=404)
    video = vc.add_photo("clip.mp4", T0 - dt.timedelta(days=9), type="video", duration=62.4)
    text = vc.app.get(f"/photo/{video}").text
    assert '<video class="media" controls preload="metadata"' in text
    assert f'src="/video/{video}"' in text
    assert "1:02" in vc.app.get("/").text  # the tile's badge


def test_favourites_archive_and_albums_pages(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    a = vc.add_photo("a.jpg", T0)
    b = vc.add_photo("b.jpg", T0 - dt.timedelta(days=1))
    app, headers = vc.app, vc.csrf()
    assert tiles(app.get("/favorites").text) == []
    app.post_json(f"/api/photos/{a}", {"favorite": True}, headers=headers)
    assert tiles(app.get("/favorites").text) == [a]
    app.post_json(f"/api/photos/{b}", {"archived": True}, headers=headers)
    assert tiles(app.get("/").text) == [a]
    assert tiles(app.get("/archive").text) == [b]
    album = app.post_json("/api/albums", {"title": "Trip & more"}, headers=headers).json
    app.post_json(f"/api/albums/{album['id']}/photos", {"add": [a, b]}, headers=headers)
    listing = app.get("/albums").text
    assert "Trip &amp; more" in listing and f'/tile/{a}"' in listing and "2 photos" in listing
    page = app.get(f"/album/{album['id']}").text
    assert tiles(page) == [a, b]  # an album shows its archived photos too
    assert f'href="/photo/{a}?album={album["id"]}"' in page
    in_album = app.get(f"/photo/{b}", {"album": album["id"]}).text
    assert f'data-prev="/photo/{a}?album={album["id"]}"' in in_album
    assert 'data-action="remove-from-album"' in in_album and 'data-action="cover"' in in_album
    assert app.get("/album/999999", status=404)


def test_folders(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    lisbon = vc.add_photo("2023/Lisbon/a.jpg", T0)
    vc.add_photo("2023/Porto/b.jpg", T0)
    vc.add_photo("2024/c.jpg", T0)
    top = vc.app.get("/folders").text
    assert 'href="/folders/2023"' in top and 'href="/folders/2024"' in top and tiles(top) == []
    year = vc.app.get("/folders/2023").text
    assert 'href="/folders/2023/Lisbon"' in year and 'href="/folders/2023/Porto"' in year
    assert len(tiles(year)) == 2
    assert tiles(vc.app.get("/folders/2023/Lisbon").text) == [lisbon]
    vc.app.get("/folders/2023/../etc", status=404)
    odd = vc.add_photo("2022/Día de campo #1/x.jpg", T0)
    top = vc.app.get("/folders/2022").text
    assert 'href="/folders/2022/D%C3%ADa%20de%20campo%20%231"' in top
    assert tiles(vc.app.get("/folders/2022/D%C3%ADa%20de%20campo%20%231").text) == [odd]


def folder_counts(html: str) -> dict[str, int]:
    found = re.findall(r'href="/folders/([^"]+)"><span[^>]*>[^<]*</span> [^<]*<small>(\d+)<', html)
    return {path: int(n) for path, n in found}


def test_folders_count_photos_not_files(viewer_client: ViewerClient) -> None:
    """A RAW+JPEG pair and a Live Photo (still and video) are one photo each; a folder counts
    what its grid shows (not an archived photo), and names differing only in case or accents
    are different folders (MariaDB's collations would fold them)."""
    vc = viewer_client
    pair = vc.add_photo("2023/Lisbon/IMG_1.JPG", T0)
    vc.add_file(pair, "2023/Lisbon/IMG_1.CR3", role="raw")
    live = vc.add_photo("2023/Lisbon/IMG_2.HEIC", T0, type="live")
    vc.add_file(live, "2023/Lisbon/IMG_2.MOV", role="live-video", mime="video/quicktime")
    vc.add_photo("2023/Lisbon/more/IMG_3.JPG", T0)
    vc.add_photo("2023/Lisbon/IMG_4.JPG", T0, archived=True)
    vc.add_photo("2023/lisbon/IMG_5.JPG", T0)
    vc.add_photo("2023/Lisboa/IMG_6.JPG", T0)
    vc.add_photo("2023/Lísbon/IMG_7.JPG", T0)
    year = vc.app.get("/folders/2023").text
    assert folder_counts(year) == {
        "2023/Lisboa": 1,
        "2023/Lisbon": 3,  # the pair, the Live Photo and the one in more/
        "2023/lisbon": 1,
        "2023/L%C3%ADsbon": 1,
    }
    assert "<small>6</small>" not in year  # and not a count of the files
    lisbon = vc.app.get("/folders/2023/Lisbon")
    assert folder_counts(lisbon.text) == {"2023/Lisbon/more": 1}
    assert len(tiles(lisbon.text)) == 3  # the grid shows as many as the count said
    assert folder_counts(vc.app.get("/folders").text) == {"2023": 6}
    api = vc.app.get("/api/folders", {"path": "2023"}).json["folders"]
    assert {f["path"]: f["count"] for f in api}["2023/Lisbon"] == 3
    assert [f["name"] for f in api] == ["Lisboa", "Lisbon", "lisbon", "Lísbon"]


def test_a_folders_month_column_lists_the_folders_months(viewer_client: ViewerClient) -> None:
    """The column is filled in from /api/months?q= with the page's data-q: on a folder's page
    that is the folder, and each month it lists opens on a photo of the folder; the top of
    Folders shows no photos and so has no column."""
    import html

    vc = viewer_client
    july = vc.add_photo("2023/Lisbon/a.jpg", dt.datetime(2023, 7, 2))
    march = vc.add_photo("2023/Lisbon/b.jpg", dt.datetime(2023, 3, 9))
    vc.add_photo("2023/lisbon/c.jpg", dt.datetime(2023, 5, 1))
    vc.add_photo("2024/d.jpg", T0)
    assert 'class="scrubber"' not in vc.app.get("/folders").text
    page = vc.app.get("/folders/2023/Lisbon").text
    found = re.search(r'class="scrubber" aria-label="Jump to month" data-q="([^"]*)"', page)
    assert found is not None
    months = vc.app.get("/api/months", {"q": html.unescape(found[1])}).json
    assert [(m["year"], m["month"]) for m in months] == [(2023, 7), (2023, 3)]
    for month, first in (("2023-07", july), ("2023-03", march)):
        assert tiles(vc.app.get("/folders/2023/Lisbon", {"month": month}).text)[0] == first


def test_logins_and_roles(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    pid = vc.add_photo("a.jpg", T0)
    nobody = vc.client(None)
    for path in ("/", "/albums", f"/photo/{pid}", "/folders", "/favorites", "/archive"):
        got = nobody.get(path, status=303)
        assert got.headers["Location"].endswith("/login?" + f"next={path.replace('/', '%2F')}")
    viewer = vc.client("vic")
    page = page_body(viewer.get(f"/photo/{pid}").text)
    assert 'data-action="favorite"' not in page and "add-to-album" not in page
    assert "/original/" in page  # household viewers may download
    member = vc.client("max").get(f"/photo/{pid}").text
    assert 'data-action="favorite"' in page_body(member)
    assert 'name="csrf-token"' in member and "Content-Security-Policy" in vc.app.get("/").headers


def test_badges_for_videos_live_photos_and_stacks(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    live = vc.add_photo("live.heic", T0, type="live")
    stack = vc.add_photo("stack.jpg", T0 - dt.timedelta(days=1))
    vc.add_file(stack, "stack.cr3", size=2_000_000, role="raw", mime=None)
    page = vc.app.get("/").text
    assert re.search(rf'data-id="{live}">\s*<img[^>]*>\s*<span class="badge">LIVE<', page)
    assert re.search(rf'data-id="{stack}">\s*<img[^>]*>\s*<span class="badge">RAW\+JPEG<', page)
    photo = vc.app.get(f"/photo/{stack}").text
    assert "2 files" in photo and "stack.cr3" in photo and "2.0 MB · raw" in photo
    assert len(re.findall(r'href="/original/\d+"', photo)) == 2
    live_page = vc.app.get(f"/photo/{live}").text
    assert f'<video class="clip" muted playsinline loop preload="none" src="/video/{live}">' in (
        live_page
    )


def test_under_a_base_path(viewer_client: ViewerClient) -> None:
    import dataclasses

    import webtest

    from shoebox_viewer.app import make_app

    vc = viewer_client
    ids = [vc.add_photo(f"2024/{i}.jpg", T0 - dt.timedelta(hours=i)) for i in range(PAGE_SIZE + 1)]
    settings = vc.library.settings
    settings = dataclasses.replace(
        settings, viewer=dataclasses.replace(settings.viewer, base_path="/photos/")
    )
    app = webtest.TestApp(make_app(settings))
    form = app.get("/photos/login").forms[0]
    form["name"], form["password"] = "ada", ViewerClient.PASSWORD
    assert form.submit().headers["Location"].endswith("/photos/")
    page = app.get("/photos/").text
    assert 'src="/photos/static/app.js?v=' in page and f'href="/photos/photo/{ids[0]}"' in page
    assert f'src="/photos/tile/{ids[0]}"' in page and 'content="/photos/"' in page
    link = more_link(page)
    assert link is not None and link.startswith("/photos/?cursor=")
    assert re.findall(r'class="tile[^"]*" href="/photos/photo/(\d+)', app.get(link).text) == [
        str(ids[-1])
    ]
    assert f'data-next="/photos/photo/{ids[1]}"' in app.get(f"/photos/photo/{ids[0]}").text


@pytest.mark.parametrize(
    ("width", "height", "shape"),
    [
        (1500, 1000, "a30"),  # 3:2
        (900, 1200, "a15"),  # 3:4
        (1920, 1080, "a36"),  # 16:9, rounded to twentieths
        (4000, 1000, "a60"),  # a panorama: 3:1 at most
        (1000, 4000, "a10"),  # 1:2 at least
        (None, None, "a20"),  # unknown: a square
        (0, 100, "a20"),
    ],
)
def test_tile_shapes(width: Any, height: Any, shape: str) -> None:
    assert tile_shape({"width": width, "height": height}) == shape


def test_every_tile_shape_has_its_css_class() -> None:
    css = (Path(shoebox_viewer.__file__).parent / "static" / "app.css").read_text()
    found = {int(n): float(a) for n, a in re.findall(r"\.a(\d+) \{ --a: ([\d.]+); \}", css)}
    low, high = (round(bound * SHAPES) for bound in TILE_ASPECTS)
    assert found == {n: n / SHAPES for n in range(low, high + 1)}


def test_days_shapes_and_the_squares_cookie(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    vc.add_photo("2025/pano.jpg", dt.datetime(2025, 6, 14, 10), width=4000, height=1000)
    vc.add_photo("2025/tall.jpg", dt.datetime(2025, 6, 13, 10), width=900, height=1200)
    vc.add_photo("2025/odd.heic", dt.datetime(2025, 6, 13, 9))  # no size known
    vc.add_photo("2025/may.jpg", dt.datetime(2025, 5, 31, 23), width=1200, height=900)
    pressed = re.compile(r'class="grid-style"><button [^>]*aria-pressed="(\w+)"')
    page = vc.app.get("/").text
    assert re.findall(r"data-month=\"([\d-]+)\"", page) == ["2025-06", "2025-05"]
    days = ["Saturday 14 June", "Friday 13 June", "Saturday 31 May"]
    assert re.findall(r"<h3>([^<]+)</h3>", page) == days
    assert re.findall(r'class="tile (a\d+)', page) == ["a60", "a15", "a20", "a27"]
    assert '<div class="sections">' in page and pressed.findall(page) == ["false"]
    vc.app.set_cookie("sb_grid", "squares")  # as the Squares button leaves it
    page = vc.app.get("/").text
    assert '<div class="sections squares">' in page and pressed.findall(page) == ["true"]
