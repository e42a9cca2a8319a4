"""Share links in the catalog (`shoebox.catalog.shares`) and on the command line
(`shoebox share create|list|revoke`), on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import pytest

from conftest import Library
from shoebox import cli
from shoebox.catalog import shares
from shoebox.catalog.models import (
    Album,
    AlbumPhoto,
    Face,
    File,
    Person,
    Photo,
    Place,
    Share,
    ShareVisitor,
    utcnow,
)
from shoebox.errors import NotFound, UsageError
from shoebox.sample import make_library

SESAME = "open sesame"


@pytest.fixture
def sampled(library: Library) -> Library:
    make_library(library.root)
    library.index()
    return library


def _ids(library: Library) -> dict[str, int]:
    return {
        name: library.photo_of(name)["id"]
        for name in ("IMG_0001.jpg", "IMG_0002.jpg", "beach.jpg", "clip.mp4", "sketch.png")
    }


def test_a_photo_share_shows_that_photo_only(sampled: Library) -> None:
    ids = _ids(sampled)
    share = shares.create("photo", photo_id=ids["beach.jpg"])
    assert len(share.token) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", share.token)
    assert shares.find(share.token) == share
    assert shares.state(share) == shares.ACTIVE
    assert shares.contains(share, ids["beach.jpg"])
    assert not any(shares.contains(share, i) for n, i in ids.items() if n != "beach.jpg")
    assert not shares.contains(share, 0) and not shares.contains(share, 2**70)
    page = shares.page(share)
    assert page.total == 1 and [p["id"] for p in page.items] == [ids["beach.jpg"]]
    assert set(page.items[0]) == {*shares.VISITOR, "place"}  # no files, paths or hashes
    beach_file = File.get(File.photo == ids["beach.jpg"])
    with pytest.raises(NotFound):  # downloads not allowed
        shares.download(share, beach_file.id)


def test_album_and_search_shares_follow_membership_and_the_query(sampled: Library) -> None:
    ids = _ids(sampled)
    album = Album.create(title="Lisbon")
    for name in ("IMG_0001.jpg", "IMG_0002.jpg"):
        AlbumPhoto.create(album=album.id, photo=ids[name])
    by_album = shares.create("album", album_id=album.id, allow_download=True)
    assert {p["id"] for p in shares.page(by_album).items} == {
        ids["IMG_0001.jpg"],
        ids["IMG_0002.jpg"],
    }
    assert not shares.contains(by_album, ids["beach.jpg"])
    lisbon = shares.photo(by_album, ids["IMG_0001.jpg"])
    assert [f["name"] for f in lisbon["files"]] == ["IMG_0001.jpg"]  # a base name only
    assert (
        shares.download(by_album, lisbon["files"][0]["id"]).rel_path == "2023/Lisbon/IMG_0001.jpg"
    )
    with pytest.raises(NotFound):  # a file of a photo the album does not hold
        shares.download(by_album, File.get(File.photo == ids["beach.jpg"]).id)
    by_search = shares.create("search", query="camera:iphone")
    assert shares.contains(by_search, ids["IMG_0002.jpg"])
    assert not shares.contains(by_search, ids["beach.jpg"])
    Photo.update(archived=True).where(Photo.id == ids["IMG_0002.jpg"]).execute()
    assert not shares.contains(by_search, ids["IMG_0002.jpg"])  # archived: gone from it
    assert shares.page(by_search).total == 1
    Photo.update(missing=True).where(Photo.id == ids["IMG_0001.jpg"]).execute()
    assert not shares.contains(by_album, ids["IMG_0001.jpg"])


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("folder", {}, "not 'folder'"),
        ("photo", {}, "photo must be a whole number"),
        ("photo", {"photo_id": 999999}, "there is no photo"),
        ("photo", {"photo_id": "1"}, "photo must be a whole number"),
        ("photo", {"photo_id": 1, "album_id": 1}, "takes only its photo"),
        ("album", {"album_id": 5}, "there is no album"),
        ("search", {"query": " "}, "needs the query text"),
        ("search", {"query": "year:abc"}, "year"),
        ("photo", {"photo_id": 1, "expires_days": 0}, "expires_days"),
        ("photo", {"photo_id": 1, "max_views": True}, "max_views"),
        ("photo", {"photo_id": 1, "title": "x" * 300}, "title"),
        ("photo", {"photo_id": 1, "allow_download": "yes"}, "allow_download"),
    ],
)
def test_bad_shares_are_refused_with_a_reason(
    sampled: Library, kind: str, values: dict[str, Any], message: str
) -> None:
    if values.get("photo_id") == 1:
        values["photo_id"] = sampled.photos()[0]["id"]
    with pytest.raises(UsageError, match=message):
        shares.create(kind, **values)
    assert Share.select().count() == 0


def test_expiry_views_passwords_and_revoking(sampled: Library) -> None:
    photo_id = sampled.photos()[0]["id"]
    share = shares.create("photo", photo_id=photo_id, expires_days=2, max_views=2, password=SESAME)
    assert share.password_hash and SESAME not in share.password_hash
    assert shares.check_password(share, SESAME)
    assert not shares.check_password(share, "open")
    assert shares.state(share, utcnow() + dt.timedelta(days=3)) == shares.EXPIRED
    first, second = shares.admit(share), shares.admit(share)
    assert first and second and first != second and len(first) >= 43  # >= 256 bits
    assert shares.admit(share) is None  # used up
    assert Share.get_by_id(share.id).views == 2
    assert shares.state(share) == shares.USED_UP
    assert shares.is_visitor(share, first) and shares.is_visitor(share, second)
    assert ShareVisitor.select().where(ShareVisitor.token_hash == first).count() == 0  # hashed
    other = shares.create("photo", photo_id=photo_id)
    assert not shares.is_visitor(other, first)  # a visitor of one link is nobody to another
    assert not shares.is_visitor(share, first[:-1]) and not shares.is_visitor(share, "")
    shares.revoke(share)
    assert shares.state(Share.get_by_id(share.id)) == shares.REVOKED
    assert shares.lookup(share.token) == share and shares.lookup(str(share.id)) == share
    for bad in ("", "x" * 10, share.token[:-1] + ("A" if share.token[-1] != "A" else "B")):
        assert shares.find(bad) is None
    assert shares.find(share.token.swapcase()) is None or share.token == share.token.swapcase()
    with pytest.raises(UsageError, match="there is no share"):
        shares.lookup("987654")


def _cli(
    library: Library, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main(["--config", str(library.settings.source), "share", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_share_command(sampled: Library, capsys: pytest.CaptureFixture[str]) -> None:
    photo_id = sampled.photo_of("beach.jpg")["id"]
    code, out, _ = _cli(
        sampled,
        capsys,
        "create",
        "--photo",
        str(photo_id),
        "--expires-days",
        "7",
        "--max-views",
        "3",
        "--password-stdin",
        "--allow-download",
        "--show-location",
        "--show-people",
        "--base-url",
        "https://photos.example.org/family/",
        stdin="s3cret\n",
    )
    assert code == 0
    link = out.strip()
    assert re.fullmatch(r"https://photos\.example\.org/family/s/[A-Za-z0-9_-]{32}", link)
    share = Share.get()
    assert link.endswith(share.token) and share.allow_download and share.max_views == 3
    assert (share.show_location, share.show_details, share.show_people) == (True, False, True)
    assert shares.check_password(share, "s3cret")
    code, out, _ = _cli(sampled, capsys, "create", "--search", "camera:iphone")
    assert code == 0 and out.startswith("http://localhost:8080/s/")
    code, out, err = _cli(sampled, capsys, "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and err.strip() == "2 shares"
    assert "search" in lines[0] and "camera:iphone" in lines[0] and "0/-" in lines[0]
    assert f"photo {photo_id}" in lines[1] and "0/3" in lines[1] and "active" in lines[1]
    code, out, _ = _cli(sampled, capsys, "revoke", share.token)
    assert code == 0 and out.startswith(f"revoked share {share.id}")
    _, out, _ = _cli(sampled, capsys, "list")
    assert out.splitlines()[1].endswith("revoked")
    code, _, err = _cli(sampled, capsys, "revoke", "424242")
    assert code == 2 and "there is no share" in err
    code, _, err = _cli(sampled, capsys, "create", "--photo", "424242")
    assert code == 2 and "there is no photo 424242" in err
    code, _, err = _cli(sampled, capsys, "create", "--search", "year:abc")
    assert code == 2 and "year" in err
    code, _, err = _cli(sampled, capsys, "create", "--photo", str(photo_id), "--password-stdin")
    assert code == 2 and "no password" in err
    assert Share.select().count() == 2


EVERY_OPTION = dict.fromkeys(shares.OPTIONS, True)


@pytest.mark.parametrize(
    "options",
    [{}, *({name: True} for name in shares.OPTIONS), EVERY_OPTION],
    ids=["default", *shares.OPTIONS, "everything"],
)
def test_a_visitor_gets_what_the_share_says_and_nothing_else(
    sampled: Library, options: dict[str, bool]
) -> None:
    ids = _ids(sampled)
    lisbon = ids["IMG_0001.jpg"]
    Place.create(
        photo=lisbon, country_code="PT", country="Portugal", region="Lisbon", city="Lisbon"
    )
    ana = Person.create(name="Ana")
    Face.create(
        photo=lisbon, x=0.1, y=0.1, width=0.2, height=0.2, score=0.9, embedding=bytes(512),
        person=ana.id,
    )  # fmt: skip
    share = shares.create("photo", photo_id=lisbon, **options)
    item = shares.photo(share, lisbon)
    wanted = {*shares.VISITOR, "place"}
    wanted |= set(shares.LOCATION) if options.get("show_location") else set()
    wanted |= set(shares.DETAILS) if options.get("show_details") else set()
    wanted |= {"people"} if options.get("show_people") else set()
    wanted |= {"files"} if options.get("allow_download") else set()
    assert set(item) == wanted
    assert item["place"] == {"city": "Lisbon", "region": "Lisbon", "country": "Portugal"}
    text = json.dumps(item)
    assert ("38.71" in text) is bool(options.get("show_location"))  # the latitude
    assert ("iPhone" in text) is bool(options.get("show_details"))
    assert ("Ana" in text) is bool(options.get("show_people"))
    row = File.get(File.photo == lisbon)
    assert row.hash not in text and str(sampled.root) not in text and "2023/" not in text
    assert shares.page(share).items == [item]  # the API's items are the same cut
