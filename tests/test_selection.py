"""Bulk actions on a selection, in-process (WebTest) on SQLite and MariaDB: favourite and
archive many photos in one `POST /api/photos/flags` (CSRF, roles, photos another member keeps
private), the `id:` search filter that names a selection, and one share link for it."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import ViewerClient
from shoebox.catalog.models import Account

T0 = dt.datetime(2024, 7, 14, 12, 0, 0)


def three(vc: ViewerClient) -> list[int]:
    return [vc.add_photo(f"2024/sel/{i}.jpg", T0 - dt.timedelta(hours=i)) for i in range(3)]


def test_favourite_and_archive_many_at_once(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    a, b, c = three(vc)
    app, headers = vc.app, vc.csrf()
    got = app.post_json("/api/photos/flags", {"ids": [a, c], "favorite": True}, headers=headers)
    assert got.json == {"ids": [a, c], "favorite": True}
    favourites = app.get("/api/photos", {"q": "favorite:yes"}).json["items"]
    assert sorted(p["id"] for p in favourites) == sorted([a, c])
    app.post_json("/api/photos/flags", {"ids": [b, c], "archived": True}, headers=headers)
    assert [p["id"] for p in app.get("/api/photos").json["items"]] == [a]
    both = {"ids": [b, c], "archived": False, "favorite": False}
    app.post_json("/api/photos/flags", both, headers=headers)
    items = app.get("/api/photos").json["items"]
    assert [(p["id"], p["favorite"]) for p in items] == [(a, True), (b, False), (c, False)]


def test_who_may_change_many(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    a, b, _ = three(vc)
    max_id = Account.get(Account.name == "max").id
    secret = vc.add_photo("2024/sel/max.jpg", T0, owner=max_id, visibility="private")
    body = {"ids": [a, b], "favorite": True}
    vc.app.post_json("/api/photos/flags", body, status=403)  # no CSRF header
    viewer = vc.client("vic")
    viewer.post_json("/api/photos/flags", body, headers=vc.csrf(viewer), status=403)
    nobody = vc.client(None)
    nobody.get("/")
    nobody.post_json("/api/photos/flags", body, headers=vc.csrf(nobody), status=401)
    assert vc.app.get("/api/photos", {"q": "favorite:yes"}).json["total"] == 0
    # another member's private photo is not there for ada: 404, and nothing changes
    got = vc.app.post_json(
        "/api/photos/flags", {"ids": [a, secret], "favorite": True}, headers=vc.csrf(), status=404
    )
    assert str(secret) in got.json["error"]
    assert vc.app.get("/api/photos", {"q": "favorite:yes"}).json["total"] == 0
    member = vc.client("max")
    member.post_json("/api/photos/flags", body, headers=vc.csrf(member))
    assert vc.app.get("/api/photos", {"q": "favorite:yes"}).json["total"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [1]},
        {"ids": [1], "favorite": "yes"},
        {"ids": [1], "colour": "red"},
        {"ids": "1", "favorite": True},
        {"ids": [0], "favorite": True},
        {"ids": [True], "favorite": True},
        {"ids": list(range(1, 1002)), "favorite": True},
        {"favorite": True},
    ],
)
def test_bad_bulk_changes_are_400(viewer_client: ViewerClient, body: dict[str, object]) -> None:
    got = viewer_client.app.post_json(
        "/api/photos/flags", body, headers=viewer_client.csrf(), status=400
    )
    assert got.json["error"]


def test_a_selection_is_an_id_search_and_one_share_link(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    a, b, c = three(vc)
    found = vc.app.get("/api/photos", {"q": f"id:{c},{a}"}).json
    assert [p["id"] for p in found["items"]] == [a, c]
    for bad in ("id:", "id:1,x", "id:-4", "id:" + ",".join(["1"] * 101)):
        assert vc.app.get("/api/photos", {"q": bad}, status=400).json["error"]
    made = vc.app.post_json(
        "/api/shares", {"kind": "search", "query": f"id:{a},{b}"}, headers=vc.csrf()
    ).json
    visitor = vc.client(None)
    shown = visitor.get(f"/s/{made['token']}/api/photos").json
    assert sorted(p["id"] for p in shown["items"]) == sorted([a, b])
    for photo in shown["items"]:
        assert "lat" not in photo and "files" not in photo  # no position, no paths
