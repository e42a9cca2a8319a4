"""What the family makes, written beside the library (XMP sidecars, album files) and taken
back by a catalog rebuilt from the library alone: favourites, archive flags, albums with their
photos, and people's names (with the `faces` extra and the shared corpus; skipped without).
Originals are never changed, another tool's sidecar keeps its content, and no file name
reaches exiftool's arguments."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS, Library, mysql_admin, wait_for
from shoebox import beside, regions, sidecars
from shoebox.catalog import albums, outbox, people, visibility
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import (
    Album,
    AlbumPhoto,
    Face,
    File,
    PendingWrite,
    Person,
    Photo,
)
from shoebox.ingest.identify import hash_file
from shoebox.passwords import hash_password
from shoebox.sample import Shot, write_jpeg

ODD = b"odd \xff name.jpg"  # not UTF-8: kept as exact bytes, in sidecars and album files
# A newline in a name would start a new argument if the name reached exiftool's (issue 9).
NEWLINE = b"x\n-delete_original!\n-o\nhacked.xmp\ny.jpg"
PASSWORD = "correct horse"  # noqa: S105 - a test account


def write_all() -> int:
    """What the daemon's beside task does, until the list is empty."""
    total = 0
    while True:
        written, more = beside.write_batch("exiftool", 100)
        total += written
        if not more:
            return total


def forget_catalog(library: Library) -> None:
    """The catalog is lost (the file deleted, the database dropped); an empty one replaces it."""
    url = library.settings.database.url
    library.catalog.close()
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        name = url.rsplit("/", 1)[1]
        with mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
            cur.execute(f"CREATE DATABASE `{name}`")
    library.catalog = Catalog(url, library.settings.source.parent)


def viewer(library: Library) -> Any:
    """The real viewer, in process, logged in as an admin through its form."""
    import webtest

    from shoebox.catalog.models import Account
    from shoebox_viewer.app import make_app

    Account.create(
        name="ada", password_hash=hash_password(PASSWORD), folder=str(library.root), role="admin"
    )
    app = webtest.TestApp(make_app(library.settings))
    form = app.get("/login").forms[0]
    form["name"], form["password"] = "ada", PASSWORD
    assert form.submit().status_int == 303
    return app


def photo_id(name: bytes) -> int:
    f = File.get(File.rel_path_raw == name)
    return int(f.photo_id)


def test_a_catalog_rebuilt_from_the_library_gets_the_familys_work_back(library: Library) -> None:
    root = os.fsencode(library.root)
    write_jpeg(library.root / "2024" / "a.jpg", Shot(dt.datetime(2024, 7, 1, 10)), (80, 60))
    write_jpeg(library.root / "2024" / "b.jpg", Shot(dt.datetime(2024, 7, 2, 10)), (80, 60))
    write_jpeg(library.root / "2024" / "c.jpg", Shot(dt.datetime(2024, 7, 3, 10)), (80, 60))
    odd = os.path.join(root, b"2024", ODD)
    shutil.copyfile(library.root / "2024" / "a.jpg", odd)
    os.utime(odd, (1, 1))  # a copy: one photo with two files; the odd one is not its first
    write_jpeg(library.root / "odd.jpg", Shot(dt.datetime(2024, 7, 4, 10)), (80, 60), seed=9)
    os.rename(library.root / "odd.jpg", os.path.join(root, ODD))
    library.index()
    originals = {p: hash_file(p) for p in _files(root)}
    a, b, weird = photo_id(b"2024/a.jpg"), photo_id(b"2024/b.jpg"), photo_id(ODD)
    app = viewer(library)
    csrf = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    app.post_json(f"/api/photos/{a}", {"favorite": True}, headers=csrf)
    app.post_json(f"/api/photos/{weird}", {"favorite": True}, headers=csrf)
    app.post_json(f"/api/photos/{b}", {"archived": True}, headers=csrf)
    made = app.post_json("/api/albums", {"title": "Summer ☀ 2024"}, headers=csrf).json
    app.post_json(f"/api/albums/{made['id']}/photos", {"add": [a, b, weird]}, headers=csrf)
    app.post_json(f"/api/albums/{made['id']}", {"cover_id": b}, headers=csrf)
    assert write_all() == 4  # three photos, one album
    assert PendingWrite.select().count() == 0
    sidecar = _tags(os.path.join(root, ODD + b".xmp"))
    assert sidecar["XMP-shoebox:Favorite"] is True and sidecar["XMP-shoebox:Archived"] is False
    assert _tags(os.path.join(root, b"2024", b"a.jpg.xmp"))["XMP-shoebox:Favorite"] is True
    assert os.path.exists(os.path.join(root, b"2024", ODD + b".xmp"))  # beside each copy
    assert not os.path.exists(os.path.join(root, b"2024", b"c.jpg.xmp"))  # nothing to say
    assert {p: hash_file(p) for p in _files(root)} == originals  # no original changed
    assert sorted(os.listdir(library.root)) == [
        ".shoebox",
        "2024",
        os.fsdecode(ODD),
        os.fsdecode(ODD + b".xmp"),
    ]

    forget_catalog(library)
    library.index()
    assert Photo.get_by_id(photo_id(b"2024/a.jpg")).favorite
    assert Photo.get_by_id(photo_id(ODD)).favorite
    assert Photo.get_by_id(photo_id(b"2024/b.jpg")).archived
    assert not Photo.get_by_id(photo_id(b"2024/c.jpg")).favorite
    album = Album.get_by_id(made["id"])  # its id too: its files stay its own
    assert album.title == "Summer ☀ 2024" and album.cover_id == photo_id(b"2024/b.jpg")
    members = {row.photo_id for row in AlbumPhoto.select().where(AlbumPhoto.album == album.id)}
    assert members == {photo_id(b"2024/a.jpg"), photo_id(b"2024/b.jpg"), photo_id(ODD)}
    assert PendingWrite.select().count() == 0  # nothing to write again


def test_no_file_name_reaches_exiftool(library: Library) -> None:
    """A photo named with newlines and exiftool options gets its sidecar, and only that."""
    write_jpeg(library.root / "a.jpg", Shot(dt.datetime(2024, 7, 1)), (80, 60))
    os.rename(library.root / "a.jpg", os.path.join(os.fsencode(library.root), NEWLINE))
    library.index()
    pid = photo_id(NEWLINE)
    original = hash_file(os.path.join(os.fsencode(library.root), NEWLINE))
    Photo.update(favorite=True).where(Photo.id == pid).execute()
    outbox.mark("photo", [pid])
    assert write_all() == 1
    assert sorted(os.listdir(os.fsencode(library.root))) == [NEWLINE, NEWLINE + b".xmp"]
    assert _tags(os.path.join(os.fsencode(library.root), NEWLINE + b".xmp"))["XMP-shoebox:Favorite"]
    assert hash_file(os.path.join(os.fsencode(library.root), NEWLINE)) == original
    assert not Path("hacked.xmp").exists()


def _files(root: bytes) -> list[bytes]:
    return [
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if not name.endswith((b".xmp", b".json"))
    ]


def _tags(path: bytes) -> dict[str, Any]:
    """exiftool's reading (our namespace defined) of a sidecar, by a copy with a plain name."""
    copy = Path(f"/tmp/shoebox-test-{secrets.token_hex(4)}.xmp")
    copy.write_bytes(Path(os.fsdecode(path)).read_bytes())
    try:
        out = subprocess.run(
            ["exiftool", "-config", str(sidecars.CONFIG), "-j", "-G1", "-struct", "-n", str(copy)],
            capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
    finally:
        copy.unlink()
    return dict(json.loads(out)[0])


def test_a_change_waiting_to_be_written_is_not_undone_by_an_older_file(library: Library) -> None:
    write_jpeg(library.root / "a.jpg", Shot(dt.datetime(2024, 7, 1, 10)), (80, 60))
    write_jpeg(library.root / "b.jpg", Shot(dt.datetime(2024, 7, 2, 10)), (80, 60))
    library.index()
    a, b = photo_id(b"a.jpg"), photo_id(b"b.jpg")
    app = viewer(library)
    csrf = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    app.post_json(f"/api/photos/{a}", {"favorite": True}, headers=csrf)
    made = app.post_json("/api/albums", {"title": "Trip"}, headers=csrf).json
    gone = app.post_json("/api/albums", {"title": "Gone"}, headers=csrf).json
    for album in (made, gone):
        app.post_json(f"/api/albums/{album['id']}/photos", {"add": [a, b]}, headers=csrf)
    write_all()
    library.index()  # the sidecar written is indexed: it agrees with the catalog
    assert Photo.get_by_id(a).favorite
    # the family changes its mind; the files are older now, until the daemon writes them
    app.post_json(f"/api/photos/{a}", {"favorite": False}, headers=csrf)
    app.post_json(f"/api/albums/{made['id']}/photos", {"remove": [b]}, headers=csrf)
    app.delete(f"/api/albums/{gone['id']}", headers=csrf)
    sidecar = library.root / "a.jpg.xmp"
    os.utime(sidecar, (2, 2))  # seen as changed: read again
    library.index()
    assert not Photo.get_by_id(a).favorite
    assert {r.photo_id for r in AlbumPhoto.select().where(AlbumPhoto.album == made["id"])} == {a}
    assert Album.get_or_none(Album.id == gone["id"]) is None
    write_all()
    assert not (library.root / ".shoebox" / "albums" / f"{gone['id']}.json").exists()
    assert _tags(os.fsencode(sidecar))["XMP-shoebox:Favorite"] is False
    library.index()
    assert not Photo.get_by_id(a).favorite
    assert Album.get_or_none(Album.id == gone["id"]) is None


def test_another_tools_sidecar_keeps_its_content(library: Library) -> None:
    """digiKam's `IMG_1.xmp` (its title, tags and regions) gets our flags and our names; a
    region on a face shoebox knows is replaced, the others stay. The photo is turned (EXIF
    orientation 6), so the regions are written in the stored image's frame."""
    write_jpeg(library.root / "IMG_1.jpg", Shot(dt.datetime(2024, 7, 1), orientation=6), (60, 80))
    theirs = {
        "SourceFile": "*",
        "XMP-dc:Title": "Their title",
        "XMP-digiKam:TagsList": ["People/Zed"],
        "XMP-mwg-rs:RegionInfo": {
            "AppliedToDimensions": {"W": 80, "H": 60, "Unit": "pixel"},
            "RegionList": [
                {"Area": {"X": 0.9, "Y": 0.9, "W": 0.1, "H": 0.1, "Unit": "normalized"},
                 "Name": "Zed", "Type": "Face"},
                {"Area": {"X": 0.25, "Y": 0.75, "W": 0.2, "H": 0.1, "Unit": "normalized"},
                 "Name": "Old name", "Type": "Face"},
            ],
        },
    }  # fmt: skip
    (library.root / "tags.json").write_text(json.dumps([theirs]))
    subprocess.run(
        ["exiftool", f"-json={library.root / 'tags.json'}", "-o", str(library.root / "IMG_1.xmp")],
        check=True, capture_output=True,
    )  # fmt: skip
    (library.root / "tags.json").unlink()
    library.index()
    pid = photo_id(b"IMG_1.jpg")
    photo = Photo.get_by_id(pid)
    assert photo.title == "Their title" and photo.orientation == 6
    # "Old name"'s region, upright: the stored centre (0.25, 0.75) turned 90° clockwise
    box = regions.from_mwg((0.25, 0.75, 0.2, 0.1), 6)
    assert [round(v, 6) for v in box] == [0.2, 0.15, 0.1, 0.2]
    face = Face.create(photo=pid, x=box[0], y=box[1], width=box[2], height=box[3], score=0.9,
                       embedding=b"")  # fmt: skip
    people.name_face(face, "Anna")
    albums.add_photos(albums.create("Zed and Anna", None), [pid], visibility.OPERATOR)
    photo.favorite = True
    photo.save()
    outbox.mark("photo", [pid])
    write_all()
    assert not (library.root / "IMG_1.jpg.xmp").exists()  # theirs was used
    tags = _tags(os.fsencode(library.root / "IMG_1.xmp"))
    assert tags["XMP-dc:Title"] == "Their title"
    assert tags["XMP-digiKam:TagsList"] == ["People/Zed"]
    assert tags["XMP-shoebox:Favorite"] is True
    found = {r["Name"]: r["Area"] for r in tags["XMP-mwg-rs:RegionInfo"]["RegionList"]}
    assert set(found) == {"Zed", "Anna"}
    assert [found["Anna"][k] for k in "XYWH"] == [0.25, 0.75, 0.2, 0.1]
    assert tags["XMP-mwg-rs:RegionInfo"]["AppliedToDimensions"]["W"] == 80


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_turn_with_the_orientation(orientation: int) -> None:
    box = (0.1, 0.2, 0.3, 0.15)
    back = regions.from_mwg(regions.to_mwg(box, orientation), orientation)
    assert [round(v, 9) for v in back] == [round(v, 9) for v in box]


def test_regions_read_from_exiftools_tags() -> None:
    one = {"XMP:RegionName": "Anna", "XMP:RegionType": "Face", "XMP:RegionAreaX": 0.5,
           "XMP:RegionAreaY": 0.5, "XMP:RegionAreaW": 0.1, "XMP:RegionAreaH": 0.2,
           "XMP:RegionAreaUnit": "normalized", "XMP:Favorite": True}  # fmt: skip
    assert sidecars.from_tags(one) == {
        "favorite": True, "regions": [["Anna", 0.5, 0.5, 0.1, 0.2]]
    }  # fmt: skip
    unnamed = {**one, "XMP:RegionName": ["Anna", "Ben"]}  # lists that do not line up
    assert "regions" not in sidecars.from_tags(unnamed)
    pet = {**one, "XMP:RegionType": "Pet"}
    assert "regions" not in sidecars.from_tags(pet)


def test_album_files_of_an_album_in_two_roots(library: Library, tmp_path: Path) -> None:
    """One file in each root, holding that root's photos; an album id taken by another album
    on a rebuild makes the file's album a new one."""
    from shoebox import config

    second = tmp_path / "second"
    write_jpeg(library.root / "a.jpg", Shot(dt.datetime(2024, 7, 1)), (80, 60))
    write_jpeg(second / "b.jpg", Shot(dt.datetime(2024, 7, 2)), (80, 60), seed=3)
    text = library.settings.source.read_text().replace(
        f'originals = ["{library.root}"]', f'originals = ["{library.root}", "{second}"]'
    )
    library.settings.source.write_text(text)
    library.settings = config.load(library.settings.source)
    library.index()
    album = albums.create("Both", None)
    albums.add_photos(album, [photo_id(b"a.jpg"), photo_id(b"b.jpg")], visibility.OPERATOR)
    write_all()
    one = json.loads((library.root / ".shoebox" / "albums" / f"{album.id}.json").read_text())
    two = json.loads((second / ".shoebox" / "albums" / f"{album.id}.json").read_text())
    assert (one["photos"], two["photos"]) == (["a.jpg"], ["b.jpg"])
    forget_catalog(library)
    other = albums.create("Made meanwhile", None)  # before the index: takes the files' id
    assert other.id == album.id
    library.index()
    rebuilt = Album.get(Album.title == "Both")
    assert rebuilt.id != other.id
    assert {r.photo_id for r in AlbumPhoto.select().where(AlbumPhoto.album == rebuilt)} == {
        photo_id(b"a.jpg"),
        photo_id(b"b.jpg"),
    }
    write_all()  # both albums' files are written anew
    assert not (library.root / ".shoebox" / "albums" / f"{other.id}.json").exists()  # empty
    assert (library.root / ".shoebox" / "albums" / f"{rebuilt.id}.json").exists()


# --- people's names, with the faces extra --------------------------------------------------

FACES = CORPUS / "photoprism__photoprism/internal/ai/face/testdata"


@pytest.mark.corpus
def test_peoples_names_come_back_with_a_rebuilt_catalog(library: Library) -> None:
    pytest.importorskip("mediapipe", reason="the faces extra is not installed")
    pytest.importorskip("dlib", reason="the faces extra is not installed")
    if not FACES.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    from shoebox.enrich.faces import FacesStage
    from shoebox.enrich.runner import Enricher

    for name in ("17.jpg", "18.jpg", "12.jpg"):
        shutil.copyfile(FACES / name, library.root / name)

    def index_and_find_faces() -> None:
        library.index()
        enricher = Enricher([FacesStage(library.settings)])
        enricher.run_all()
        enricher.close()

    index_and_find_faces()
    woman = min(
        Face.select().where(Face.photo == photo_id(b"12.jpg")), key=lambda f: abs(f.x - 0.52)
    )
    people.name_face(woman, "Maria")
    man = min(Face.select().where(Face.photo == photo_id(b"17.jpg")), key=lambda f: abs(f.x - 0.26))
    people.name_face(man, "João")
    write_all()
    names = {
        r["Name"]
        for r in _tags(os.fsencode(library.root / "17.jpg.xmp"))["XMP-mwg-rs:RegionInfo"][
            "RegionList"
        ]
    }
    assert "João" in names
    named = _named_faces()
    forget_catalog(library)
    index_and_find_faces()
    again = _named_faces()
    assert named <= again  # the clustering may then put more faces with them
    assert ("12.jpg", "Maria") in again and ("17.jpg", "João") in again


def _named_faces() -> set[tuple[str, str]]:
    """(the photo's file, the person's name) of every named face."""
    rows = (
        Face.select(File.rel_path, Person.name)
        .join(Person)
        .switch(Face)
        .join(File, on=(File.photo == Face.photo))
        .where(Person.name.is_null(False), File.role != "sidecar")
        .tuples()
    )
    return set(rows)


# --- the daemon ------------------------------------------------------------------------------


def test_the_daemon_writes_what_waits_when_it_starts(library: Library, tmp_path: Path) -> None:
    from test_daemon import Running

    write_jpeg(library.root / "a.jpg", Shot(dt.datetime(2024, 7, 1)), (80, 60))
    library.index()
    photo = Photo.get_by_id(photo_id(b"a.jpg"))
    photo.favorite = True
    photo.save()
    outbox.mark("photo", [photo.id])
    library.settings.source.write_text(
        library.settings.source.read_text().replace(
            "[library]\n", "[library]\nwrite_sidecars = true\n"
        )
    )
    running = Running(library, tmp_path)
    try:
        running.ready()
        wait_for("the sidecar", lambda: (library.root / "a.jpg.xmp").exists())
        wait_for("the photo off the list", lambda: PendingWrite.select().count() == 0)
        wait_for("the sidecar indexed", lambda: File.select().where(File.role == "sidecar").count())
    finally:
        assert running.stop() == 0
    assert Photo.get_by_id(photo.id).favorite
