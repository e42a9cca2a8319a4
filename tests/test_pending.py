"""A photo in the catalog before its renditions exist (pending): its tile and preview are the
thumbnail inside its JPEG, turned upright by its EXIF orientation, else a placeholder in its
shape; never stored by the browser and marked X-Shoebox-Pending, through the fast lane's
miss and the full routes, for members and visitors alike, with the usual permissions. Files
with broken or hostile EXIF give the placeholder, never a 500. `/api/rendered` tells a member
which photos are made, and nothing about photos the member does not see."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
import re
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import webtest
from PIL import Image, ImageDraw, ImageOps

from conftest import Library
from shoebox import embedded
from shoebox.catalog import shares
from shoebox.catalog.cache import PREVIEW, TILE, rendition_path
from shoebox.catalog.models import Account, File, Photo
from shoebox.sample import Shot, write_jpeg
from shoebox_viewer.app import make_app
from test_viewer_media import log_in, viewer

BLUE, RED = (20, 40, 220), (230, 20, 20)
TAKEN = dt.datetime(2024, 5, 1, 12, 0, 0)


def thumbnail_jpeg(size: tuple[int, int] = (120, 160)) -> bytes:
    """A camera's thumbnail as stored: blue, with a red square at its stored top-left."""
    picture = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(picture).rectangle((0, 0, 29, 29), fill=RED)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def write_thumbed(path: Path, folder: Path) -> Path:
    """A 1200 x 900 photo stored turned (orientation 6) with its EXIF thumbnail (120 x 160 as
    stored), written into IFD1 by exiftool as a camera would."""
    write_jpeg(path, Shot(TAKEN, "+00:00", orientation=6), (1200, 900), seed=3)
    thumb = folder / "thumb.jpg"
    thumb.write_bytes(thumbnail_jpeg())
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={thumb}", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def exif_app1(thumb: bytes, *, start: int | None = None, length: int | None = None) -> bytes:
    """An APP1 EXIF segment made by hand: IFD0 (orientation 6), then IFD1 naming a thumbnail
    at `start` with `length` bytes (by default where `thumb` really is, and its length)."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 26)
    at = 26 + 2 + 2 * 12 + 4  # the thumbnail follows IFD1
    ifd1 = struct.pack("<H", 2)
    ifd1 += struct.pack("<HHII", 0x0201, 4, 1, at if start is None else start)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb) if length is None else length)
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd0 + ifd1 + struct.pack("<I", 0) + thumb
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def claims_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def hostile_files(good: bytes) -> dict[str, bytes]:
    """Originals whose EXIF lies or breaks, each around the pixels of a good JPEG."""
    rest = good[2:]
    png = io.BytesIO()
    Image.new("RGB", (16, 16), BLUE).save(png, "PNG")
    return {
        "thumbnail past the segment": b"\xff\xd8" + exif_app1(thumbnail_jpeg(), start=60000) + rest,
        "length past the segment": b"\xff\xd8" + exif_app1(thumbnail_jpeg(), length=2**31) + rest,
        "thumbnail claims 60000 px": b"\xff\xd8"
        + exif_app1(claims_size(thumbnail_jpeg(), 60000, 60000))
        + rest,
        "thumbnail is a PNG": b"\xff\xd8" + exif_app1(png.getvalue()) + rest,
        "thumbnail cut short": b"\xff\xd8" + exif_app1(thumbnail_jpeg()[:300]) + rest,
        "garbage EXIF": b"\xff\xd8\xff\xe1\x01\x00Exif\0\0"
        + random.Random(7).randbytes(250)
        + rest,
        "segment longer than the file": b"\xff\xd8\xff\xe1\xff\xffExif\0\0II*\0",
        "not a JPEG": b"this is no picture at all\n" * 40,
        "empty": b"",
    }


@pytest.fixture
def home(library: Library, tmp_path: Path) -> dict[str, Any]:
    """An indexed library of a photo with an EXIF thumbnail, one without, and one whose
    original a test may break; members mia and ben (each logged in); the photo without a
    thumbnail is mia's own and private."""
    write_thumbed(library.root / "thumbed.jpg", tmp_path)
    write_jpeg(
        library.root / "plain.jpg",
        Shot(TAKEN - dt.timedelta(hours=1), "+00:00"),
        (1200, 900),
        seed=5,
    )
    write_jpeg(
        library.root / "broken.jpg",
        Shot(TAKEN - dt.timedelta(hours=2), "+00:00"),
        (900, 900),
        seed=7,
    )
    library.index()
    ids = {name: library.photo_of(f"{name}.jpg")["id"] for name in ("thumbed", "plain", "broken")}
    mia, ben = log_in(viewer(library), "mia"), log_in(viewer(library), "ben")
    Photo.update(visibility="private", owner=Account.get(name="mia").id).where(
        Photo.id == ids["plain"]
    ).execute()
    return {"ids": ids, "mia": mia, "ben": ben}


def make_pending(cache: Path, photo_id: int) -> Callable[[], None]:
    """Takes the photo's tile and preview out of the `cache` folder, as the fast phase leaves
    a photo, and marks its file's renditions as not made; returns what puts them back."""
    content_hash = Photo.get_by_id(photo_id).thumb_hash
    paths = [rendition_path(cache, content_hash, name) for name in (TILE, PREVIEW)]
    for path in paths:
        path.rename(path.with_suffix(".aside"))
    File.update(v_renditions=0).where(File.hash == content_hash).execute()

    def put_back() -> None:
        for path in paths:
            path.with_suffix(".aside").rename(path)

    return put_back


def assert_pending(answer: webtest.TestResponse, content_type: str) -> Image.Image:
    assert answer.status_int == 200
    assert answer.content_type == content_type
    assert answer.headers["X-Shoebox-Pending"] == "1"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "ETag" not in answer.headers and "Last-Modified" not in answer.headers
    picture = Image.open(io.BytesIO(answer.body))
    picture.load()
    return picture


def test_a_pending_tile_is_the_embedded_thumbnail_upright_until_the_rendition_is_made(
    library: Library, home: dict[str, Any]
) -> None:
    mia, photo_id = home["mia"], home["ids"]["thumbed"]
    put_back = make_pending(library.settings.library.cache, photo_id)
    for name in ("tile", "preview"):
        stored = assert_pending(mia.get(f"/{name}/{photo_id}"), "image/jpeg")
        assert dict(stored.getexif()) == {0x0112: 6}  # the orientation, and nothing else
        assert set(stored.info) <= {
            "exif",
            "jfif",
            "jfif_version",
            "jfif_unit",
            "jfif_density",
            "dpi",
        }
        picture = ImageOps.exif_transpose(stored)  # as a browser shows it
        assert picture.size == (160, 120)  # stored 120 x 160, turned by orientation 6
        assert _near(picture.getpixel((155, 5)), RED) and _near(picture.getpixel((5, 5)), BLUE)
    assert mia.get(f"/api/rendered?ids={photo_id}").json == {"ready": [], "pending": [photo_id]}
    assert f'data-id="{photo_id}"' in mia.get("/").text
    assert _pending_marks(mia.get("/").text) == {"tile": 1}  # the one pending tile, marked
    assert _pending_marks(mia.get(f"/photo/{photo_id}").text) == {"preview": 1}

    put_back()
    tile = mia.get(f"/tile/{photo_id}")
    assert tile.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert "X-Shoebox-Pending" not in tile.headers and tile.headers["ETag"].endswith('-tile"')
    assert mia.get(f"/api/rendered?ids={photo_id}").json == {"ready": [photo_id], "pending": []}
    assert _pending_marks(mia.get("/").text) == {}
    assert _pending_marks(mia.get(f"/photo/{photo_id}").text) == {}


def test_a_pending_photo_without_a_thumbnail_is_a_placeholder_in_its_shape(
    library: Library, home: dict[str, Any]
) -> None:
    mia, photo_id = home["mia"], home["ids"]["plain"]
    make_pending(library.settings.library.cache, photo_id)
    for name in ("tile", "preview"):
        picture = assert_pending(mia.get(f"/{name}/{photo_id}"), "image/png")
        assert picture.size == (64, 48)  # 1200 x 900, small: the page scales it
        assert picture.mode == "RGBA" and picture.getpixel((10, 10)) == embedded.TONE


def test_hostile_exif_gives_the_placeholder_and_never_a_500(
    library: Library, home: dict[str, Any]
) -> None:
    mia, photo_id = home["mia"], home["ids"]["broken"]
    make_pending(library.settings.library.cache, photo_id)
    original = library.root / "broken.jpg"
    good = original.read_bytes()
    for what, data in hostile_files(good).items():
        original.write_bytes(data)  # the catalog still holds the file it indexed
        for name in ("tile", "preview"):
            answer = mia.get(f"/{name}/{photo_id}", expect_errors=True)
            assert answer.status_int == 200, what
            picture = assert_pending(answer, "image/png")
            assert picture.size == (64, 64), what
    # the same hand-made segment around a good thumbnail is read: the check can fail
    original.write_bytes(b"\xff\xd8" + exif_app1(thumbnail_jpeg()) + good[2:])
    picture = ImageOps.exif_transpose(assert_pending(mia.get(f"/tile/{photo_id}"), "image/jpeg"))
    assert picture.size == (160, 120)
    original.unlink()  # gone from the disk: still an answer
    assert_pending(mia.get(f"/preview/{photo_id}"), "image/png")


def test_flipped_bytes_in_the_exif_never_raise(tmp_path: Path) -> None:
    """Random damage to the first 4 KB of a JPEG with a thumbnail: None, or a small JPEG
    whose header Pillow reads."""
    good = write_thumbed(tmp_path / "good.jpg", tmp_path).read_bytes()
    assert embedded.thumbnail(str(tmp_path / "good.jpg").encode()) is not None
    rng = random.Random(13)
    damaged = tmp_path / "damaged.jpg"
    read = 0
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(2, 4096)] = rng.randrange(256)
        damaged.write_bytes(bytes(data))
        found = embedded.thumbnail(str(damaged).encode())
        if found is not None:
            read += 1
            # its markers and tables are a JPEG's (damage inside the tables or the picture
            # data is left to the browser, whose page hides a stand-in it cannot decode)
            with Image.open(io.BytesIO(found), formats=["JPEG"]) as picture:
                assert max(picture.size) <= embedded.MAX_SIDE
    assert read > 0  # damage that misses the thumbnail's way leaves it readable


def test_visitors_get_the_stand_in_unstored_and_nothing_more(
    library: Library, home: dict[str, Any]
) -> None:
    photo_id, other = home["ids"]["thumbed"], home["ids"]["broken"]
    make_pending(library.settings.library.cache, photo_id)
    make_pending(library.settings.library.cache, other)
    share = shares.create("photo", photo_id=photo_id)
    guest = viewer(library)
    assert guest.get(f"/s/{share.token}").status_int == 200
    for name in ("tile", "preview"):
        assert_pending(guest.get(f"/s/{share.token}/{name}/{photo_id}"), "image/jpeg")
        refused = guest.get(f"/s/{share.token}/{name}/{other}", expect_errors=True)
        assert refused.status_int == 404  # pending or not, not in the share
    rendered = f"/api/rendered?ids={photo_id}"
    assert guest.get(f"/s/{share.token}{rendered}", expect_errors=True).status_int == 404
    assert guest.get(rendered, expect_errors=True).status_int in (303, 401, 403)


def test_rendered_tells_nothing_of_photos_the_member_does_not_see(
    library: Library, home: dict[str, Any]
) -> None:
    mia, ben, ids = home["mia"], home["ben"], home["ids"]
    private, shared = ids["plain"], ids["thumbed"]
    make_pending(library.settings.library.cache, private)
    asked = f"/api/rendered?ids={private},{shared},999999"
    assert mia.get(asked).json == {"ready": [shared], "pending": [private]}
    assert ben.get(asked).json == {"ready": [shared], "pending": []}  # as for 999999
    assert ben.get(f"/tile/{private}", expect_errors=True).status_int == 404
    assert ben.get(f"/preview/{private}", expect_errors=True).status_int == 404
    too_many = ",".join(str(i) for i in range(1, 1003))
    for bad in ("", "x", "1,,2", "-1", "%201", "0", too_many):
        answer = mia.get(f"/api/rendered?ids={bad}", expect_errors=True)
        assert answer.status_int == 400, bad
        assert "ids" in answer.json["error"]


def _near(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def _pending_marks(html: str) -> dict[str, int]:
    marks: dict[str, int] = {}
    for name in re.findall(r'data-pending="(\w+)"', html):
        marks[name] = marks.get(name, 0) + 1
    return marks


def test_with_signed_tiles_a_pending_tile_comes_from_the_viewer(
    library: Library, home: dict[str, Any], tmp_path: Path
) -> None:
    """nginx serves made tiles from the cache (`signed.py`): a pending one is not there, so
    its URL is the viewer's, which sends the stand-in."""
    secret_file = tmp_path / "tiles.secret"
    secret_file.write_text("a-secret-for-this-test-only-0123456789\n")
    settings = dataclasses.replace(
        library.settings,
        viewer=dataclasses.replace(
            library.settings.viewer, signed_tiles_secret_file=str(secret_file)
        ),
    )
    member = log_in(webtest.TestApp(make_app(settings)), "ada")
    pending, made = home["ids"]["thumbed"], home["ids"]["broken"]
    make_pending(library.settings.library.cache, pending)
    page = member.get("/").text
    sources = dict(re.findall(r'data-id="(\d+)">\s*(?:\{[^}]*\}\s*)?<img src="([^"]+)"', page))
    assert sources[str(pending)] == f"/tile/{pending}"
    assert "expires=" in sources[str(made)] and f"/tile/{made}" not in sources[str(made)]
