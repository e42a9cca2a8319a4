"""Share links in the viewer: what a visitor holding one sees, and managing them.

Visitors (no login needed), everything under `/s/<token>`:
- `GET /s/<token>`: the landing page (the photo, or a grid of the album or search);
- `GET /s/<token>/photo/<id>` (with previous and next in the grid's order, and the link's
  "Download all" when it allows downloads), `/tile/<id>`, `/preview/<id>`, `/large/<id>`,
  `/video/<id>`, `/original/<file_id>` and `/zip` (only when the share allows downloads),
  `/api/photos?offset&limit`;
- `POST /s/<token>/unlock`: the password form (back-off per link and per address after
  wrong ones, counted apart from logins: `shoebox.guard`).

What a visitor gets of a photo is `shoebox.catalog.shares.for_visitors`: the picture, the
date, the title and description and the place by city, plus what the share adds (position,
camera and exposure, people's names, original files). A video is played from a copy without
metadata unless the share allows downloading the original.

Every id is checked to belong to the share; one that does not and one that does not exist get
the same 404. An unknown token is 404; an expired or revoked share is 410 on every route; a
password-protected one is 401 until unlocked. A view is a visitor: the first request of a
browser without the share's visitor cookie, on any route, is counted (after the password,
for a protected share) and sets the cookie, a random token whose hash the catalog keeps; once
the views are used up, only the visitors counted are served (410 for anyone else). Nothing a
visitor gets may be kept without asking again (`private, no-cache`, with an ETag for media),
so a revoked link is gone from every browser at once.

Members: `GET /shares` (the page), `GET /api/shares`, `POST /api/shares`,
`POST /api/shares/<id>/revoke`. Members see and revoke their own shares, admins everyone's.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import bottle

from shoebox.catalog import search, selection, shares
from shoebox.catalog.cache import PREVIEW, TILE
from shoebox.errors import NotFound, UsageError
from shoebox_viewer import access, archives, jsonio
from shoebox_viewer.context import Context, url
from shoebox_viewer.formats import MONTHS, camera_words, exposure_words
from shoebox_viewer.front import CLIENT_IP, SECURE
from shoebox_viewer.http import REVALIDATE
from shoebox_viewer.media import PENDING_HEADER, Media, not_found, valid_id

if TYPE_CHECKING:  # the rows `shoebox.catalog.shares` reads
    from shoebox.catalog.models import Share

VISIT_COOKIE = "sb_visit"
VISIT_DAYS = 30  # a visitor who comes back later than this is counted again
PAGE = 100  # photos on one page of an album or search share
_NEW_VISITOR = "shoebox.visit"  # environ key: the cookie of a visitor counted by this request

F = TypeVar("F", bound=Callable[..., Any])


def for_visitors(fn: F) -> F:
    """A visitor route: its answers are private and revalidated (errors not stored at all),
    and carry the cookie of a visitor the request counted."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = fn(*args, **kwargs)
        except UsageError as exc:  # NotFound: the same 404 whatever was not there
            error = not_found() if isinstance(exc, NotFound) else bottle.HTTPError(400, str(exc))
            raise _no_store(error) from None
        except bottle.HTTPResponse as exc:  # errors and redirects
            raise _no_store(exc) from None
        target = answer if isinstance(answer, bottle.HTTPResponse) else bottle.response
        if target.status_code >= 400 or target.get_header(PENDING_HEADER):
            _no_store(target)  # a page that says no (the password form, a 415), or a stand-in
        else:
            target.set_header("Cache-Control", REVALIDATE)
            _hand_out_cookie(target)
        return answer

    return wrapper  # type: ignore[return-value]


def _no_store(answer: Any) -> Any:
    answer.set_header("Cache-Control", "no-store")
    _hand_out_cookie(answer)
    return answer


def install(app: bottle.Bottle, ctx: Context) -> None:
    media = Media(ctx)

    def opened(token: str) -> Share:
        """The share behind `token`, if this request may see it (else 404, 410 or 401); a new
        visitor is counted here."""
        share = shares.find(token)
        if share is None:
            raise not_found()
        if shares.is_visitor(gone_or_live(share), bottle.request.get_cookie(VISIT_COOKIE)):
            return share
        if shares.state(share) == shares.USED_UP:  # before any password: nobody new gets in
            raise bottle.HTTPError(410, "this link has been opened as often as it may be")
        if share.password_hash:
            raise bottle.HTTPError(401, "this link needs its password")
        welcome(share)
        return share

    def gone_or_live(share: Share) -> Share:
        """The share, unless it is revoked or expired: then 410 on every route at once."""
        state = shares.state(share)
        if state in (shares.REVOKED, shares.EXPIRED):
            gone = "expired" if state == shares.EXPIRED else "been withdrawn"
            raise bottle.HTTPError(410, f"this link has {gone}")
        return share

    def welcome(share: Share) -> None:
        """Count this browser as a new visitor, or 410 when the views are used up."""
        cookie = shares.admit(share)
        if cookie is None:
            raise bottle.HTTPError(410, "this link has been opened as often as it may be")
        bottle.request.environ[_NEW_VISITOR] = (share.token, cookie)

    def member(share: Share, photo_id: int) -> Share:
        if not shares.contains(share, photo_id):
            raise not_found()
        return share

    def locked(token: str, share: Share | None, error: str = "", status: int = 401) -> str:
        bottle.response.status = status
        return ctx.render("share_locked.html", token=token, share=share, error=error)

    def photo_page(share: Share, photo_id: int, back: str) -> str:
        item = shares.photo(share, photo_id)
        prefix = url(f"s/{share.token}/")
        newer, older = shares.neighbours(share, item)
        return ctx.render(
            "share_photo.html",
            share=share,
            photo=item,
            shown=_shown(item),
            prefix=prefix,
            back=back,
            prev_url=f"{prefix}photo/{newer}" if newer else "",
            next_url=f"{prefix}photo/{older}" if older else "",
        )

    @app.get("/s/<token>")
    @for_visitors
    def landing(token: str) -> Any:
        try:
            share = opened(token)
        except bottle.HTTPError as exc:
            if exc.status_code == 401:
                return locked(token, shares.find(token))
            raise
        if share.kind == "photo":
            return photo_page(share, share.photo_id or 0, back="")
        offset = search.paging("offset", bottle.request.query.get("offset", "0"))
        found = shares.page(share, offset=offset, limit=PAGE)
        more = offset + len(found.items) < (found.total or 0)
        return ctx.render(
            "share.html",
            share=share,
            items=found.items,
            total=found.total,
            prefix=url(f"s/{token}/"),
            next_url=f"{url('s/' + token)}?offset={offset + PAGE}" if more else "",
        )

    @app.get("/s/<token>/photo/<photo_id:int>")
    @for_visitors
    def photo(token: str, photo_id: int) -> Any:
        share = opened(token)
        return photo_page(share, photo_id, back=url(f"s/{token}") if share.kind != "photo" else "")

    @app.get("/s/<token>/tile/<photo_id:int>")
    @for_visitors
    def tile(token: str, photo_id: int) -> Any:
        share = member(opened(token), photo_id)
        return media.rendition(photo_id, TILE, shares.viewer_of(share), REVALIDATE)

    @app.get("/s/<token>/preview/<photo_id:int>")
    @for_visitors
    def preview(token: str, photo_id: int) -> Any:
        share = member(opened(token), photo_id)
        return media.rendition(photo_id, PREVIEW, shares.viewer_of(share), REVALIDATE)

    @app.get("/s/<token>/large/<photo_id:int>")
    @for_visitors
    def large(token: str, photo_id: int) -> Any:
        share = member(opened(token), photo_id)
        viewer = shares.viewer_of(share)
        return media.large(
            photo_id, viewer, originals=share.allow_download, cache_control=REVALIDATE
        )

    @app.get("/s/<token>/video/<photo_id:int>")
    @for_visitors
    def video(token: str, photo_id: int) -> Any:
        share = member(opened(token), photo_id)
        return media.video(photo_id, bare=not share.allow_download, cache_control=REVALIDATE)

    @app.get("/s/<token>/zip")
    @for_visitors
    def download_all(token: str) -> Any:
        """Every photo of the link in one zip, when it allows downloads (sidecars left out, as
        from the photo pages; base names only)."""
        share = opened(token)
        if not share.allow_download:
            raise not_found()
        found = selection.files_of(shares.photo_ids(share), sidecars=False)
        return archives.response(found, share.title or "shared photos", folders=False)

    @app.get("/s/<token>/original/<file_id:int>")
    @for_visitors
    def original(token: str, file_id: int) -> Any:
        return media.original(shares.download(opened(token), file_id))

    @app.get("/s/<token>/api/photos")
    @for_visitors
    def photos(token: str) -> Any:
        share = opened(token)
        query = bottle.request.query
        found = shares.page(
            share,
            offset=search.paging("offset", query.get("offset", "0")),
            limit=search.paging("limit", query.get("limit", str(PAGE))),
        )
        return jsonio.answer({"total": found.total, "items": found.items})

    @app.post("/s/<token>/unlock")
    @for_visitors
    def unlock(token: str) -> Any:
        share = shares.find(token)
        if share is None:
            raise not_found()
        gone_or_live(share)  # a wrong password on a withdrawn link is still a 410
        if shares.state(share) == shares.USED_UP:
            raise bottle.HTTPError(410, "this link has been opened as often as it may be")
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
        welcome(share)  # a view is counted once the password is given
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
            "max_views", *shares.OPTIONS,
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
        share = shares.get(share_id) if valid_id(share_id) else None
        if share is None or not _may_manage(current, share):
            raise not_found()
        return jsonio.answer(shares.describe(shares.revoke(share), _base_url()))


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """What the visitor's photo page prints of a visitor's photo dict, formatted."""
    local = dt.datetime.fromisoformat(item["taken_at_local"])
    place = item["place"] or {}
    shown: dict[str, Any] = {
        "date": f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}",
        "iso_date": local.isoformat(),
        "place": ", ".join(
            dict.fromkeys(w for w in (place.get("city"), place.get("country")) if w)
        ),
        **dict.fromkeys(("position", "map_url", "camera", "lens", "exposure"), ""),
    }
    if item.get("lat") is not None and item.get("lng") is not None:
        shown["position"] = f"{item['lat']:.5f}, {item['lng']:.5f}"
        lat, lng = item["lat"], item["lng"]
        shown["map_url"] = (
            f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lng:.6f}"
            f"#map=15/{lat:.5f}/{lng:.5f}"
        )
    if "camera_make" in item:
        shown["camera"] = " ".join(
            w for w in camera_words(item["camera_make"], item["camera_model"]) if w
        )
        shown["lens"] = item["lens_model"] or ""
        shown["exposure"] = exposure_words(
            item["exposure"], item["f_number"], item["focal_length"], item["iso"]
        )
    return shown


def _hand_out_cookie(answer: Any) -> None:
    """Set the cookie of the visitor this request counted, if it did, on `answer`."""
    counted = bottle.request.environ.get(_NEW_VISITOR)
    if counted is None:
        return
    token, cookie = counted
    answer.set_cookie(
        VISIT_COOKIE,
        cookie,
        path=url(f"s/{token}"),
        httponly=True,
        samesite="lax",
        secure=bool(bottle.request.environ.get(SECURE)),
        max_age=VISIT_DAYS * 86400,
    )


def _mine(current: Any) -> list[Share]:
    return shares.listing(current.account_id, everyone=current.is_admin)


def _may_manage(current: Any, share: Share) -> bool:
    return bool(current.is_admin) or share.created_by_id == current.account_id


def _base_url() -> str:
    """The viewer's address as this request reached it (the proxy's, when it is trusted)."""
    parts = bottle.request.urlparts
    return f"{parts.scheme}://{parts.netloc}{url('')}"
