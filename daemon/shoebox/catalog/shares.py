"""Share links: making, finding, listing and revoking them, and what a visitor holding one
may see. Used by the viewer (`shoebox_viewer.shares`) and by `shoebox share`.

A share is one photo, one album or one saved search (query text for `shoebox.catalog.search`).
Its token (192 random bits) is the secret in the link. A share may expire, need a password
(argon2id), allow a number of views (counted when its landing page is opened) and allow
downloading originals; it can be revoked. What it shows is a `search.Query`, so the same
engine pages through it and decides whether an id belongs to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from shoebox.catalog import search
from shoebox.catalog.models import Album, AlbumPhoto, File, Photo, Share, utcnow
from shoebox.errors import UsageError
from shoebox.passwords import hash_password, verify_password

KINDS = ("photo", "album", "search")
MAX_DAYS = 3650
MAX_VIEWS = 1_000_000
MAX_TITLE = 255
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}\Z")

ACTIVE, EXPIRED, REVOKED, USED_UP = "active", "expired", "revoked", "used up"


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
    created_by: int | None = None,
) -> Share:
    """A new share of one photo, album or saved search. Raises UsageError for anything
    missing, unknown or out of range."""
    if kind not in KINDS:
        raise UsageError(f"a share is of a photo, an album or a search, not {kind!r}")
    given = {"photo": photo_id, "album": album_id, "search": query}
    if any(value is not None for other, value in given.items() if other != kind):
        raise UsageError(f"a {kind} share takes only its {kind}")
    if kind == "photo":
        photo_id = _whole(photo_id, "photo", 1, 2**63 - 1)
        if Photo.get_or_none(Photo.id == photo_id) is None:
            raise UsageError(f"there is no photo {photo_id}")
    elif kind == "album":
        album_id = _whole(album_id, "album", 1, 2**63 - 1)
        if Album.get_or_none(Album.id == album_id) is None:
            raise UsageError(f"there is no album {album_id}")
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
    if not isinstance(allow_download, bool):
        raise UsageError("allow_download must be true or false")
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
        allow_download=allow_download,
        created_by=created_by,
    )
    return share


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


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


def count_view(share: Share) -> bool:
    """Count one view, unless every allowed view is used up (then False). Atomic, so two
    visitors cannot both take the last view."""
    where = Share.id == share.id
    if share.max_views is not None:
        where &= Share.views < Share.max_views
    counted = Share.update(views=Share.views + 1).where(where).execute()
    if counted:
        share.views += 1
    return bool(counted)


def unlock_key(share: Share) -> str:
    """The cookie value that proves a browser gave the share's password: an HMAC of the token
    keyed with the password hash, so no server secret is needed and changing or removing the
    password locks every browser out again."""
    key = (share.password_hash or "").encode()
    return hmac.new(key, share.token.encode(), hashlib.sha256).hexdigest()


def check_password(share: Share, password: str) -> bool:
    """Whether `password` opens the share (slow on purpose: argon2id)."""
    return share.password_hash is not None and verify_password(share.password_hash, password)


def query_of(share: Share) -> search.Query:
    """What the share shows, as a query for the search engine. An album or a search leaves out
    missing photos, and a search also archived ones unless its text asks for them."""
    if share.kind == "photo":
        return search.Query(text="", filters=Photo.id == share.photo_id, everything=True)
    if share.kind == "album":
        members = AlbumPhoto.select(AlbumPhoto.photo).where(AlbumPhoto.album == share.album_id)
        return search.Query(text="", filters=Photo.id.in_(members), archived_given=True)
    return search.parse(share.query or "")


def photo_ids(share: Share) -> Any:
    """A subquery of the ids of the photos the share shows."""
    return Photo.select(Photo.id).where(query_of(share).where)


def contains(share: Share, photo_id: int) -> bool:
    """Whether the share shows this photo."""
    if not 0 < photo_id < 2**63:
        return False
    query = query_of(share)
    narrowed = dataclasses.replace(
        query,
        filters=(Photo.id == photo_id)
        if query.filters is None
        else (query.filters & (Photo.id == photo_id)),
    )
    return search.count(narrowed) > 0


def page(share: Share, *, offset: int = 0, limit: int = 100) -> search.Page:
    """One page of the share's photos for a visitor: the API's shape, but a file's path is only
    its base name (a visitor learns nothing of the server's folders)."""
    found = search.page(query_of(share), offset=offset, limit=limit)
    return dataclasses.replace(found, items=[for_visitor(item) for item in found.items])


def for_visitor(item: dict[str, Any]) -> dict[str, Any]:
    files = [{**f, "path": f["path"].replace("\\", "/").rsplit("/", 1)[-1]} for f in item["files"]]
    return {**item, "files": files}


def downloads(share: Share, photo_id: int) -> list[File]:
    """The files of a photo in the share a visitor may download (none unless it allows it)."""
    if not share.allow_download or not contains(share, photo_id):
        return []
    return list(
        File.select()
        .where((File.photo == photo_id) & (File.status == "present") & (File.role != "sidecar"))
        .order_by(File.id)
    )


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
        "allow_download": share.allow_download,
        "revoked_at": f"{share.revoked_at.isoformat()}Z" if share.revoked_at else None,
        "created_at": f"{share.created_at.isoformat()}Z",
        "created_by": share.created_by_id,
        "state": state(share),
        "photos": search.count(query_of(share)),
    }
