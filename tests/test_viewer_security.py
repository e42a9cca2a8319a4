"""The viewer against a hostile visitor: every route of the application, called with every id
that a share link does not show (through the share's prefix, and as the member route without
a session), answers nothing with foreign content; tokens that are wrong, expired, revoked or
used up; passwords; CSRF on every state-changing route; path tricks in every parameter."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import bottle
import pytest
import webob
import webtest

from conftest import Library
from shoebox.catalog import shares
from shoebox.catalog.models import (
    Album,
    AlbumPhoto,
    Face,
    File,
    Person,
    Photo,
    Root,
    Share,
    utcnow,
)
from shoebox_viewer.app import make_app
from test_viewer_media import log_in, sample, viewer

VISITOR_IP = "192.0.2.44"
PUBLIC = {"/login", "/static/<name>"}  # what anyone may GET without a session
PARAM = re.compile(r"<([a-z_]+)(?::[a-z]+)?>")


@dataclass
class World:
    library: Library
    member: webtest.TestApp
    photos: dict[str, int]
    albums: list[int]
    files: dict[int, list[int]]  # photo id -> file ids
    by_kind: dict[str, Share]
    people: list[int]
    faces: list[int]

    def shown(self, share: Share) -> set[int]:
        return {p for p in self.photos.values() if shares.contains(share, p)}

    def routes(self) -> list[tuple[str, str]]:
        """Every route of the Bottle application inside the middleware (Front, gzip...)."""
        app = self.member.app
        while not isinstance(app, bottle.Bottle):
            app = app.app
        return [(route.method, route.rule) for route in app.routes]


@pytest.fixture
def world(library: Library) -> World:
    sample(library)
    member = log_in(viewer(library))
    names = ("IMG_0001.jpg", "IMG_0002.jpg", "DSC01234.JPG", "beach.jpg", "clip.mp4", "sketch.png")
    photos = {name: library.photo_of(name)["id"] for name in names}
    lisbon = Album.create(title="Lisbon")
    other = Album.create(title="Other")
    for name in ("IMG_0001.jpg", "IMG_0002.jpg"):
        AlbumPhoto.create(album=lisbon.id, photo=photos[name])
    AlbumPhoto.create(album=other.id, photo=photos["beach.jpg"])
    files: dict[int, list[int]] = {}
    for row in File.select():
        files.setdefault(row.photo_id or 0, []).append(row.id)
    by_kind = {
        "photo": shares.create("photo", photo_id=photos["beach.jpg"], allow_download=True),
        "album": shares.create("album", album_id=lisbon.id, allow_download=True),
        "search": shares.create("search", query="camera:sony", allow_download=True),
    }
    # A person with a face on a photo no share shows, as the faces stage would leave them.
    person = Person.create(name="Ana")
    face = Face.create(
        photo=photos["sketch.png"], x=0.1, y=0.1, width=0.2, height=0.2, score=0.9,
        embedding=bytes(512), person=person.id,
    )  # fmt: skip
    return World(
        library, member, photos, [lisbon.id, other.id], files, by_kind, [person.id], [face.id]
    )


def visitor(library: Library, ip: str = VISITOR_IP) -> webtest.TestApp:
    return webtest.TestApp(make_app(library.settings), extra_environ={"REMOTE_ADDR": ip})


def _fill(rule: str, values: dict[str, list[str]]) -> list[str]:
    """Every path the rule makes with these values for its parameters."""
    names = PARAM.findall(rule)
    paths = []
    for combination in itertools.product(*(values[name] for name in names)):
        chosen = iter(combination)
        paths.append(PARAM.sub(lambda _, chosen=chosen: next(chosen), rule))
    return paths


def _call(app: webtest.TestApp, method: str, path: str, **kw: Any) -> Any:
    headers = {"X-CSRF-Token": app.cookies.get("sb_csrf", "")} if method != "GET" else {}
    if method != "GET" and "sb_csrf" not in app.cookies:
        app.get("/login")  # a browser has its CSRF cookie from any page
        headers = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    return app.request(path, method=method, headers=headers, expect_errors=True, **kw)


def test_no_route_shows_a_visitor_anything_the_share_does_not(world: World) -> None:
    all_files = {f for ids in world.files.values() for f in ids}
    checked = 0
    for kind, share in world.by_kind.items():
        shown = world.shown(share)
        assert shown, kind
        foreign_photos = [str(p) for p in set(world.photos.values()) - shown] + ["999999"]
        own_files = {f for p in shown for f in world.files.get(p, [])}
        foreign_files = [str(f) for f in all_files - own_files] + ["999999"]
        values = {
            "token": [share.token],
            "photo_id": foreign_photos,
            "file_id": foreign_files,
            "album_id": [str(a) for a in world.albums],
            "share_id": [str(s.id) for s in world.by_kind.values()],
            "person_id": [str(p) for p in world.people],
            "face_id": [str(f) for f in world.faces],
            "suggestion_id": ["1"],
            "path": ["2022/Beach", "2023"],
            "name": ["app.css"],
            "year": ["2022", "2023"],
        }
        guest = visitor(world.library)
        assert guest.get(f"/s/{share.token}").status_int == 200  # counted, cookies set
        for method, rule in world.routes():
            if not PARAM.search(rule.replace("<token>", "")) and rule.startswith("/s/"):
                continue  # the share's own pages: checked for content below
            if rule == "/":
                continue  # /s/<token>/ is the landing page itself
            through_share = rule if rule.startswith("/s/") else f"/s/<token>{rule}"
            if through_share != rule and (method, through_share) in world.routes():
                continue  # /s/<token>/api/photos is the share's own: checked below
            for path in _fill(through_share, values):
                answer = _call(guest, method, path)
                checked += 1
                assert answer.status_int in (401, 403, 404, 405), (kind, method, path)
            if rule.startswith("/s/") or rule in PUBLIC:
                continue
            stranger = visitor(world.library, "192.0.2.45")
            for path in _fill(rule, values):
                answer = _call(stranger, method, path)
                checked += 1
                assert answer.status_int in (303, 401, 403), (method, path, answer.status)
        api = guest.get(f"/s/{share.token}/api/photos?limit=500").json
        assert {item["id"] for item in api["items"]} == shown and api["total"] == len(shown)
        assert all("/" not in f["name"] for item in api["items"] for f in item["files"])
        page = guest.get(f"/s/{share.token}").text
        assert {int(i) for i in re.findall(r"/(?:tile|preview|video|photo)/(\d+)", page)} <= shown
        assert str(world.library.root) not in page
        for photo_id in shown:
            for what in ("photo", "tile", "preview"):
                assert guest.get(f"/s/{share.token}/{what}/{photo_id}").status_int == 200
            for file_id in world.files[photo_id]:
                assert guest.get(f"/s/{share.token}/original/{file_id}").status_int == 200
    assert checked > 300


def test_a_visitor_cannot_download_unless_the_share_allows_it(world: World) -> None:
    beach = world.photos["beach.jpg"]
    share = shares.create("photo", photo_id=beach)
    guest = visitor(world.library)
    page = guest.get(f"/s/{share.token}")
    assert "original/" not in page.text and "Download" not in page.text
    for file_id in world.files[beach]:
        guest.get(f"/s/{share.token}/original/{file_id}", status=404)
    assert guest.get(f"/s/{share.token}/preview/{beach}").status_int == 200


def _other_token(token: str) -> str:
    return token[:5] + ("A" if token[5] != "A" else "B") + token[6:]


def test_wrong_expired_revoked_and_used_up_links(world: World) -> None:
    beach = world.photos["beach.jpg"]
    guest = visitor(world.library)
    share = world.by_kind["photo"]
    for bad in (_other_token(share.token), share.token[:-1], share.token + "x", "x" * 40):
        assert guest.get(f"/s/{bad}", expect_errors=True).status_int == 404
        assert guest.get(f"/s/{bad}/tile/{beach}", expect_errors=True).status_int == 404
    expired = shares.create("photo", photo_id=beach, expires_days=1)
    Share.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(
        Share.id == expired.id
    ).execute()
    revoked = shares.revoke(shares.create("photo", photo_id=beach))
    for gone in (expired, revoked):
        for path in ("", f"/tile/{beach}", f"/preview/{beach}", "/api/photos"):
            assert guest.get(f"/s/{gone.token}{path}", expect_errors=True).status_int == 410
    limited = shares.create("photo", photo_id=beach, max_views=2)
    first, second = visitor(world.library), visitor(world.library)
    assert first.get(f"/s/{limited.token}").status_int == 200
    assert first.get(f"/s/{limited.token}?again=1").status_int == 200  # a reload: not counted
    assert Share.get_by_id(limited.id).views == 1
    assert second.get(f"/s/{limited.token}").status_int == 200
    assert second.get(f"/s/{limited.token}/preview/{beach}").status_int == 200  # its page
    for third in (visitor(world.library), visitor(world.library, "192.0.2.7")):
        assert third.get(f"/s/{limited.token}", expect_errors=True).status_int == 410
        for path in (f"/preview/{beach}", f"/photo/{beach}", "/api/photos"):
            answer = third.get(f"/s/{limited.token}{path}", expect_errors=True)
            assert answer.status_int == 410
        third.set_cookie("sb_visit", "0" * 64)  # a forged pass is no pass
        assert third.get(f"/s/{limited.token}/api/photos", expect_errors=True).status_int == 410
    assert first.get(f"/s/{limited.token}").status_int == 200  # those who used the views
    assert Share.get_by_id(limited.id).views == 2


def test_a_password_protected_link(world: World, caplog: pytest.LogCaptureFixture) -> None:
    beach = world.photos["beach.jpg"]
    share = shares.create("photo", photo_id=beach, password="tide pools")  # noqa: S106
    guest = visitor(world.library)
    locked = guest.get(f"/s/{share.token}", expect_errors=True)
    assert locked.status_int == 401 and "needs a password" in locked.text
    for path in (f"/tile/{beach}", f"/preview/{beach}", "/api/photos", f"/photo/{beach}"):
        assert guest.get(f"/s/{share.token}{path}", expect_errors=True).status_int == 401
    assert Share.get_by_id(share.id).views == 0

    def attempt(app: webtest.TestApp, password: str) -> Any:
        form = app.get(f"/s/{share.token}", expect_errors=True).forms[0]
        form["password"] = password
        return form.submit(expect_errors=True)

    for _ in range(3):
        assert attempt(guest, "wrong").status_int == 401
    assert f"failed share unlock for link {share.id} from {VISITOR_IP}" in caplog.text
    assert attempt(guest, "tide pools").status_int == 429  # right, but too soon
    friend = visitor(world.library, "192.0.2.99")
    opened = attempt(friend, "tide pools")
    assert opened.status_int == 303 and opened.location.endswith(f"/s/{share.token}")
    cookie = next(c for c in friend.cookiejar if c.name == "sb_visit")
    assert cookie.path == f"/s/{share.token}" and cookie.has_nonstandard_attr("HttpOnly")
    assert Share.get_by_id(share.id).views == 1  # counted once the password was given
    assert friend.get(f"/s/{share.token}").status_int == 200
    assert friend.get(f"/s/{share.token}/preview/{beach}").status_int == 200
    assert Share.get_by_id(share.id).views == 1
    other = shares.create("photo", photo_id=beach, password="tide pools")  # noqa: S106
    friend.set_cookie("sb_visit", cookie.value)  # another link's cookie opens nothing else
    assert friend.get(f"/s/{other.token}", expect_errors=True).status_int == 401


def test_every_state_changing_route_needs_the_csrf_token(world: World) -> None:
    values = {
        "token": [world.by_kind["photo"].token],
        "photo_id": [str(world.photos["beach.jpg"])],
        "album_id": [str(world.albums[0])],
        "share_id": [str(world.by_kind["photo"].id)],
        "person_id": [str(world.people[0])],
        "face_id": [str(world.faces[0])],
        "suggestion_id": ["1"],
    }
    unsafe = [(m, r) for m, r in world.routes() if m in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(unsafe) >= 5
    for method, rule in unsafe:
        for path in _fill(rule, values):
            for headers in ({}, {"X-CSRF-Token": "forged-forged-forged"}):
                answer = world.member.request(
                    path, method=method, headers=headers, expect_errors=True
                )
                assert answer.status_int == 403, (method, path, headers)
    assert Share.get_by_id(world.by_kind["photo"].id).revoked_at is None


def _raw(app: webtest.TestApp, method: str, path: str) -> webob.Response:
    """The request as a server hands it over: PATH_INFO is the URL's bytes, %-decoded, as
    latin-1 (PEP 3333), whatever they are; WebTest would refuse bytes that are not UTF-8."""
    request = webob.Request.blank("/", method=method, environ={"REMOTE_ADDR": VISITOR_IP})
    request.environ["PATH_INFO"] = urllib.parse.unquote_to_bytes(path).decode("latin-1")
    request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in app.cookies.items())
    request.headers["X-CSRF-Token"] = app.cookies.get("sb_csrf", "")
    answer: webob.Response = request.get_response(app.app, catch_exc_info=True)
    return answer


UNDECODABLE = ("%ff", "%c0%ae%c0%ae")
CLIMBING = ("..", "../..", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%00", "%00", "1%00")
TRICKS = (
    *CLIMBING, "/etc/passwd", "etc/passwd", "9" * 30, "9" * 5000, "-1", "-0", "0", "1e3", "0x10", "%20" + "1",
    "%ff", "%c0%ae%c0%ae", "~root", "\\..\\..",
)  # fmt: skip


def _acceptable(guest: bool, param: str, trick: str, status: int) -> bool:
    """What a trick may be answered with: a stranger is refused or sent to log in; a member
    gets 400 or 404 for a bad id, or a folder page for text that names no file outside the
    roots (a folder is a catalog filter, not a file system path). Bytes that are not UTF-8
    are dropped by Bottle, which may leave another route of the member's."""
    if guest:
        return status in (303, 400, 401, 403, 404, 405, 410)
    if status in (400, 403, 404):
        return True
    if trick in UNDECODABLE:
        return status in (200, 405)
    return param == "path" and status == 200 and trick not in CLIMBING


def test_path_tricks_in_every_parameter_never_500_and_never_leave_the_roots(
    world: World,
) -> None:
    token = world.by_kind["album"].token
    good = {
        "token": token,
        "photo_id": str(world.photos["IMG_0001.jpg"]),
        "file_id": str(world.files[world.photos["IMG_0001.jpg"]][0]),
        "album_id": str(world.albums[0]),
        "share_id": str(world.by_kind["album"].id),
        "person_id": str(world.people[0]),
        "face_id": str(world.faces[0]),
        "suggestion_id": "1",
        "path": "2023",
        "name": "app.css",
        "year": "2023",
    }
    guest = visitor(world.library)
    guest.get(f"/s/{token}")
    tried, wrong = 0, set()
    for (method, rule), client in itertools.product(world.routes(), (world.member, guest)):
        for param in PARAM.findall(rule):
            for trick in TRICKS:
                values = {name: [trick if name == param else good[name]] for name in good}
                for path in _fill(rule, values):
                    answer = _raw(client, method, path)
                    tried += 1
                    assert b"root:" not in answer.body
                    as_guest = client is guest and not rule.startswith("/s/")
                    if not _acceptable(as_guest, param, trick, answer.status_int):
                        wrong.add(f"{method} {rule} {param}={trick[:12]}: {answer.status}")
    assert tried > 500
    assert not wrong, "\n".join(sorted(wrong))


def test_photo_ids_in_a_query_are_checked_and_tell_a_visitor_nothing(world: World) -> None:
    """`/api/rendered?ids=` (which photos' renditions are made): every trick is a 400; a
    visitor, even of a link showing the photos asked for, is refused."""
    shown = ",".join(str(p) for p in world.shown(world.by_kind["album"]))
    for trick in TRICKS:
        answer = world.member.get(f"/api/rendered?ids={trick}", expect_errors=True)
        assert answer.status_int == 400, (trick, answer.status)
    assert world.member.get(f"/api/rendered?ids={shown}").json["ready"]  # the check can fail
    guest = visitor(world.library)
    token = world.by_kind["album"].token
    assert guest.get(f"/s/{token}").status_int == 200
    for path in (f"/api/rendered?ids={shown}", f"/s/{token}/api/rendered?ids={shown}"):
        assert guest.get(path, expect_errors=True).status_int in (303, 401, 403, 404), path


def test_a_catalog_row_pointing_outside_its_root_is_not_served(world: World) -> None:
    photo_id = world.photos["beach.jpg"]
    root = Root.get()
    for i, evil in enumerate((b"../../../../etc/passwd", b"/etc/passwd", b"a/../../x")):
        row = File.create(
            root=root.id, rel_path=evil.decode(), rel_path_raw=evil, path_key=f"{i:032d}",
            stem_key="s" * 32, size=1, mtime_ns=1, role="original", photo=photo_id,
            mime="text/plain", hash="e" * 64,
        )  # fmt: skip
        assert world.member.get(f"/original/{row.id}", expect_errors=True).status_int == 404
        token = world.by_kind["photo"].token
        assert (
            visitor(world.library)
            .get(f"/s/{token}/original/{row.id}", expect_errors=True)
            .status_int
            == 404
        )
    assert Photo.get_by_id(photo_id).thumb_hash


def test_members_manage_their_own_shares_and_admins_everyones(world: World) -> None:
    beach = world.photos["beach.jpg"]
    mia = world.member
    made = mia.post_json(
        "/api/shares",
        {"kind": "photo", "photo_id": beach, "max_views": 5, "password": "", "title": None},
        headers={"X-CSRF-Token": mia.cookies["sb_csrf"]},
    )
    assert made.status_int == 201
    share = made.json
    assert share["url"] == f"http://localhost:80/s/{share['token']}"
    assert share["password"] is False and share["max_views"] == 5 and share["photos"] == 1
    assert "password_hash" not in share
    assert [s["id"] for s in mia.get("/api/shares").json["items"]] == [share["id"]]
    for bad, status in (
        ({"kind": "photo", "photo_id": "1"}, 400),
        ({"kind": "photo", "photo_id": beach, "expires_days": -1}, 400),
        ({"kind": "album", "album_id": 424242}, 404),
        ({"kind": "photo", "photo_id": 424242}, 404),
        ({"kind": "search", "query": "year:"}, 400),
        ({"kind": "photo", "photo_id": beach, "path": "/etc/passwd"}, 400),
        ({"kind": "photo", "photo_id": beach, "show_location": "yes"}, 400),
        ({"kind": 7}, 400),
    ):
        answer = mia.post_json(
            "/api/shares", bad, headers={"X-CSRF-Token": mia.cookies["sb_csrf"]}, status=status
        )
        assert answer.json["status"] == status and answer.json["error"]
    broken = mia.post(
        "/api/shares",
        "{not json",
        headers={"X-CSRF-Token": mia.cookies["sb_csrf"], "Content-Type": "application/json"},
        status=400,
    )
    assert broken.json["status"] == 400
    ben = log_in(visitor(world.library), "ben")
    assert ben.get("/api/shares").json["items"] == []
    ben.post(
        f"/api/shares/{share['id']}/revoke",
        headers={"X-CSRF-Token": ben.cookies["sb_csrf"]},
        status=404,
    )
    viewer_role = log_in(visitor(world.library), "vic", "viewer")
    viewer_role.get("/api/shares", status=403)
    boss = log_in(visitor(world.library), "ada", "admin")
    assert len(boss.get("/api/shares").json["items"]) == 4  # the fixture's three and mia's
    revoked = boss.post(
        f"/api/shares/{share['id']}/revoke", headers={"X-CSRF-Token": boss.cookies["sb_csrf"]}
    )
    assert revoked.json["state"] == "revoked"
    page = mia.get("/shares")
    assert share["url"] in page.text and "revoked" in page.text


def test_a_visitor_never_gets_a_sidecar(world: World) -> None:
    photo_id = world.photos["IMG_0001.jpg"]
    (world.library.root / "2023/Lisbon/IMG_0001.xmp").write_text("<x:xmpmeta/>")
    sidecar = File.create(
        root=Root.get().id, rel_path="2023/Lisbon/IMG_0001.xmp",
        rel_path_raw=b"2023/Lisbon/IMG_0001.xmp", path_key="x" * 32, stem_key="s" * 32,
        size=12, mtime_ns=1, role="sidecar", photo=photo_id, mime="application/rdf+xml",
    )  # fmt: skip
    token = world.by_kind["album"].token
    guest = visitor(world.library)
    assert "IMG_0001.xmp" not in guest.get(f"/s/{token}/photo/{photo_id}").text
    guest.get(f"/s/{token}/original/{sidecar.id}", status=404)
    assert world.member.get(f"/original/{sidecar.id}").body == b"<x:xmpmeta/>"
