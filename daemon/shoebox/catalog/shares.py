"""Share links: making, finding, listing and revoking them, their visitors, and what a visitor
holding one may see. Used by the viewer (`shoebox_viewer.shares`) and by `shoebox share`.

A share is one photo, one album or one saved search (query text for `shoebox.catalog.search`).
Its token (192 random bits) is the secret in the link. A share may expire, need a password
(argon2id) and allow a number of views; it can be revoked.

What a share shows is a `search.Query` read as its creator would read it at that moment
(`shoebox.catalog.visibility`), never with another member's private photos, so a search link
does not grow to include a private upload. Of each photo a visitor gets only what `VISITOR`
lists (the picture, the date, the title and description, the place by city), and what the
share adds: `show_location` the position, `show_details` the camera and exposure,
`show_people` the names of the people in it, `allow_download` its original files (which hold
everything the camera recorded).

A view is a visitor: the first request of a browser without a visitor's cookie, on any route,
is counted (`admit`: atomic, so two visitors cannot both take the last view) and gets a
random cookie whose SHA-256 is kept (`ShareVisitor`); a used-up share still serves the
visitors it counted. A password-protected share admits a visitor when the password is given.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import re
import secrets
from typing import Any

from peewee import JOIN

from shoebox.catalog import search, visibility
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
from shoebox.passwords import hash_password, token_digest, verify_password

KINDS = ("photo", "album", "search")
MAX_DAYS = 3650
MAX_VIEWS = 1_000_000
MAX_TITLE = 255
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}\Z")

ACTIVE, EXPIRED, REVOKED, USED_UP = "active", "expired", "revoked", "used up"
OPTIONS = ("allow_download", "show_location", "show_details", "show_people")
# What a visitor gets of every photo; the share's options add the rest.
VISITOR = ("id", "type", "taken_at_local", "title", "description", "width", "height", "duration")
LOCATION = ("lat", "lng", "altitude")
DETAILS = (
    "camera_make", "camera_model", "lens_model", "iso", "exposure", "f_number", "focal_length",
    "focal_length_35mm",
)  # fmt: skip


def create(
    kind: str,
    *,
    photo_id: int | None = None,
    album_id: int | None = None,
    query: str | None = None,
    title: str | None = None,
    expires_days: int | None = None,
    password: str | None = None,
    max_views: int | None = None,
    allow_download: bool = False,
    show_location: bool = False,
    show_details: bool = False,
    show_people: bool = False,
    created_by: int | None = None,
) -> Share:
    """A new share of one photo, album or saved search, made by the account `created_by`
    (None: the command line, which shares the household's photos only). Raises UsageError
    for anything missing, unknown or out of range, NotFound for a photo or album that its
    maker does not see."""
    if kind not in KINDS:
        raise UsageError(f"a share is of a photo, an album or a search, not {kind!r}")
    given = {"photo": photo_id, "album": album_id, "search": query}
    if any(value is not None for other, value in given.items() if other != kind):
        raise UsageError(f"a {kind} share takes only its {kind}")
    if kind == "photo":
        photo_id = _whole(photo_id, "photo", 1, 2**63 - 1)
        if not visibility.can_see(visibility.Viewer(created_by), photo_id):
            raise NotFound(f"there is no photo {photo_id}")
    elif kind == "album":
        album_id = _whole(album_id, "album", 1, 2**63 - 1)
        if Album.get_or_none(Album.id == album_id) is None:
            raise NotFound(f"there is no album {album_id}")
    else:
        if not isinstance(query, str) or not query.strip():
            raise UsageError("a search share needs the query text")
        query = query.strip()
        search.parse(query)  # a UsageError names a bad term now, not when a visitor comes
    if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
        raise UsageError(f"the title must be text of at most {MAX_TITLE} characters")
    expires_at = None
    if expires_days is not None:
        days = _whole(expires_days, "expires_days", 1, MAX_DAYS)
        expires_at = utcnow() + dt.timedelta(days=days)
    if max_views is not None:
        max_views = _whole(max_views, "max_views", 1, MAX_VIEWS)
    if password is not None and not isinstance(password, str):
        raise UsageError("the password must be text")
    options = {
        "allow_download": allow_download,
        "show_location": show_location,
        "show_details": show_details,
        "show_people": show_people,
    }
    for name, value in options.items():
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false")
    share: Share = Share.create(
        token=secrets.token_urlsafe(24),
        kind=kind,
        photo=photo_id if kind == "photo" else None,
        album=album_id if kind == "album" else None,
        query=query if kind == "search" else None,
        title=(title or "").strip() or None,
        password_hash=hash_password(password) if password else None,
        expires_at=expires_at,
        max_views=max_views,
        created_by=created_by,
        **options,
    )
    return share


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def get(share_id: int) -> Share | None:
    """The share with this id, in any state; None when there is none."""
    found: Share | None = Share.get_or_none(Share.id == share_id)
    return found


def find(token: str) -> Share | None:
    """The share with this token, in any state; None for anything else."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    share: Share | None = Share.get_or_none(Share.token == token)
    # The database may compare case-insensitively (MariaDB's collations): compare exactly.
    if share is None or not hmac.compare_digest(share.token.encode(), token.encode()):
        return None
    return share


def state(share: Share, now: dt.datetime | None = None) -> str:
    """active, expired, revoked or "used up" (every allowed view has been counted)."""
    if share.revoked_at is not None:
        return REVOKED
    if share.expires_at is not None and share.expires_at <= (now or utcnow()):
        return EXPIRED
    if share.max_views is not None and share.views >= share.max_views:
        return USED_UP
    return ACTIVE


def admit(share: Share) -> str | None:
    """Count a new visitor as one view and return the cookie that proves it, or None when
    every allowed view is used (or the share has expired or been revoked meanwhile). Atomic:
    of two visitors racing for the last view, one is admitted."""
    cookie = secrets.token_urlsafe(32)  # 256 bits
    where = (
        (Share.id == share.id)
        & Share.revoked_at.is_null()
        & (Share.expires_at.is_null() | (Share.expires_at > utcnow()))
    )
    if share.max_views is not None:
        where &= Share.views < Share.max_views
    with Share._meta.database.atomic():
        if not Share.update(views=Share.views + 1).where(where).execute():
            return None
        ShareVisitor.create(share=share.id, token_hash=token_digest(cookie))
    share.views += 1
    return cookie


def is_visitor(share: Share, cookie: str | None) -> bool:
    """Whether this cookie is one the share gave a visitor it counted."""
    if not cookie or len(cookie) > 100:
        return False
    return bool(
        ShareVisitor.select()
        .where((ShareVisitor.token_hash == token_digest(cookie)) & (ShareVisitor.share == share.id))
        .exists()
    )


def check_password(share: Share, password: str) -> bool:
    """Whether `password` opens the share (slow on purpose: argon2id)."""
    return share.password_hash is not None and verify_password(share.password_hash, password)


def viewer_of(share: Share) -> visibility.Viewer:
    """Whose eyes the share sees with: its maker's, never an admin's view of everything (a
    link made from the command line sees the household's photos)."""
    return visibility.Viewer(share.created_by_id)


def query_of(share: Share) -> search.Query:
    """What the share shows, as a query for the search engine, read as its maker would. An
    album or a search leaves out missing photos, and a search also archived ones unless its
    text asks for them."""
    viewer = viewer_of(share)
    if share.kind == "photo":
        filters = Photo.id == share.photo_id
        return search.Query(text="", filters=filters, everything=True, viewer=viewer)
    if share.kind == "album":
        members = AlbumPhoto.select(AlbumPhoto.photo).where(AlbumPhoto.album == share.album_id)
        return search.Query(
            text="", filters=Photo.id.in_(members), archived_given=True, viewer=viewer
        )
    return search.parse(share.query or "", viewer=viewer)


def photo_ids(share: Share) -> Any:
    """A subquery of the ids of the photos the share shows."""
    return Photo.select(Photo.id).where(query_of(share).where)


def _narrowed(share: Share, photo_id: int) -> search.Query:
    return query_of(share).narrowed(Photo.id == photo_id)


def contains(share: Share, photo_id: int) -> bool:
    """Whether the share shows this photo."""
    if not 0 < photo_id < 2**63:
        return False
    return search.count(_narrowed(share, photo_id)) > 0


def page(share: Share, *, offset: int = 0, limit: int = 100) -> search.Page:
    """One page of the share's photos as a visitor sees them (`for_visitors`)."""
    found = search.page(query_of(share), offset=offset, limit=limit)
    return dataclasses.replace(found, items=for_visitors(share, found.items))


def photo(share: Share, photo_id: int) -> dict[str, Any]:
    """One photo of the share as a visitor sees it; NotFound unless the share shows it."""
    if not 0 < photo_id < 2**63:
        raise NotFound("not found")
    found = search.page(_narrowed(share, photo_id), total=False).items
    if not found:
        raise NotFound("not found")
    return for_visitors(share, found)[0]


def neighbours(share: Share, photo: dict[str, Any]) -> tuple[int | None, int | None]:
    """The ids of the share's photos just newer and just older than `photo` (one of them,
    from `photo()`), in the order its grid shows them; none for a link to one photo."""
    if share.kind == "photo":
        return None, None
    taken_at = Photo.select(Photo.taken_at).where(Photo.id == photo["id"]).scalar()
    return search.neighbours(query_of(share), taken_at, photo["id"])


def for_visitors(share: Share, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Photos (in the API's shape) cut down to what the share lets a visitor see: never a
    path, a hash, a sidecar or an owner; the place by city, and more as the share says."""
    ids = [item["id"] for item in items]
    places = _places(ids)
    names = _people(ids) if share.show_people else {}
    files = _files(ids) if share.allow_download else {}
    shown: tuple[str, ...] = VISITOR
    if share.show_location:
        shown += LOCATION
    if share.show_details:
        shown += DETAILS
    result = []
    for item in items:
        visitor = {name: item[name] for name in shown}
        visitor["place"] = places.get(item["id"])
        if share.show_people:
            visitor["people"] = names.get(item["id"], [])
        if share.allow_download:
            visitor["files"] = files.get(item["id"], [])
        result.append(visitor)
    return result


def _places(ids: list[int]) -> dict[int, dict[str, str | None]]:
    rows: Any = (
        Place.select(Place.photo, Place.city, Place.region, Place.country)
        .where(Place.photo.in_(ids))
        .tuples()
    )
    return {
        photo_id: {"city": city, "region": region, "country": country}
        for photo_id, city, region, country in rows
    }


def _people(ids: list[int]) -> dict[int, list[str]]:
    """The names of the (not hidden) people on each photo, left to right."""
    rows: Any = (
        Face.select(Face.photo, Person.name)
        .join(Person, JOIN.INNER)
        .where(Face.photo.in_(ids) & Person.name.is_null(False) & (Person.hidden == False))  # noqa: E712
        .order_by(Face.x, Face.id)
        .tuples()
    )
    names: dict[int, list[str]] = {}
    for photo_id, name in rows:
        if name not in names.setdefault(photo_id, []):
            names[photo_id].append(name)
    return names


def _files(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The files of each photo a visitor may download: by base name, never a sidecar."""
    found: dict[int, list[dict[str, Any]]] = {}
    for f in _downloadable(File.photo.in_(ids)):
        found.setdefault(f.photo_id or 0, []).append(
            {"id": f.id, "name": f.rel_path.rsplit("/", 1)[-1], "size": f.size, "mime": f.mime}
        )
    return found


def _downloadable(where: Any) -> list[File]:
    return list(
        File.select()
        .where(where & (File.status == "present") & (File.role != "sidecar"))
        .order_by(File.id)
    )


def download(share: Share, file_id: int) -> File:
    """A file a visitor may download: of a photo the share shows, not a sidecar, and only
    when the share allows downloads; NotFound for anything else."""
    if share.allow_download and 0 < file_id < 2**63:
        found = _downloadable((File.id == file_id) & File.photo.in_(photo_ids(share)))
        if found:
            return found[0]
    raise NotFound("not found")


def listing(account_id: int | None, *, everyone: bool = False) -> list[Share]:
    """Shares newest first: everyone's, or those made by this account (None: those made
    without an account, from the command line or a trusted network)."""
    select = Share.select().order_by(Share.created_at.desc(), Share.id.desc())
    if not everyone:
        select = select.where(
            Share.created_by.is_null() if account_id is None else Share.created_by == account_id
        )
    return list(select)


def lookup(key: str) -> Share:
    """A share by id or token; UsageError when there is none."""
    share = Share.get_or_none(Share.id == int(key)) if key.isdigit() and len(key) < 19 else None
    share = share or find(key)
    if share is None:
        raise UsageError(f"there is no share {key!r} (give its id or its token)")
    return share


def revoke(share: Share) -> Share:
    """Revoke now (a share revoked before keeps its time)."""
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        Share.update(revoked_at=share.revoked_at).where(
            (Share.id == share.id) & Share.revoked_at.is_null()
        ).execute()
    return share


def target(share: Share) -> str:
    """What is shared, for people: "photo 12", "album 3 (Summer)", "search 'beach'"."""
    if share.kind == "photo":
        return f"photo {share.photo_id}"
    if share.kind == "album":
        album = Album.get_or_none(Album.id == share.album_id)
        return f"album {share.album_id}" + (f" ({album.title})" if album else "")
    return f"search {share.query!r}"


def link(base_url: str, share: Share) -> str:
    """The link for visitors, under the viewer's address (such as https://host/photos/)."""
    return f"{base_url.rstrip('/')}/s/{share.token}"


def describe(share: Share, base_url: str) -> dict[str, Any]:
    """A share as the API and the command line show it (never its password hash)."""
    return {
        "id": share.id,
        "token": share.token,
        "url": link(base_url, share),
        "kind": share.kind,
        "photo_id": share.photo_id,
        "album_id": share.album_id,
        "query": share.query,
        "target": target(share),
        "title": share.title,
        "password": share.password_hash is not None,
        "expires_at": f"{share.expires_at.isoformat()}Z" if share.expires_at else None,
        "max_views": share.max_views,
        "views": share.views,
        **{name: getattr(share, name) for name in OPTIONS},
        "revoked_at": f"{share.revoked_at.isoformat()}Z" if share.revoked_at else None,
        "created_at": f"{share.created_at.isoformat()}Z",
        "created_by": share.created_by_id,
        "state": state(share),
        "photos": search.count(query_of(share)),
    }
