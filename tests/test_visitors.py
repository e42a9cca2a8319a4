"""Share links against a real viewer (waitress on a free port, plain HTTP clients) as visitors
meet them, on SQLite and MariaDB:

- for links of each kind (a photo, an album, a search), with and without a password, the
  location, the details, people's names and downloads, a fresh client (no cookies) on every
  route gets what the link gives and nothing else (401, 404 or 410);
- the JSON and HTML hold no position, camera, name, file name, hash or path unless the link
  shows it; tiles, previews and full-screen pictures carry no metadata (but for the originals
  a link that allows downloads shows full screen), a video carries no GPS unless downloads are
  allowed (exiftool on the bytes);
- visitor answers are private and revalidated, never immutable;
- a view is a visitor, counted on whichever route it starts; two visitors racing for the last
  view are not both let in; a used-up link serves the visitors it counted and nobody else;
- an expired or revoked link is 410 on every route at once, for visitors already in too.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import Library, serving
from shoebox.catalog import shares
from shoebox.catalog.models import (
    Account,
    Album,
    AlbumPhoto,
    Face,
    File,
    Person,
    Place,
    Share,
    ShareVisitor,
    utcnow,
)
from shoebox.sample import make_library, write_video

PASSWORD = "tide pools"  # noqa: S105 - a test link's
NOBODY = 999_999
# What only some links may show, by the choice that shows it.
LOCATION = ("38.71", "-9.13", "35.01", "135.76")  # the sample's latitudes and longitudes
DETAILS = ("iPhone", "ILCE", "SONY")
PEOPLE = ("Zofia Quellmann",)
DOWNLOADS = ("IMG_0001.jpg", "DSC01234.JPG", "gps.mp4", "clip.mp4")


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 303 is an answer to look at, not to follow


class Visitor:
    """A fresh browser: its own cookies, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _Stay()
        )

    def get(self, path: str, **headers: str) -> Answer:
        url = self.base + path.lstrip("/")  # http://127.0.0.1:PORT/...
        return self._send(urllib.request.Request(url, headers=headers))  # noqa: S310

    def post(self, path: str, form: dict[str, str]) -> Answer:
        data = urllib.parse.urlencode(form).encode()
        url = self.base + path.lstrip("/")
        return self._send(urllib.request.Request(url, data=data))  # noqa: S310

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def unlock(self, token: str, password: str = PASSWORD) -> Answer:
        assert self.get(f"s/{token}").status == 401  # the form, and the CSRF cookie
        return self.post(
            f"s/{token}/unlock", {"password": password, "csrf_token": self.cookie("sb_csrf") or ""}
        )

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=60) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.headers, exc.read())


@dataclass
class Site:
    url: str
    library: Library
    maker: int  # the member who makes the links
    ids: dict[str, int]  # photo ids by file name
    files: dict[int, list[int]]  # file ids by photo id
    types: dict[int, str]
    album: int
    secrets: list[str] = field(default_factory=list)  # never for a visitor's eyes

    def link(self, kind: str, **options: Any) -> Share:
        target = {
            "photo": {"photo_id": self.ids["IMG_0001.jpg"]},
            "album": {"album_id": self.album},
            "search": {"query": "year:2024"},
        }[kind]
        return shares.create(kind, created_by=self.maker, **target, **options)

    def visitor(self) -> Visitor:
        return Visitor(self.url)


@pytest.fixture
def site(library: Library) -> Iterator[Site]:
    """The sample library, a video with a GPS position, places, a named person and an album
    (two Kyoto photos, one of them the video), served by a real viewer."""
    make_library(library.root)
    write_video(
        library.root / "2024/Kyoto/gps.mp4", extra=("-metadata", "location=+35.0116+135.7681/")
    )
    library.index()
    ids = {p["files"][0]["path"].rsplit("/", 1)[-1]: p["id"] for p in library.photos()}
    files: dict[int, list[int]] = {}
    for row in File.select().order_by(File.id):
        files.setdefault(row.photo_id or 0, []).append(row.id)
    maker = Account.create(name="ada", folder="/elsewhere/ada", role="member")
    Place.create(photo=ids["IMG_0001.jpg"], country_code="PT", country="Portugal", city="Lisbon")
    Place.create(photo=ids["DSC01234.JPG"], country_code="JP", country="Japan", city="Kyoto")
    zofia = Person.create(name=PEOPLE[0])
    for name in ("IMG_0001.jpg", "DSC01234.JPG"):
        Face.create(
            photo=ids[name], x=0.1, y=0.1, width=0.2, height=0.2, score=0.9, embedding=bytes(512),
            person=zofia.id,
        )  # fmt: skip
    album = Album.create(title="Kyoto", created_by=maker.id)
    for name in ("DSC01234.JPG", "gps.mp4"):
        AlbumPhoto.create(album=album.id, photo=ids[name])
    types = {p["id"]: p["type"] for p in library.photos()}
    secrets = [str(library.root), "2023/Lisbon", "2024/Kyoto", "2022/Beach"]
    secrets += [row.hash for row in File.select() if row.hash]
    with serving(library.settings) as url:
        yield Site(url, library, maker.id, ids, files, types, album.id, secrets)


def _tags(data: bytes) -> dict[str, Any]:
    """What exiftool reads from these bytes (group:tag -> value)."""
    done = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-"], input=data, capture_output=True, check=True
    )
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found


def _metadata(data: bytes) -> list[str]:
    """The tags of these bytes that say more than the picture: EXIF, GPS, XMP, IPTC, comments,
    maker notes, titles (the file's structure and a colour profile are not)."""
    said = []
    for key in _tags(data):
        group, _, name = key.partition(":")
        if (
            "GPS" in key
            or "Coordinates" in key
            or group.startswith(("IFD", "ExifIFD", "XMP", "IPTC", "MakerNotes", "UserData"))
            or name in ("Comment", "Title", "Make", "Model", "SerialNumber")
        ):
            said.append(key)
    return said


def _shown(site: Site, share: Share) -> set[int]:
    return {p for p in site.ids.values() if shares.contains(share, p)}


def _expected(site: Site, share: Share) -> list[tuple[str, int]]:
    """Every visitor route of the link with every id, and what a counted visitor gets."""
    shown = _shown(site, share)
    routes: list[tuple[str, int]] = [("", 200), ("/api/photos", 200)]
    for photo_id in [*site.ids.values(), NOBODY]:
        mine = photo_id in shown
        for what in ("photo", "tile", "preview", "large"):
            routes.append((f"/{what}/{photo_id}", 200 if mine else 404))
        video = mine and site.types.get(photo_id) in ("video", "live")
        routes.append((f"/video/{photo_id}", 200 if video else 404))
        for file_id in site.files.get(photo_id, [NOBODY]):
            routes.append((f"/original/{file_id}", 200 if mine and share.allow_download else 404))
    return routes


def _check_content(site: Site, share: Share, path: str, answer: Answer) -> None:
    """What a 200 holds: nothing the link does not show."""
    where = f"{share.kind} {path or '/'}"
    cache = answer.headers["Cache-Control"]
    assert cache == "private, no-cache", (where, cache)
    kind = answer.headers["Content-Type"]
    if kind.startswith(("text/html", "application/json")):
        text = answer.text
        for secret in site.secrets:
            assert secret not in text, (where, secret)
        for words, allowed in (
            (LOCATION, share.show_location),
            (DETAILS, share.show_details),
            (PEOPLE, share.show_people),
            (DOWNLOADS, share.allow_download),
        ):
            for word in words:
                if not allowed:
                    assert word not in text, (where, word)
        return
    assert answer.headers["ETag"] or path.startswith("/original/"), where
    shown_as_is = path.startswith("/large/") and share.allow_download
    photo_id = int(path.rsplit("/", 1)[1]) if shown_as_is else 0
    if shown_as_is and site.types[photo_id] != "video":  # an original a browser shows as it is
        row = File.get((File.photo == photo_id) & (File.role == "original"))
        assert answer.body == (site.library.root / row.rel_path).read_bytes(), where
    elif path.startswith(("/tile/", "/preview/", "/large/")):
        assert kind == "image/jpeg" and _metadata(answer.body) == [], where
    elif path.startswith("/video/"):
        said = _metadata(answer.body)
        assert said == [] or share.allow_download, (where, said)
    else:
        row = File.get_by_id(int(path.rsplit("/", 1)[1]))
        original = site.library.root / row.rel_path
        assert answer.body == original.read_bytes(), where


CASES: list[tuple[str, dict[str, Any]]] = [
    ("photo", {}),
    ("photo", {"show_location": True, "show_details": True}),
    ("photo", {"allow_download": True, "password": PASSWORD}),
    ("album", {}),
    ("album", {"show_people": True, "allow_download": True}),
    ("album", {"password": PASSWORD, "show_location": True}),
    ("search", {}),
    ("search", {"show_details": True, "show_people": True}),
    ("search", {"allow_download": True, "max_views": 3}),
    ("search", {"show_location": True, "allow_download": True, "expires_days": 3}),
]


def test_each_link_gives_a_fresh_visitor_what_it_shows_and_nothing_else(site: Site) -> None:
    # The video keeps its position inside: whatever a visitor gets of it is a copy without.
    assert any(
        "GPS" in key for key in _tags((site.library.root / "2024/Kyoto/gps.mp4").read_bytes())
    )
    checked = 0
    for kind, options in CASES:
        share = site.link(kind, **options)
        expected = _expected(site, share)
        if share.password_hash:
            for path, _status in expected:
                answer = site.visitor().get(f"s/{share.token}{path}")
                assert answer.status == 401, (kind, path, answer.status)
                assert answer.headers["Cache-Control"] == "no-store"
            assert Share.get_by_id(share.id).views == 0  # nothing counted before the password
        for i, (path, status) in enumerate(expected):
            guest = site.visitor()
            if share.max_views is not None and i >= share.max_views:
                status = 410  # every view has been used: nobody new gets anything
            if share.password_hash:
                assert guest.unlock(share.token).status == (303 if status != 410 else 410)
            answer = guest.get(f"s/{share.token}{path}")
            checked += 1
            assert answer.status == status, (kind, options, path, answer.status, answer.text[:200])
            assert "immutable" not in (answer.headers["Cache-Control"] or "")
            if status == 200:
                _check_content(site, share, path, answer)
            else:
                assert answer.headers["Cache-Control"] == "no-store", (kind, path)
        views = Share.get_by_id(share.id).views  # every fresh client is a visitor
        assert views == min(len(expected), share.max_views or len(expected)), (kind, options)
    assert checked > 400


def test_the_visitors_api_and_pages_say_what_each_choice_adds(site: Site) -> None:
    kyoto = site.ids["DSC01234.JPG"]
    plain = site.visitor().get(f"s/{site.link('album').token}/api/photos").text
    everything = site.link("album", **dict.fromkeys(shares.OPTIONS, True))
    full = json.loads(site.visitor().get(f"s/{everything.token}/api/photos").text)
    item = next(i for i in full["items"] if i["id"] == kyoto)
    assert item["place"]["city"] == "Kyoto" and '"Kyoto"' in plain  # a town, for everyone
    assert round(item["lat"], 4) == 35.0116 and item["camera_model"] == "ILCE-7M3"
    assert item["people"] == [PEOPLE[0]] and [f["name"] for f in item["files"]] == ["DSC01234.JPG"]
    page = site.visitor().get(f"s/{everything.token}/photo/{kyoto}").text
    assert "35.01160, 135.76810" in page and "ILCE-7M3" in page and PEOPLE[0] in page
    assert "Download" in page and "Kyoto, Japan" in page
    page = site.visitor().get(f"s/{site.link('album').token}/photo/{kyoto}").text
    assert "Kyoto, Japan" in page and "Download" not in page and "ILCE" not in page


STEP = re.compile(r'class="step (prev|next)" href="/s/[\w-]+/photo/(\d+)"')


def _walk(visitor: Visitor, token: str, start: int, way: str) -> list[int]:
    """The photos met from `start` by following the page's `way` link ("prev" or "next")."""
    met = [start]
    while len(met) < 50:
        page = visitor.get(f"s/{token}/photo/{met[-1]}")
        assert page.status == 200
        steps = dict(STEP.findall(page.text))
        assert f'data-{way}="{f"/s/{token}/photo/{steps[way]}" if way in steps else ""}"' in (
            page.text
        )  # what the arrow keys and swipes follow
        if way not in steps:
            return met
        met.append(int(steps[way]))
    raise AssertionError(f"no end to {way} from {start}: {met}")


def test_a_visitor_steps_through_an_album_or_search_link_in_its_grids_order(site: Site) -> None:
    """Previous and next walk the link's photos in the order of its grid and no others (the
    album's are days apart, with photos of the library between them); "Download all" is on
    every page of a link that allows downloads, and on none of one that does not."""
    in_album = {site.ids["DSC01234.JPG"], site.ids["gps.mp4"]}
    for kind, download in (("album", True), ("album", False), ("search", True)):
        link = site.link(kind, allow_download=download)
        visitor = site.visitor()
        grid = [
            i["id"] for i in json.loads(visitor.get(f"s/{link.token}/api/photos").text)["items"]
        ]
        assert len(grid) >= 2 and (set(grid) == in_album) == (kind == "album")
        assert _walk(visitor, link.token, grid[0], "next") == grid
        assert _walk(visitor, link.token, grid[-1], "prev") == grid[::-1]
        for page in (f"s/{link.token}", f"s/{link.token}/photo/{grid[1]}"):
            has = (
                f'class="download-all button" href="/s/{link.token}/zip"' in visitor.get(page).text
            )
            assert has == download, (kind, download, page)
        zipped = visitor.get(f"s/{link.token}/zip")
        assert zipped.status == (200 if download else 404)
    one = site.link("photo", allow_download=True)
    page = site.visitor().get(f"s/{one.token}").text
    assert 'data-prev="" data-next=""' in page and "download-all" not in page and "Download" in page


ROUTES = (
    "",
    "/photo/{p}",
    "/tile/{p}",
    "/preview/{p}",
    "/large/{p}",
    "/video/{v}",
    "/original/{f}",
    "/api/photos",
)


def test_a_view_is_a_visitor_whichever_route_it_starts_on(site: Site) -> None:
    video = site.ids["gps.mp4"]
    values = {"p": site.ids["DSC01234.JPG"], "v": video, "f": site.files[video][0]}
    paths = [route.format(**values) for route in ROUTES]
    for start in paths:
        share = site.link("album", max_views=1, allow_download=True)
        first = site.visitor()
        assert first.get(f"s/{share.token}{start}").status == 200, start
        assert first.cookie("sb_visit") and len(first.cookie("sb_visit") or "") >= 43
        assert Share.get_by_id(share.id).views == 1, start
        for path in paths:
            late = site.visitor()
            answer = late.get(f"s/{share.token}{path}")
            assert answer.status == 410, (start, path, answer.status)
            assert late.cookie("sb_visit") is None
        for path in paths:  # the visitor who used the view keeps it, everywhere
            assert first.get(f"s/{share.token}{path}").status == 200, (start, path)
        assert Share.get_by_id(share.id).views == 1
        assert ShareVisitor.select().where(ShareVisitor.share == share.id).count() == 1
    forged = site.visitor()
    share = site.link("album", max_views=1)
    assert site.visitor().get(f"s/{share.token}").status == 200
    forged.jar.set_cookie(_cookie("sb_visit", "A" * 43, f"/s/{share.token}"))
    assert forged.get(f"s/{share.token}/api/photos").status == 410  # a made-up cookie is nobody


def _cookie(name: str, value: str, path: str) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, path, True, False, None, False,
        None, None, {},
    )  # fmt: skip


def test_two_visitors_racing_for_the_last_view_are_not_both_let_in(site: Site) -> None:
    routes = ("", "/api/photos", f"/tile/{site.ids['DSC01234.JPG']}")
    for round_ in range(4):
        share = site.link("album", max_views=2)
        assert site.visitor().get(f"s/{share.token}").status == 200  # one view left
        start = threading.Barrier(8)

        def race(i: int, token: str = share.token, barrier: threading.Barrier = start) -> int:
            guest = site.visitor()
            barrier.wait()
            return guest.get(f"s/{token}{routes[i % len(routes)]}").status

        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(race, range(8)))
        assert statuses == [200] + [410] * 7, (round_, statuses)
        assert Share.get_by_id(share.id).views == 2
        assert ShareVisitor.select().where(ShareVisitor.share == share.id).count() == 2


def test_revoked_and_expired_links_are_gone_at_once_for_everyone(site: Site) -> None:
    kyoto = site.ids["DSC01234.JPG"]
    paths = [f"/preview/{kyoto}", f"/large/{kyoto}", f"/tile/{kyoto}", f"/photo/{kyoto}"]
    paths += ["/api/photos", ""]
    for end in ("revoke", "expire"):
        share = site.link("album")
        inside = site.visitor()
        seen = {path: inside.get(f"s/{share.token}{path}") for path in paths}
        assert all(answer.status == 200 for answer in seen.values())
        preview = seen[f"/preview/{kyoto}"]
        again = inside.get(
            f"s/{share.token}/preview/{kyoto}", **{"If-None-Match": preview.headers["ETag"]}
        )
        assert again.status == 304  # revalidated, not taken from a cache unasked
        if end == "revoke":
            shares.revoke(share)
        else:
            Share.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(
                Share.id == share.id
            ).execute()
        for path in paths:
            for guest in (inside, site.visitor()):
                answer = guest.get(
                    f"s/{share.token}{path}", **{"If-None-Match": preview.headers["ETag"]}
                )
                assert answer.status == 410, (end, path, answer.status)
                assert answer.headers["Cache-Control"] == "no-store"


def test_a_wrong_password_counts_nothing_and_the_form_is_only_a_form(site: Site) -> None:
    share = site.link("photo", password=PASSWORD, max_views=1)
    guest, late = site.visitor(), site.visitor()
    assert late.get(f"s/{share.token}").status == 401  # the form, open before the last view
    assert guest.unlock(share.token, "wrong").status == 401
    assert Share.get_by_id(share.id).views == 0 and guest.cookie("sb_visit") is None
    assert guest.unlock(share.token).status == 303
    assert Share.get_by_id(share.id).views == 1
    form = {"csrf_token": late.cookie("sb_csrf") or ""}
    for password in (PASSWORD, "wrong"):  # no view left: 410, whatever the password
        assert late.post(f"s/{share.token}/unlock", {**form, "password": password}).status == 410
    assert late.get(f"s/{share.token}").status == 410  # not a password form: nobody new gets in
    assert site.visitor().get(f"s/{share.token}").status == 410
    assert late.cookie("sb_visit") is None
    assert guest.get(f"s/{share.token}").status == 200
    shares.revoke(share)
    wrong = {**form, "password": "wrong"}
    assert late.post(f"s/{share.token}/unlock", wrong).status == 410  # withdrawn: gone at once
    assert guest.get(f"s/{share.token}").status == 410
