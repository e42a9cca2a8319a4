"""The viewer's JSON API in-process (WebTest), on SQLite and MariaDB: paging without losing or
repeating a photo, search and its errors, favourite and archive flags, albums, and who may do
what (CSRF, roles, not logged in). Bad input is a 4xx with a JSON error, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import ViewerClient

T0 = dt.datetime(2024, 7, 14, 12, 0, 0)


def many(vc: ViewerClient, n: int) -> list[int]:
    """n photos, some sharing a time (keyset paging must tell them apart by id)."""
    return [
        vc.add_photo(f"2024/many/{i:03d}.jpg", T0 - dt.timedelta(hours=i // 3)) for i in range(n)
    ]


def test_paging_by_cursor_and_offset_loses_and_repeats_nothing(viewer_client: ViewerClient) -> None:
    ids = many(viewer_client, 47)
    app = viewer_client.app
    seen: list[int] = []
    cursor = ""
    while True:
        got = app.get("/api/photos", {"limit": 10, "cursor": cursor} if cursor else {"limit": 10})
        assert got.json["total"] == 47
        seen += [p["id"] for p in got.json["items"]]
        cursor = got.json["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 47
    by_offset = [
        p["id"]
        for offset in range(0, 47, 20)
        for p in app.get("/api/photos", {"offset": offset, "limit": 20}).json["items"]
    ]
    assert by_offset == seen  # newest first, the same order
    first = app.get("/api/photos").json["items"][0]
    assert set(first) >= {"id", "type", "files", "taken_at", "favorite", "archived", "exposure"}


def test_search_months_and_one_photo(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    beach = vc.add_photo("2023/beach.jpg", dt.datetime(2023, 8, 1), title="Low tide")
    vc.add_photo("2024/garden.jpg", T0, camera_make="Google", camera_model="Pixel 8")
    app = vc.app
    found = app.get("/api/photos", {"q": "tide"}).json
    assert found["total"] == 1 and found["items"][0]["id"] == beach
    assert app.get("/api/photos", {"q": "camera:pixel"}).json["total"] == 1
    assert app.get("/api/months").json == [
        {"year": 2024, "month": 7, "count": 1},
        {"year": 2023, "month": 8, "count": 1},
    ]
    one = app.get(f"/api/photos/{beach}").json
    assert one["title"] == "Low tide" and one["files"][0]["path"].endswith("2023/beach.jpg")
    assert app.get("/api/photos/999999", status=404).json["error"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "year:abc"},
        {"q": 'camera:"unclosed'},
        {"q": "nosuchfilter:1"},
        {"cursor": "garbage"},
        {"cursor": "2024-01-01T00:00:00_1", "offset": "5"},
    ],
)
def test_bad_queries_are_400_with_a_message(
    viewer_client: ViewerClient, params: dict[str, str]
) -> None:
    got = viewer_client.app.get("/api/photos", params, status=400)
    assert got.content_type == "application/json" and got.json["error"]
    if "q" in params:
        assert viewer_client.app.get("/api/months", params, status=400).json["error"]


LIMIT_RANGE = "limit must be a whole number from 1 to 500"
OFFSET_RANGE = "offset must be a whole number from 0 to 999999999"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "x"}, LIMIT_RANGE),
        ({"limit": "-1"}, LIMIT_RANGE),
        ({"limit": "0"}, LIMIT_RANGE),
        ({"limit": "501"}, LIMIT_RANGE),  # refused, not cut to 500
        ({"limit": "10000000000"}, LIMIT_RANGE),
        ({"limit": "1.5"}, LIMIT_RANGE),
        ({"limit": "\u0663"}, LIMIT_RANGE),  # an Arabic-Indic 3: a digit, but not ASCII
        ({"offset": "x"}, OFFSET_RANGE),
        ({"offset": "-1"}, OFFSET_RANGE),
        ({"offset": "1000000000"}, OFFSET_RANGE),
    ],
)
def test_a_limit_or_offset_out_of_range_is_400_in_one_wording(
    viewer_client: ViewerClient, params: dict[str, str], message: str
) -> None:
    """The member's API and a visitor's say the same, naming the range, whatever is wrong."""
    from shoebox.catalog import shares

    pid = viewer_client.add_photo("a.jpg", T0)
    link = shares.create("search", query="type:image")
    visitor = viewer_client.client(None)
    for app, path in ((viewer_client.app, "/api/photos"), (visitor, f"/s/{link.token}/api/photos")):
        got = app.get(path, params, status=400).json["error"]
        assert got.startswith(message + ", not "), (path, got)
    for app, path in ((viewer_client.app, "/api/photos"), (visitor, f"/s/{link.token}/api/photos")):
        edge = app.get(path, {"limit": "500", "offset": "0"}).json["items"]
        assert [p["id"] for p in edge] == [pid]  # the ends of the ranges are allowed
    if "offset" in params:
        assert visitor.get(f"/s/{link.token}", params, status=400).status_int == 400


def test_favourite_and_archive(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    pid = vc.add_photo("a.jpg", T0)
    other = vc.add_photo("b.jpg", T0 - dt.timedelta(days=1))
    app, headers = vc.app, vc.csrf()
    got = app.post_json(f"/api/photos/{pid}", {"favorite": True}, headers=headers).json
    assert got["favorite"] is True and got["archived"] is False
    assert [p["id"] for p in app.get("/api/photos", {"q": "favorite:yes"}).json["items"]] == [pid]
    app.post_json(f"/api/photos/{other}", {"archived": True}, headers=headers)
    assert [p["id"] for p in app.get("/api/photos").json["items"]] == [pid]  # hidden
    archived = app.get("/api/photos", {"q": "archived:yes"}).json["items"]
    assert [p["id"] for p in archived] == [other]
    app.post_json(f"/api/photos/{other}", {"archived": False}, headers=headers)
    assert app.get("/api/photos").json["total"] == 2


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"favorite": "yes"}',
        b'{"favorite": 1}',
        b'{"colour": "red"}',
        b"\xff\xfe",
    ],
)
def test_bad_changes_are_400(viewer_client: ViewerClient, body: bytes) -> None:
    pid = viewer_client.add_photo("a.jpg", T0)
    got = viewer_client.app.post(
        f"/api/photos/{pid}",
        body,
        headers={**viewer_client.csrf(), "Content-Type": "application/json"},
        status=400,
    )
    assert got.json["error"]


def test_albums(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    a, b, c = (vc.add_photo(f"{n}.jpg", T0 - dt.timedelta(days=i)) for i, n in enumerate("abc"))
    app, headers = vc.app, vc.csrf()
    album = app.post_json("/api/albums", {"title": "  Summer  "}, headers=headers, status=201).json
    assert album["title"] == "Summer" and album["count"] == 0 and album["cover_id"] is None
    aid = album["id"]
    added = app.post_json(f"/api/albums/{aid}/photos", {"add": [a, b, c]}, headers=headers).json
    assert added["added"] == 3 and added["count"] == 3 and added["cover_id"] == a  # the newest
    again = app.post_json(f"/api/albums/{aid}/photos", {"add": [a]}, headers=headers).json
    assert again["added"] == 0
    changed = app.post_json(
        f"/api/albums/{aid}", {"title": "Summer 2024", "cover_id": c}, headers=headers
    ).json
    assert changed["title"] == "Summer 2024" and changed["cover_id"] == c
    removed = app.post_json(f"/api/albums/{aid}/photos", {"remove": [c]}, headers=headers).json
    assert removed["removed"] == 1 and removed["count"] == 2 and removed["cover_id"] == a
    got = app.get(f"/api/albums/{aid}").json
    assert [p["id"] for p in got["photos"]["items"]] == [a, b] and got["photos"]["total"] == 2
    listed = app.get("/api/albums").json
    assert listed["total"] == 1 and listed["items"][0]["title"] == "Summer 2024"
    assert app.get("/api/photos", {"q": "album:Summer"}).json["total"] == 2
    app.delete(f"/api/albums/{aid}", headers=headers)
    assert app.get("/api/albums").json["total"] == 0
    assert app.get("/api/photos").json["total"] == 3  # the photos stay


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/albums", {"title": ""}, 400),
        ("post", "/api/albums", {"title": "x" * 256}, 400),
        ("post", "/api/albums", {"title": 5}, 400),
        ("post", "/api/albums", {"title": "a\nb"}, 400),
        ("post", "/api/albums/{aid}/photos", {"add": [999999]}, 404),
        ("post", "/api/albums/{aid}/photos", {"add": "1"}, 400),
        ("post", "/api/albums/{aid}/photos", {"add": [True]}, 400),
        ("post", "/api/albums/{aid}/photos", {"add": [-1]}, 400),
        ("post", "/api/albums/{aid}/photos", {"add": [2**70]}, 400),
        ("post", "/api/albums/{aid}/photos", {"junk": []}, 400),
        ("post", "/api/albums/{aid}", {"cover_id": 999999}, 400),
        ("post", "/api/albums/{aid}", {"cover_id": "1"}, 400),
        ("post", "/api/albums/999999", {"title": "x"}, 404),
        ("post", "/api/albums/999999/photos", {"add": []}, 404),
        ("delete", "/api/albums/999999", None, 404),
        ("get", "/api/albums/999999", None, 404),
        ("post", "/api/photos/999999", {"favorite": True}, 404),
    ],
)
def test_bad_album_input(
    viewer_client: ViewerClient, method: str, path: str, body: Any, status: int
) -> None:
    vc = viewer_client
    aid = vc.app.post_json("/api/albums", {"title": "A"}, headers=vc.csrf()).json["id"]
    url = path.format(aid=aid)
    if method == "post":
        got = vc.app.post_json(url, body, headers=vc.csrf(), status=status)
    elif method == "delete":
        got = vc.app.delete(url, headers=vc.csrf(), status=status)
    else:
        got = vc.app.get(url, status=status)
    assert got.json["error"]


def test_who_may_do_what(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    pid = vc.add_photo("a.jpg", T0)
    # no CSRF header: refused, nothing changed
    vc.app.post_json(f"/api/photos/{pid}", {"favorite": True}, status=403)
    vc.app.post_json("/api/albums", {"title": "x"}, status=403)
    assert vc.app.get(f"/api/photos/{pid}").json["favorite"] is False
    # a viewer looks, and changes nothing
    viewer = vc.client("vic")
    assert viewer.get("/api/photos").json["total"] == 1
    viewer.post_json(f"/api/photos/{pid}", {"favorite": True}, headers=vc.csrf(viewer), status=403)
    viewer.post_json("/api/albums", {"title": "x"}, headers=vc.csrf(viewer), status=403)
    # a member changes
    member = vc.client("max")
    member.post_json(f"/api/photos/{pid}", {"favorite": True}, headers=vc.csrf(member))
    assert vc.app.get(f"/api/photos/{pid}").json["favorite"] is True
    # nobody: 401 for the API
    nobody = vc.client(None)
    for path in ("/api/photos", f"/api/photos/{pid}", "/api/albums", "/api/months"):
        assert nobody.get(path, status=401).json["error"]
    nobody.get("/")  # gets its CSRF cookie
    nobody.post_json(f"/api/photos/{pid}", {"favorite": False}, headers=vc.csrf(nobody), status=401)


def test_folders(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    vc.add_photo("2023/Lisbon/a.jpg", T0)
    vc.add_photo("2023/Lisbon/b.jpg", T0)
    vc.add_photo("2023/Porto/c.jpg", T0)
    assert vc.app.get("/api/folders").json == {
        "path": "",
        "folders": [{"path": "2023", "name": "2023", "count": 3}],
    }
    got = vc.app.get("/api/folders", {"path": "2023"}).json["folders"]
    assert [(f["name"], f["count"]) for f in got] == [("Lisbon", 2), ("Porto", 1)]
    assert vc.app.get("/api/folders", {"path": "2023/../x"}, status=400).json["error"]
