"""Several photos as one zip, in-process (WebTest) on SQLite and MariaDB: a member's selection
and album (originals, sidecars and Live Photo videos, stored as they are, with an exact
Content-Length), only the photos the member sees; a visitor's album link gives a zip only
when it allows downloads, with base names and no sidecars."""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
import zipfile
from typing import Any

from conftest import ViewerClient
from shoebox.catalog import albums, shares
from shoebox.catalog.models import Account, File
from shoebox.catalog.visibility import OPERATOR

T0 = dt.datetime(2024, 7, 14, 12, 0, 0)


def with_bytes(vc: ViewerClient, rel_path: str, size: int, **values: Any) -> tuple[int, bytes]:
    """A photo whose file exists, of `size` random bytes; (its id, the bytes)."""
    data = os.urandom(size)
    path = vc.library.root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    photo_id = vc.add_photo(rel_path, values.pop("taken", T0), **values)
    File.update(size=size).where(File.photo == photo_id).execute()
    return photo_id, data


def attach(vc: ViewerClient, photo_id: int, rel_path: str, role: str, size: int) -> bytes:
    """Another file of that photo (a sidecar, a Live Photo's video), on disk too."""
    data = os.urandom(size)
    path = vc.library.root / rel_path
    path.write_bytes(data)
    File.create(
        root=vc.root_id, rel_path=rel_path, rel_path_raw=rel_path.encode(),
        path_key=secrets.token_hex(16), stem_key=secrets.token_hex(16), size=size, mtime_ns=1,
        role=role, photo=photo_id, mime="application/octet-stream", hash="1" * 64,
    )  # fmt: skip
    return data


def opened(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_selection_as_one_zip(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    live, live_jpeg = with_bytes(vc, "2024/trip/IMG_1.HEIC", 300_000, type="live")
    live_mov = attach(vc, live, "2024/trip/IMG_1.MOV", "live-video", 200_000)
    live_xmp = attach(vc, live, "2024/trip/IMG_1.HEIC.xmp", "sidecar", 500)
    other, other_jpeg = with_bytes(vc, "2023/home/IMG_1.HEIC", 1000, taken=T0 - dt.timedelta(1))
    got = vc.app.get("/zip", {"ids": f"{live},{other}"})
    assert got.content_type == "application/zip"
    assert int(got.headers["Content-Length"]) == len(got.body)
    assert "attachment" in got.headers["Content-Disposition"]
    assert opened(got.body) == {
        "2024/trip/IMG_1.HEIC": live_jpeg,
        "2024/trip/IMG_1.MOV": live_mov,
        "2024/trip/IMG_1.HEIC.xmp": live_xmp,
        "2023/home/IMG_1.HEIC": other_jpeg,
    }
    # a viewer downloads too (it changes nothing); nobody logged in does not
    viewer = vc.client("vic")
    assert len(opened(viewer.get("/zip", {"ids": str(other)}).body)) == 1
    assert "/login" in vc.client(None).get("/zip", {"ids": str(other)}, status=303).location
    for bad in ("", "1,x", "-1", ",".join(["1"] * 1001)):
        assert "photo" in vc.app.get("/zip", {"ids": bad}, status=400).text


def test_a_zip_holds_only_what_its_member_sees(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    mine, _ = with_bytes(vc, "a.jpg", 1000)
    max_id = Account.get(Account.name == "max").id
    secret, _ = with_bytes(vc, "max/secret.jpg", 1000, owner=max_id, visibility="private")
    names = opened(vc.app.get("/zip", {"ids": f"{mine},{secret}"}).body)
    assert list(names) == ["a.jpg"]
    album = albums.create("Summer", None)
    albums.add_photos(album, [mine], OPERATOR)
    albums.add_photos(album, [secret], OPERATOR)
    assert list(opened(vc.app.get(f"/album/{album.id}/zip").body)) == ["a.jpg"]
    member = vc.client("max")
    assert sorted(opened(member.get(f"/album/{album.id}/zip").body)) == [
        "a.jpg",
        "max/secret.jpg",
    ]
    vc.app.get("/album/999999/zip", status=404)


def test_a_visitor_gets_a_zip_only_when_the_link_allows_it(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    one, one_bytes = with_bytes(vc, "2024/trip/DSC_1.JPG", 5000)
    attach(vc, one, "2024/trip/DSC_1.JPG.xmp", "sidecar", 300)
    two, two_bytes = with_bytes(vc, "2024/home/DSC_1.JPG", 4000, taken=T0 - dt.timedelta(1))
    album = albums.create("Trip", None)
    albums.add_photos(album, [one, two], OPERATOR)
    closed = shares.create("album", album_id=album.id)
    visitor = vc.client(None)
    visitor.get(f"/s/{closed.token}/zip", status=404)
    open_link = shares.create("album", album_id=album.id, allow_download=True)
    got = visitor.get(f"/s/{open_link.token}/zip")
    assert int(got.headers["Content-Length"]) == len(got.body)
    # base names (no folders), made unique; no sidecar
    assert opened(got.body) == {"DSC_1.JPG": one_bytes, "DSC_1 (2).JPG": two_bytes}
    visitor.get("/s/nosuchtoken/zip", status=404)
