"""Share links in the viewer: what a visitor holding one sees, and managing them.

Visitors (no login needed), everything under `/s/<token>`:
- `GET /s/<token>`: the landing page (the photo, or a grid of the album or search); opening
  it counts a view;
- `GET /s/<token>/photo/<id>`, `/tile/<id>`, `/preview/<id>`, `/video/<id>`,
  `/original/<file_id>` (only when the share allows downloads), `/api/photos?offset&limit`;
- `POST /s/<token>/unlock`: the password form (back-off per link and per address after
  wrong ones, counted apart from logins: `shoebox.guard`).

Every id is checked to belong to the share; one that does not and one that does not exist get
the same 404. An unknown token is 404; an expired, revoked or used-up share is 410; a
password-protected one is 401 until unlocked (a cookie scoped to the share's path holding
`shares.unlock_key`). A view is a browser opening the landing page: it gets a cookie (signed
with a key kept in the catalog), so reloading and paging do not count again, and
the browsers that used the allowed views keep seeing the share after the last one.

Members: `GET /shares` (the page), `GET /api/shares`, `POST /api/shares`,
`POST /api/shares/<id>/revoke`. Members see and revoke their own shares, admins everyone's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Any

import bottle

from shoebox.catalog import shares
from shoebox.catalog.cache import PREVIEW, TILE
from shoebox.catalog.keys import catalog_key
from shoebox.catalog.models import Photo, Share
from shoebox.errors import UsageError
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context, url
from shoebox_viewer.front import CLIENT_IP, SECURE
from shoebox_viewer.media import Media, not_found, valid_id

UNLOCK_COOKIE = "sb_unlock"
VIEW_COOKIE = "sb_view"
PAGE = 100  # photos on one page of an album or search share


def install(app: bottle.Bottle, ctx: Context) -> None:
    media = Media(ctx)

    def view_pass(share: Share) -> str:
        """The "this browser used a view" cookie, signed with a key of the catalog, so that
        every viewer process of one catalog accepts it."""
        key = catalog_key("share-views")
        return hmac.new(key, share.token.encode(), hashlib.sha256).hexdigest()

    def opened(token: str, *, landing: bool = False) -> Share:
        """The share behind `token`, if this request may see it (else 404, 410 or 401)."""
        share = shares.find(token)
        if share is None:
            raise not_found()
        state = shares.state(share)
        if state in (shares.REVOKED, shares.EXPIRED):
            gone = "expired" if state == shares.EXPIRED else "been withdrawn"
            raise bottle.HTTPError(410, f"this link has {gone}")
        if share.password_hash and not _cookie_is(UNLOCK_COOKIE, shares.unlock_key(share)):
            raise bottle.HTTPError(401, "this link needs its password")
        counted = _cookie_is(VIEW_COOKIE, view_pass(share))
        if landing and not counted:
            if not shares.count_view(share):
                raise bottle.HTTPError(410, "this link has been opened as often as it may be")
            _set_share_cookie(share, VIEW_COOKIE, view_pass(share))
        elif state == shares.USED_UP and not counted:
            raise bottle.HTTPError(410, "this link has been opened as often as it may be")
        return share

    def member(share: Share, photo_id: int) -> Share:
        if not shares.contains(share, photo_id):
            raise not_found()
        return share

    def locked(token: str, share: Share | None, error: str = "", status: int = 401) -> str:
        bottle.response.status = status
        return ctx.render("share_locked.html", token=token, share=share, error=error)

    @app.get("/s/<token>")
    def landing(token: str) -> Any:
        try:
            share = opened(token, landing=True)
        except bottle.HTTPError as exc:
            if exc.status_code == 401:
                return locked(token, shares.find(token))
            raise
        prefix = url(f"s/{token}/")
        if share.kind == "photo":
            return _photo_page(ctx, share, share.photo_id or 0, prefix, back="")
        offset = _whole(bottle.request.query.get("offset", "0"))
        found = shares.page(share, offset=offset, limit=PAGE)
        more = offset + len(found.items) < (found.total or 0)
        return ctx.render(
            "share.html",
            share=share,
            items=found.items,
            total=found.total,
            prefix=prefix,
            next_url=f"{url('s/' + token)}?offset={offset + PAGE}" if more else "",
        )

    @app.get("/s/<token>/photo/<photo_id:int>")
    def photo(token: str, photo_id: int) -> Any:
        share = member(opened(token), photo_id)
        back = url(f"s/{token}") if share.kind != "photo" else ""
        return _photo_page(ctx, share, photo_id, url(f"s/{token}/"), back=back)

    @app.get("/s/<token>/tile/<photo_id:int>")
    def tile(token: str, photo_id: int) -> Any:
        member(opened(token), photo_id)
        return media.rendition(photo_id, TILE)

    @app.get("/s/<token>/preview/<photo_id:int>")
    def preview(token: str, photo_id: int) -> Any:
        member(opened(token), photo_id)
        return media.rendition(photo_id, PREVIEW)

    @app.get("/s/<token>/video/<photo_id:int>")
    def video(token: str, photo_id: int) -> Any:
        member(opened(token), photo_id)
        return media.video(photo_id)

    @app.get("/s/<token>/original/<file_id:int>")
    def original(token: str, file_id: int) -> Any:
        share = opened(token)
        if not share.allow_download:
            raise not_found()
        return media.original(file_id, shares.photo_ids(share))

    @app.get("/s/<token>/api/photos")
    def photos(token: str) -> Any:
        share = opened(token)
        query = bottle.request.query
        found = shares.page(
            share,
            offset=_whole(query.get("offset", "0")),
            limit=_whole(query.get("limit", str(PAGE))),
        )
        return jsonio.answer({"total": found.total, "items": found.items})

    @app.post("/s/<token>/unlock")
    def unlock(token: str) -> Any:
        share = shares.find(token)
        if share is None:
            raise not_found()
        ip: str = bottle.request.environ[CLIENT_IP]
        given = bottle.request.forms.getunicode("password", default="")
        verdict = ctx.guard.unlock(
            share.id, ip, lambda: bool(share.password_hash) and shares.check_password(share, given)
        )
        if verdict.retry_after > 0:
            seconds = math.ceil(verdict.retry_after)
            bottle.response.set_header("Retry-After", str(seconds))
            message = f"Too many wrong passwords from your address; try again in {seconds} s."
            return locked(token, share, message, 429)
        if not verdict.ok:
            return locked(token, share, "Wrong password.")
        _set_share_cookie(share, UNLOCK_COOKIE, shares.unlock_key(share))
        return bottle.redirect(url(f"s/{token}"), 303)

    @app.get("/shares")
    @access.change
    def shares_page() -> str:
        base = _base_url()
        return ctx.render(
            "shares.html", items=[shares.describe(s, base) for s in _mine(access.who())]
        )

    @app.get("/api/shares")
    @access.change
    def list_shares() -> Any:
        base = _base_url()
        return jsonio.answer({"items": [shares.describe(s, base) for s in _mine(access.who())]})

    @app.post("/api/shares")
    @access.change
    def create_share() -> Any:
        body = jsonio.body({
            "kind", "photo_id", "album_id", "query", "title", "expires_days", "password",
            "max_views", "allow_download",
        })  # fmt: skip
        kind = body.get("kind")
        if not isinstance(kind, str):
            raise UsageError("kind must be photo, album or search")
        given = {k: v for k, v in body.items() if k != "kind" and v not in (None, "")}
        share = shares.create(kind, created_by=access.who().account_id, **given)
        bottle.response.status = 201
        return jsonio.answer(shares.describe(share, _base_url()))

    @app.post("/api/shares/<share_id:int>/revoke")
    @access.change
    def revoke(share_id: int) -> Any:
        current = access.who()
        share = Share.get_or_none(Share.id == share_id) if valid_id(share_id) else None
        if share is None or not _may_manage(current, share):
            raise not_found()
        return jsonio.answer(shares.describe(shares.revoke(share), _base_url()))


def _photo_page(ctx: Context, share: Share, photo_id: int, prefix: str, back: str) -> str:
    found = Photo.get_or_none(Photo.id == photo_id) if valid_id(photo_id) else None
    if found is None:
        raise not_found()
    files = [
        {"id": f.id, "name": f.rel_path.rsplit("/", 1)[-1], "size": f.size, "role": f.role}
        for f in shares.downloads(share, photo_id)
    ]
    return ctx.render(
        "share_photo.html", share=share, photo=found, files=files, prefix=prefix, back=back
    )


def _mine(current: Any) -> list[Share]:
    return shares.listing(current.account_id, everyone=current.is_admin)


def _may_manage(current: Any, share: Share) -> bool:
    return bool(current.is_admin) or share.created_by_id == current.account_id


def _base_url() -> str:
    """The viewer's address as this request reached it (the proxy's, when it is trusted)."""
    parts = bottle.request.urlparts
    return f"{parts.scheme}://{parts.netloc}{url('')}"


def _cookie_is(name: str, expected: str) -> bool:
    given = bottle.request.get_cookie(name) or ""
    return hmac.compare_digest(given.encode(), expected.encode())


def _set_share_cookie(share: Share, name: str, value: str) -> None:
    bottle.response.set_cookie(
        name,
        value,
        path=url(f"s/{share.token}"),
        httponly=True,
        samesite="lax",
        secure=bool(bottle.request.environ.get(SECURE)),
        max_age=7 * 86400,
    )


def _whole(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise UsageError(f"offset and limit are whole numbers, not {text[:20]!r}")
    return int(text)
