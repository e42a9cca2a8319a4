"""Hand edits (issue 14, item 5), on SQLite and MariaDB: a member sets a photo's date with its
zone, shifts the dates of several, sets a place by name or position, a title, a description and
keywords through the real viewer (`POST /api/photos/edit`). The edit wins over every file, is
searchable at once, survives a re-index of a changed file, is written by real exiftool into an
XMP sidecar (never into the original) and comes back, as `edited`, in a catalog rebuilt from
the library alone. Viewer-role accounts edit nothing; a photo one does not see is a 404."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from typing import Any

import pytest

from conftest import Library, ViewerClient
from shoebox.catalog import visibility
from shoebox.catalog.models import File, Photo, PhotoEdit
from shoebox.ingest.identify import hash_file
from shoebox.sample import Shot, write_jpeg
from test_sidecars import forget_catalog, viewer, write_all


def _photo(library: Library, name: str) -> dict[str, Any]:
    return library.photo_of(name)


def _sidecar(path: os.PathLike[str] | str) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-n", "-struct", "--", os.fspath(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    tags: dict[str, Any] = json.loads(out)[0]
    return tags


def test_an_edit_wins_survives_a_reindex_and_a_rebuilt_catalog(library: Library) -> None:
    photo_path = library.root / "2024" / "a.jpg"
    write_jpeg(photo_path, Shot(dt.datetime(2024, 7, 1, 10), "+00:00"), (80, 60))
    write_jpeg(library.root / "2024" / "b.jpg", Shot(dt.datetime(2024, 7, 2, 10)), (80, 60))
    library.index()
    original = hash_file(os.fsencode(photo_path))
    a = _photo(library, "a.jpg")["id"]
    app = viewer(library)
    csrf = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    body = {
        "ids": [a],
        "date": "2023-07-15T10:15",
        "zone": "Europe/Paris",
        "place": "paris, france",
        "title": "Grandma's garden",
        "description": "The roses, at last",
        "keywords": "garden, family",
    }
    answer = app.post_json("/api/photos/edit", body, headers=csrf).json
    assert answer["ids"] == [a]

    def check(source: str) -> None:
        shown = _photo(library, "a.jpg")
        assert shown["taken_at_local"].startswith("2023-07-15T10:15")
        assert shown["taken_at"].startswith("2023-07-15T08:15")  # summer time in Paris
        assert (shown["timezone"], shown["timezone_name"]) == ("+02:00", "Europe/Paris")
        assert (round(shown["lat"], 2), round(shown["lng"], 2)) == (48.85, 2.35)
        assert (shown["title"], shown["description"]) == ("Grandma's garden", "The roses, at last")
        assert shown["keywords"] == ["garden", "family"]
        assert shown["taken_at_source"] == source
        for field in ("taken_at", "zone", "place", "title", "description", "keywords"):
            assert shown["sources"][field] == source, field
        assert [p["id"] for p in library.photos("garden year:2023")] == [shown["id"]]

    check("edited")
    page = app.get(f"/photo/{a}")
    assert "Grandma&#39;s garden" in page.text and "set by hand" in page.text

    os.utime(photo_path, (2_000_000_000, 2_000_000_000))  # the file changed: read again
    library.index()
    check("edited")

    assert write_all() == 1  # what the daemon's beside task does
    tags = _sidecar(f"{photo_path}.xmp")
    assert tags["XMP-dc:Title"] == "Grandma's garden"
    assert tags["XMP-exif:DateTimeOriginal"] == "2023:07:15 10:15:00+02:00"
    assert set(tags["XMP-shoebox:Edited"]) == {"date", "place", "title", "description", "keywords"}
    assert hash_file(os.fsencode(photo_path)) == original  # never the original

    forget_catalog(library)  # the catalog is lost: only the library is left
    library.index()
    check("edited")
    assert not (library.root / "2024" / "b.jpg.xmp").exists()


def test_a_shift_moves_each_photo_and_zones_follow_the_summer_time(
    viewer_client: ViewerClient,
) -> None:
    app, csrf = viewer_client.app, viewer_client.csrf()
    first = viewer_client.add_photo("x/1.jpg", dt.datetime(2024, 5, 1, 8), timezone="+02:00")
    second = viewer_client.add_photo("x/2.jpg", dt.datetime(2024, 5, 2, 9), timezone="+02:00")
    app.post_json("/api/photos/edit", {"ids": [first, second], "shift": "-1d 2h"}, headers=csrf)
    moved = {p.id: p for p in Photo.select().where(Photo.id.in_([first, second]))}
    assert moved[first].taken_at_local == dt.datetime(2024, 4, 30, 6)
    assert moved[second].taken_at_local == dt.datetime(2024, 5, 1, 7)
    assert moved[first].taken_at == dt.datetime(2024, 4, 30, 4)  # its offset kept
    assert moved[first].taken_at_source == "edited"
    # the clocks go forward at 02:00 on 31 March 2024 in Paris, back at 03:00 on 27 October
    for local, offset in (("2024-03-31T03:30", "+02:00"), ("2024-10-27T03:30", "+01:00")):
        app.post_json(
            "/api/photos/edit",
            {"ids": [first], "date": local, "zone": "Europe/Paris"},
            headers=csrf,
        )
        photo = Photo.get_by_id(first)
        assert (photo.timezone, photo.timezone_name) == (offset, "Europe/Paris"), local
    app.post_json("/api/photos/edit", {"ids": [first], "place": "-33.86, 151.21"}, headers=csrf)
    assert (Photo.get_by_id(first).lat, Photo.get_by_id(first).lng) == (-33.86, 151.21)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"ids": [1], "date": "yesterday"}, "date: a date and time"),
        ({"ids": [1], "zone": "Mars/Olympus"}, "zone: an IANA zone"),
        ({"ids": [1], "shift": "+1 fortnight"}, "shift: an amount"),
        ({"ids": [1], "date": "2024-01-01T10:00", "shift": "+1d"}, "a date or a shift"),
        ({"ids": [1], "place": "Nowhereville Xq"}, "no place named"),
        ({"ids": [1], "place": "95, 10"}, "latitude from -90 to 90"),
        ({"ids": [1], "keywords": [1, 2]}, "keywords:"),
        ({"ids": [1], "owner": "me"}, "unknown field 'owner'"),
        ({"ids": []}, "ids: the photos to edit"),
        ({"ids": [1]}, "nothing to change"),
    ],
)
def test_bad_edits_are_refused_with_what_is_wrong(
    viewer_client: ViewerClient, body: dict[str, Any], said: str
) -> None:
    body = {
        **body,
        "ids": [viewer_client.add_photo("y.jpg", dt.datetime(2024, 1, 1))] * bool(body["ids"]),
    }
    answer = viewer_client.app.post_json(
        "/api/photos/edit", body, headers=viewer_client.csrf(), expect_errors=True
    )
    assert answer.status_int == 400 and said in answer.json["error"], answer.json
    assert PhotoEdit.select().count() == 0


def test_who_may_edit(viewer_client: ViewerClient) -> None:
    from shoebox.catalog.models import Account

    ada = Account.get(Account.name == "ada")
    mine = viewer_client.add_photo(
        "z/ada.jpg", dt.datetime(2024, 1, 1), owner=ada.id, visibility=visibility.PRIVATE
    )
    shared = viewer_client.add_photo("z/all.jpg", dt.datetime(2024, 1, 2))
    body = {"ids": [shared], "title": "Ours"}
    vic = viewer_client.client("vic")
    refused = vic.post_json(
        "/api/photos/edit", body, headers=viewer_client.csrf(vic), expect_errors=True
    )
    assert refused.status_int == 403  # a viewer-role account edits nothing
    max_ = viewer_client.client("max")
    no_csrf = max_.post_json("/api/photos/edit", body, expect_errors=True)
    assert no_csrf.status_int == 403
    hidden = max_.post_json(
        "/api/photos/edit", {"ids": [shared, mine], "title": "Ours"},
        headers=viewer_client.csrf(max_), expect_errors=True,
    )  # fmt: skip
    assert hidden.status_int == 404 and str(mine) in hidden.json["error"]
    assert Photo.get_by_id(shared).title is None  # all or nothing
    done = max_.post_json("/api/photos/edit", body, headers=viewer_client.csrf(max_))
    assert done.json["photo"]["title"] == "Ours"
    assert (
        PhotoEdit.get(PhotoEdit.photo == shared).edited_by_id
        == Account.get(Account.name == "max").id
    )
    assert File.select().count() == 2
