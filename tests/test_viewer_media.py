"""Media in the viewer, over real HTTP semantics: tiles and previews with strong ETags and 304s,
originals as downloads with safe names and byte ranges, videos played as they are or
converted once (a real HEVC file, made with ffmpeg) into a cached H.264 copy, gzip for text
answers, and the security headers on every kind of answer, errors included."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import logging
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import webob
import webtest
from PIL import Image

from conftest import Library
from shoebox.catalog.cache import rendition_path
from shoebox.catalog.models import Account, File, Photo
from shoebox.passwords import hash_password
from shoebox.sample import make_library, write_video
from shoebox_viewer.app import make_app
from shoebox_viewer.http import accepts_gzip, content_disposition
from shoebox_viewer.transcode import bare_copy, playable_copy

PASSWORD = "correct horse battery staple"  # noqa: S105
HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def viewer(library: Library) -> webtest.TestApp:
    return webtest.TestApp(
        make_app(library.settings), extra_environ={"REMOTE_ADDR": "198.51.100.7"}
    )


def log_in(app: webtest.TestApp, name: str = "mia", role: str = "member") -> webtest.TestApp:
    """An account made and logged in through the real /login form."""
    Account.create(name=name, password_hash=hash_password(PASSWORD), folder=f"/x/{name}", role=role)
    page = app.get("/login")
    form = next(f for f in page.forms.values() if f.action.endswith("/login"))
    form["name"], form["password"] = name, PASSWORD
    assert form.submit().status_int == 303
    return app


def sample(library: Library) -> None:
    make_library(library.root)
    summary = library.index()
    assert summary is not None


def file_of(library: Library, name: str) -> Any:
    return File.get(File.rel_path.endswith(name))


@pytest.fixture
def member(library: Library) -> webtest.TestApp:
    sample(library)
    return log_in(viewer(library))


def test_tiles_and_previews_are_immutable_with_strong_etags_and_304s(
    library: Library, member: webtest.TestApp
) -> None:
    photo = library.photo_of("IMG_0001.jpg")
    tile = member.get(f"/tile/{photo['id']}")
    assert tile.content_type == "image/jpeg"
    assert tile.body.startswith(b"\xff\xd8")
    assert tile.headers["ETag"] == f'"{photo["thumb_hash"]}-tile"'
    assert tile.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    cache = library.settings.library.cache
    assert tile.body == rendition_path(cache, photo["thumb_hash"], "tile").read_bytes()
    again = member.get(f"/tile/{photo['id']}", headers={"If-None-Match": tile.headers["ETag"]})
    assert again.status_int == 304 and again.body == b""
    assert again.headers["ETag"] == tile.headers["ETag"]
    since = member.get(
        f"/preview/{photo['id']}", headers={"If-Modified-Since": tile.headers["Last-Modified"]}
    )
    assert since.status_int == 304
    other = member.get(f"/preview/{photo['id']}", headers={"If-None-Match": '"nope"'})
    assert other.status_int == 200 and other.headers["ETag"].endswith('-preview"')
    for path in ("/tile/999999", "/preview/0", "/tile/-1", "/video/999999", "/original/999999"):
        assert member.get(path, expect_errors=True).status_int == 404, path


def test_full_screen_is_the_original_or_a_large_rendition_made_once_in_the_cache(
    library: Library, member: webtest.TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    settings, cache = library.settings, library.settings.library.cache
    lisbon = library.photo_of("IMG_0001.jpg")
    as_is = member.get(f"/large/{lisbon['id']}")  # a JPEG smaller than large_size
    assert as_is.body == (library.root / "2023/Lisbon/IMG_0001.jpg").read_bytes()
    assert as_is.headers["ETag"] == f'"{lisbon["thumb_hash"]}-original"'
    assert as_is.content_type == "image/jpeg"
    sketch = member.get(f"/large/{library.photo_of('sketch.png')['id']}")
    assert sketch.content_type == "image/png"

    before = {p: p.stat().st_mtime_ns for p in library.root.rglob("*")}
    small = dataclasses.replace(
        settings, renditions=dataclasses.replace(settings.renditions, large_size=600)
    )
    smaller = log_in(
        webtest.TestApp(make_app(small), extra_environ={"REMOTE_ADDR": "198.51.100.7"}), "lou"
    )
    turned = library.photo_of("IMG_0002.jpg")  # stored 1200x900, upright by its EXIF
    made = rendition_path(cache, turned["thumb_hash"], "large")
    assert not made.exists()
    large = smaller.get(f"/large/{turned['id']}")
    assert large.content_type == "image/jpeg"
    assert large.headers["ETag"] == f'"{turned["thumb_hash"]}-large"'
    with Image.open(io.BytesIO(large.body)) as picture:
        assert picture.size == (450, 600)
        assert dict(picture.getexif()) == {}  # no position or camera: the rendition is bare
    assert made.read_bytes() == large.body
    again = smaller.get(f"/large/{turned['id']}", headers={"If-None-Match": large.headers["ETag"]})
    assert again.status_int == 304
    assert {p: p.stat().st_mtime_ns for p in library.root.rglob("*")} == before  # read only

    clip = library.photo_of("clip.mp4")  # a video: its preview (it plays on the photo page)
    poster = member.get(f"/large/{clip['id']}")
    assert poster.headers["ETag"] == f'"{clip["thumb_hash"]}-preview"'
    for path in ("/large/999999", "/large/0", "/large/-1", f"/large/{2**63}"):
        assert member.get(path, expect_errors=True).status_int == 404, path

    # nothing larger than max_pixels is decoded: the preview stands in, and the log says why
    bounded = dataclasses.replace(
        small, ingest=dataclasses.replace(settings.ingest, max_pixels=100_000)
    )
    guarded = log_in(
        webtest.TestApp(make_app(bounded), extra_environ={"REMOTE_ADDR": "198.51.100.7"}), "max"
    )
    beach = library.photo_of("beach.jpg")
    with caplog.at_level(logging.WARNING, logger="shoebox.viewer"):
        answer = guarded.get(f"/large/{beach['id']}")
    assert answer.headers["ETag"] == f'"{beach["thumb_hash"]}-preview"'
    assert not rendition_path(cache, beach["thumb_hash"], "large").exists()
    assert "max_pixels=100000" in caplog.text


def test_originals_download_with_ranges(library: Library, member: webtest.TestApp) -> None:
    row = file_of(library, "beach.jpg")
    data = (library.root / "2022/Beach/beach.jpg").read_bytes()
    whole = member.get(f"/original/{row.id}")
    assert whole.body == data and whole.content_type == "image/jpeg"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Disposition"] == (
        "attachment; filename=\"beach.jpg\"; filename*=UTF-8''beach.jpg"
    )
    part = member.get(f"/original/{row.id}", headers={"Range": "bytes=10-19"})
    assert part.status_int == 206 and part.body == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = member.get(f"/original/{row.id}", headers={"Range": "bytes=-5"})
    assert tail.status_int == 206 and tail.body == data[-5:]
    open_end = member.get(f"/original/{row.id}", headers={"Range": f"bytes={len(data) - 3}-"})
    assert open_end.body == data[-3:]
    beyond = member.get(
        f"/original/{row.id}", headers={"Range": f"bytes={len(data)}-"}, expect_errors=True
    )
    assert beyond.status_int == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    several = member.get(f"/original/{row.id}", headers={"Range": "bytes=0-1,5-6"})
    assert several.status_int == 200 and several.body == data  # several ranges: the whole file
    junk = member.get(f"/original/{row.id}", headers={"Range": "bytes=abc"})
    assert junk.status_int == 200
    stale = member.get(f"/original/{row.id}", headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_int == 200 and stale.body == data
    fresh = member.get(
        f"/original/{row.id}", headers={"Range": "bytes=0-1", "If-Range": whole.headers["ETag"]}
    )
    assert fresh.status_int == 206 and fresh.body == data[:2]
    assert (
        member.get(
            f"/original/{row.id}", headers={"If-None-Match": whole.headers["ETag"]}
        ).status_int
        == 304
    )
    (library.root / "2022/Beach/beach.jpg").unlink()
    assert member.get(f"/original/{row.id}", expect_errors=True).status_int == 404


@pytest.mark.parametrize(
    ("name", "ascii_part", "utf8_part"),
    [
        ('say "cheese".jpg', "say _cheese_.jpg", "say%20%22cheese%22.jpg"),
        ("two\nlines\r.jpg", "two lines .jpg", "two%20lines%20.jpg"),
        ("Zoë 😀.jpg", "Zoe .jpg", "Zo%C3%AB%20%F0%9F%98%80.jpg"),
        ("bad\udcff.jpg", "bad.jpg", "bad%EF%BF%BD.jpg"),
        ("", "download", "download"),
    ],
)
def test_content_disposition_is_safe_for_any_name(
    name: str, ascii_part: str, utf8_part: str
) -> None:
    header = content_disposition(name)
    assert header == f"attachment; filename=\"{ascii_part}\"; filename*=UTF-8''{utf8_part}"
    assert "\n" not in header and "\r" not in header and header.isascii()


def test_hostile_file_names_download_safely(library: Library, member: webtest.TestApp) -> None:
    folder = library.root / "odd"
    folder.mkdir()
    source = (library.root / "2024/Garden/sketch.png").read_bytes()
    hostile = os.fsencode(folder) + b'/a "quoted"\nname\xff.png'
    Path(os.fsdecode(hostile)).write_bytes(source)
    library.index()
    row = File.get(File.rel_path_raw == b'odd/a "quoted"\nname\xff.png')
    answer = member.get(f"/original/{row.id}")
    assert answer.body == source
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="a _quoted_ name')
    assert (
        "filename*=UTF-8''a%20%22quoted%22%20name%EF%BF%BD.png"
        in answer.headers["Content-Disposition"]
    )


def _ffprobe_codec(path: Path) -> str:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,height", "-of", "json", str(path)],
        capture_output=True, check=True,
    )  # fmt: skip
    stream = json.loads(done.stdout)["streams"][0]
    return f"{stream['codec_name']}:{stream['height']}"


def test_an_h264_video_plays_as_it_is(library: Library, member: webtest.TestApp) -> None:
    clip = library.photo_of("clip.mp4")
    data = (library.root / "2024/Kyoto/clip.mp4").read_bytes()
    answer = member.get(f"/video/{clip['id']}", headers={"Range": "bytes=0-99"})
    assert answer.status_int == 206 and answer.content_type == "video/mp4"
    assert answer.body == data[:100]
    assert not (library.settings.library.cache / "video").exists()
    image = library.photo_of("beach.jpg")
    assert member.get(f"/video/{image['id']}", expect_errors=True).status_int == 404


def test_an_hevc_video_is_converted_once_and_served_with_ranges(
    library: Library, member: webtest.TestApp
) -> None:
    write_video(
        library.root / "phone/IMG_5000.MOV",
        size=(320, 240),
        extra=("-c:v", "libx265", "-tag:v", "hvc1"),
    )
    library.index()
    photo = library.photo_of("IMG_5000.MOV")
    assert photo["codec"] == "hvc1"
    first = member.get(f"/video/{photo['id']}")
    assert first.content_type == "video/mp4"
    row = file_of(library, "IMG_5000.MOV")
    copy = library.settings.library.cache / "video" / f"{row.hash}-h264.mp4"
    assert first.body == copy.read_bytes()
    assert first.headers["ETag"] == f'"{row.hash}-h264"'
    assert first.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert _ffprobe_codec(copy) == "h264:240"
    made = copy.stat()
    part = member.get(f"/video/{photo['id']}", headers={"Range": "bytes=4-11"})
    assert part.status_int == 206 and part.body == first.body[4:12]
    assert part.body == b"ftypisom"  # +faststart MP4: the moov atom follows
    later = copy.stat()
    assert (later.st_ino, later.st_mtime_ns) == (made.st_ino, made.st_mtime_ns)  # not redone
    assert sorted(p.name for p in copy.parent.iterdir() if not p.name.endswith(".lock")) == [
        copy.name
    ]


def test_a_video_ffmpeg_cannot_convert_is_a_clear_415(
    library: Library, member: webtest.TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    write_video(library.root / "old/clip.avi", extra=("-c:v", "mpeg4"))
    library.index()
    photo = library.photo_of("clip.avi")
    row = file_of(library, "clip.avi")
    (library.root / "old/clip.avi").write_bytes(b"RIFF" + b"\0" * 64)  # broken since indexing
    answer = member.get(f"/video/{photo['id']}", expect_errors=True)
    assert answer.status_int == 415 and "cannot be played" in answer.json["error"]
    assert "cannot play video" in caplog.text
    note = library.settings.library.cache / "video" / f"{row.hash}-h264.mp4.failed"
    assert note.exists()
    assert member.get(f"/video/{photo['id']}", expect_errors=True).status_int == 415


def _raw(app: Any, path: str, cookies: dict[str, str], **headers: str) -> webob.Response:
    """Through the WSGI app as it is (WebTest would undo the gzip encoding)."""
    request = webob.Request.blank(path, headers=headers, environ={"REMOTE_ADDR": "198.51.100.7"})
    request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    answer: webob.Response = request.get_response(app)
    return answer


def test_text_answers_are_gzipped_for_clients_that_accept_it(
    library: Library, member: webtest.TestApp
) -> None:
    photo = library.photo_of("beach.jpg")
    for _ in range(3):  # enough shares for a JSON answer over a kilobyte
        member.post_json(
            "/api/shares",
            {"kind": "photo", "photo_id": photo["id"], "title": "x" * 200},
            headers={"X-CSRF-Token": member.cookies["sb_csrf"]},
        )
    app, cookies = member.app, dict(member.cookies)  # make_app wires http.gzip in
    packed = _raw(app, "/api/shares", cookies, **{"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert json.loads(gzip.decompress(packed.body))["items"][0]["title"] == "x" * 200
    assert int(packed.headers["Content-Length"]) == len(packed.body)
    assert "Content-Security-Policy" in packed.headers
    page = _raw(app, "/shares", cookies, **{"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"Share links" in gzip.decompress(page.body)
    plain = _raw(app, "/api/shares", cookies)
    assert "Content-Encoding" not in plain.headers and json.loads(plain.body)["items"]
    refused = _raw(app, "/api/shares", cookies, **{"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    tile = _raw(app, f"/tile/{photo['id']}", cookies, **{"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in tile.headers and tile.body.startswith(b"\xff\xd8")
    ranged = _raw(
        app, "/static/app.css", cookies, **{"Accept-Encoding": "gzip", "Range": "bytes=0-9"}
    )
    assert "Content-Encoding" not in ranged.headers  # a range of the plain bytes stays so
    small = _raw(app, "/api/shares/1/nothing", cookies, **{"Accept-Encoding": "gzip"})
    assert small.status_int == 404 and "Content-Encoding" not in small.headers  # under 1 KB
    assert accepts_gzip("br, gzip;q=0.5") and not accepts_gzip("br") and accepts_gzip("*")


def test_security_headers_on_every_kind_of_answer(
    library: Library, member: webtest.TestApp
) -> None:
    photo = library.photo_of("clip.mp4")
    row = file_of(library, "clip.mp4")
    stranger = viewer(library)
    answers = [
        member.get(f"/tile/{photo['id']}"),
        member.get(
            f"/tile/{photo['id']}", headers={"If-None-Match": f'"{photo["thumb_hash"]}-tile"'}
        ),
        member.get(f"/original/{row.id}", headers={"Range": "bytes=0-1"}),
        member.get(f"/original/{row.id}", headers={"Range": "bytes=99999999-"}, expect_errors=True),
        member.get(f"/video/{photo['id']}"),
        member.get("/tile/424242", expect_errors=True),
        member.get("/api/shares"),
        stranger.get("/tile/1", expect_errors=True),
        stranger.get("/s/" + "A" * 32, expect_errors=True),
        stranger.get("/original/1", headers={"Accept": "application/json"}, expect_errors=True),
    ]
    for answer in answers:
        for name in HEADERS:
            assert name in answer.headers, (answer.status, name)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_live_photo_plays_its_own_video(library: Library, member: webtest.TestApp) -> None:
    clip = write_video(library.root / "live/IMG_7000.MOV")
    library.index()
    still = library.photo_of("IMG_0001.jpg")
    File.update(photo=still["id"], role="live-video").where(
        File.rel_path.endswith("IMG_7000.MOV")
    ).execute()
    Photo.update(type="live").where(Photo.id == still["id"]).execute()
    answer = member.get(f"/video/{still['id']}")
    assert answer.content_type == "video/mp4" and answer.body == clip.read_bytes()


def test_two_requests_at_once_convert_a_video_once(tmp_path: Path) -> None:
    source = write_video(tmp_path / "old.avi", extra=("-c:v", "mpeg4"))
    calls = tmp_path / "calls"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{calls}"\nsleep 0.5\nexec ffmpeg "$@"\n')
    wrapper.chmod(0o755)
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        made = list(
            pool.map(
                lambda _: playable_copy(cache, "ab" * 32, bytes(source), ffmpeg=str(wrapper)),
                range(4),
            )
        )
    assert len(set(made)) == 1 and made[0].exists()
    assert calls.read_text() == "run\n"
    assert _ffprobe_codec(made[0]) == "h264:240"


def _tags(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", str(path)], capture_output=True, check=True
    )
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found


@pytest.mark.parametrize("source", ["clip.mp4", "clip.webm", "old.avi"])
def test_copies_for_visitors_keep_the_picture_and_nothing_around_it(
    tmp_path: Path, source: str
) -> None:
    """A video a browser plays is copied stream for stream (its rotation kept); one it does not
    is converted; neither copy holds the position, the title or the dates inside the file."""
    codec = {"clip.mp4": (), "clip.webm": ("-c:v", "libvpx-vp9"), "old.avi": ("-c:v", "mpeg4")}
    made = write_video(
        tmp_path / f"plain-{source}",
        extra=(
            *codec[source],
            "-metadata",
            "title=Home",
            "-metadata",
            "creation_time=2024-01-01T10:00:00Z",
        ),
    )
    video = tmp_path / source
    rotate = ("-metadata:s:v", "rotate=90") if source != "old.avi" else ()
    located = ("-metadata", "location=+35.0116+135.7681/") if source == "clip.mp4" else ()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(made), "-c", "copy", *rotate, *located, str(video)],
        check=True,
    )  # fmt: skip
    cache = tmp_path / "cache"
    if source == "old.avi":
        copy = playable_copy(cache, "cd" * 32, bytes(video))
        assert _ffprobe_codec(copy) == "h264:240"
    else:
        copy = bare_copy(cache, "cd" * 32, bytes(video), webm=source.endswith(".webm"))
        assert copy == bare_copy(cache, "cd" * 32, bytes(video), webm=source.endswith(".webm"))
        assert _ffprobe_codec(copy) == _ffprobe_codec(video)  # copied, not converted
    before, after = _tags(video), _tags(copy)
    if source == "clip.mp4":
        assert any("GPS" in key for key in before)
        assert after["Composite:Rotation"] == before["Composite:Rotation"] == 270
    assert any(value == "Home" for value in before.values())
    assert not any("GPS" in key or "Coordinates" in key for key in after)
    assert "Home" not in after.values()
    assert not any("2024" in str(value) for value in after.values())  # no dates
