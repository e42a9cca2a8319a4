"""The fast lane answers a member's tiles and previews itself only when every rule says yes,
and hands every other request to the full application unchanged: table-driven over who asks
(a live session, an expired one, a bearer token, no cookie, an admin with and without
`admins_see_private`) and which photo (the household's, one's own private one, another's
private one, one without renditions, one whose rendition is not on disk)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

import pytest

from conftest import Library, add_photo
from shoebox.catalog.cache import rendition_path
from shoebox.catalog.models import Account, Root, Session, utcnow
from shoebox_viewer.fastlane import FastLane, session_token

FULL = [b"the full route"]
WHEN = dt.datetime(2024, 5, 1, 12, 0)


def cookie_of(account_id: int, *, days: int = 1) -> str:
    token = secrets.token_urlsafe(32)
    Session.create(
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        account=account_id,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    return f"sb_csrf=x; sb_session={token}"


def call(lane: FastLane, path: str, **environ: str) -> tuple[str, dict[str, str], bytes]:
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        answered.update(status=status, headers=dict(headers))

    body: Iterable[bytes] = lane(
        {"REQUEST_METHOD": "GET", "PATH_INFO": path, **environ}, start_response
    )
    data = b"".join(body)
    return answered.get("status", ""), answered.get("headers", {}), data


def full_route(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("299 Full", [])
    return FULL


@pytest.mark.parametrize("admins_see_private", [False, True])
def test_the_lane_says_yes_only_when_every_rule_does(
    library: Library, admins_see_private: bool
) -> None:
    cache = library.settings.library.cache
    root = Root.create(path=str(library.root), path_key="r" * 32)
    mia, bo, ada = (
        Account.create(name=name, folder=f"/x/{name}", role=role)
        for name, role in (("mia", "member"), ("bo", "member"), ("ada", "admin"))
    )

    def photo(name: str, **values: Any) -> tuple[int, str]:
        content = hashlib.sha256(name.encode()).hexdigest()
        photo_id = add_photo(root.id, f"{name}.jpg", WHEN, thumb_hash=content, **values)
        for rendition in ("tile", "preview"):
            path = rendition_path(cache, content, rendition)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{name} {rendition}".encode())
        return photo_id, content

    shared, shared_hash = photo("shared")
    mine, _ = photo("mine", visibility="private", owner=mia.id)
    theirs, _ = photo("theirs", visibility="private", owner=bo.id)
    bare = add_photo(root.id, "bare.jpg", WHEN, thumb_hash=None)
    gone, gone_hash = photo("gone")
    rendition_path(cache, gone_hash, "tile").unlink()

    viewer = dataclasses.replace(library.settings.viewer, admins_see_private=admins_see_private)
    lane = FastLane(full_route, dataclasses.replace(library.settings, viewer=viewer))
    member, admin = cookie_of(mia.id), cookie_of(ada.id)
    expired = cookie_of(mia.id, days=-1)
    yes, no = "200 OK", "299 Full"
    cases = [
        (f"/tile/{shared}", {"HTTP_COOKIE": member}, yes),
        (f"/preview/{shared}", {"HTTP_COOKIE": member}, yes),
        (f"/tile/{mine}", {"HTTP_COOKIE": member}, yes),
        (f"/tile/{theirs}", {"HTTP_COOKIE": member}, no),
        (f"/tile/{theirs}", {"HTTP_COOKIE": admin}, yes if admins_see_private else no),
        (f"/tile/{bare}", {"HTTP_COOKIE": member}, no),
        (f"/tile/{gone}", {"HTTP_COOKIE": member}, no),
        (f"/tile/{shared + 10_000}", {"HTTP_COOKIE": member}, no),
        (f"/tile/{shared}", {"HTTP_COOKIE": expired}, no),
        (f"/tile/{shared}", {"HTTP_COOKIE": "sb_session=" + "x" * 43}, no),
        (f"/tile/{shared}", {}, no),
        (f"/tile/{shared}", {"HTTP_COOKIE": member, "HTTP_AUTHORIZATION": "Bearer abc"}, no),
        (f"/tile/{shared}/", {"HTTP_COOKIE": member}, no),
        (f"/large/{shared}", {"HTTP_COOKIE": member}, no),
        (f"/tile/-{shared}", {"HTTP_COOKIE": member}, no),
    ]
    for path, environ, expected in cases:
        status, headers, body = call(lane, path, **environ)
        assert status == expected, (path, environ)
        assert (body == FULL[0]) == (expected == no)
    status, headers, body = call(lane, f"/tile/{shared}", HTTP_COOKIE=member)
    assert body == b"shared tile"
    assert headers["ETag"] == f'"{shared_hash}-tile"'
    assert headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert headers["Content-Length"] == str(len(body))
    again = call(lane, f"/tile/{shared}", HTTP_COOKIE=member, HTTP_IF_NONE_MATCH=headers["ETag"])
    assert again[0] == "304 Not Modified" and again[2] == b""
    head = call(lane, f"/tile/{shared}", HTTP_COOKIE=member, REQUEST_METHOD="HEAD")
    assert head[0] == no  # only GET takes the lane


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("sb_session=" + "a" * 43, "a" * 43),
        ("sb_csrf=q; sb_session=" + "b-_9" * 10 + "; other=1", "b-_9" * 10),
        ("sb_session=short", None),
        ('sb_session="quoted-value-quoted-value"', None),
        ("xsb_session=" + "a" * 43, None),
        ("", None),
    ],
)
def test_the_session_cookie_is_read_only_in_the_shape_logins_make(
    header: str, token: str | None
) -> None:
    assert session_token(header) == token
