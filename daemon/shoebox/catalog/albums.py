"""Albums: making, renaming, choosing a cover, adding and removing photos, and reading them
back as plain dicts (the shape the viewer's API serves). Every change puts the album on the
to-write list (`outbox`), for its album files beside the library. Bad input is a UsageError;
an album that does not exist is `None`, a photo that does not exist or that the viewer does
not see is a `NotFound`, for the caller to answer with 404.

Albums belong to the household, but what is in them is read for a viewer
(`shoebox.catalog.visibility`): another member's private photo in an album is not counted,
not a cover and not listed for anyone else, and nobody can add or remove a photo they do not
see.
"""

from __future__ import annotations

import re
from typing import Any

from peewee import JOIN, fn

from shoebox.catalog import outbox, visibility
from shoebox.catalog.models import Album, AlbumPhoto, Photo, utcnow
from shoebox.errors import NotFound, UsageError

MAX_TITLE = 255
MAX_IDS = 1000  # photos added or removed in one call
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_title(title: object) -> str:
    """The title, stripped; a UsageError unless it is 1 to 255 printable characters."""
    if not isinstance(title, str):
        raise UsageError("title must be text")
    title = title.strip()
    if not title or len(title) > MAX_TITLE or _CONTROL.search(title):
        raise UsageError(f"title must be 1 to {MAX_TITLE} characters, without control characters")
    return title


def photo_ids(values: object, what: str) -> list[int]:
    """A list of photo ids from JSON input; a UsageError for anything else."""
    if not isinstance(values, list) or len(values) > MAX_IDS:
        raise UsageError(f"{what} must be a list of at most {MAX_IDS} photo ids")
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 2**63 for v in values):
        raise UsageError(f"{what} must hold photo ids (whole numbers above 0)")
    return list(dict.fromkeys(values))


def photo_ids_text(text: str, what: str) -> list[int]:
    """A list of photo ids from a query parameter such as "12,15,40"; a UsageError for
    anything else."""
    parts = text.split(",")
    if not text or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise UsageError(f"{what}: wants photo numbers separated by commas, such as 12,15,40")
    return photo_ids([int(p) for p in parts], what)


def get(album_id: int) -> Album | None:
    found: Album | None = Album.get_or_none(Album.id == album_id)
    return found


def create(title: object, account_id: int | None) -> Album:
    album: Album = Album.create(title=clean_title(title), created_by=account_id)
    outbox.mark("album", [album.id])
    return album


def rename(album: Album, title: object) -> None:
    album.title = clean_title(title)
    _touch(album)


def set_cover(album: Album, photo_id: object, viewer: visibility.Viewer) -> None:
    """Make one of the album's photos (that the viewer sees) its cover (None: the newest
    photo is shown)."""
    if photo_id is None:
        album.cover_id = None
    else:
        (pid,) = photo_ids([photo_id], "cover_id")
        if not visibility.restrict(
            AlbumPhoto.select().where((AlbumPhoto.album == album.id) & (AlbumPhoto.photo == pid)),
            viewer,
            AlbumPhoto.photo,
        ).exists():
            raise UsageError(f"photo {pid} is not in this album; add it first")
        album.cover_id = pid
    _touch(album)


def delete(album: Album) -> None:
    """The album goes; its photos stay in the library (and its files beside it go)."""
    outbox.mark("album", [album.id])
    album.delete_instance()


def add_photos(album: Album, ids: list[int], viewer: visibility.Viewer) -> int:
    """Adds the photos (those already in it are left alone); returns how many were new. A
    NotFound names an id that is no photo the viewer sees."""
    if not ids:
        return 0
    rows: Any = visibility.restrict(
        Photo.select(Photo.id).where(Photo.id.in_(ids)), viewer
    ).tuples()
    known = {row[0] for row in rows}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise NotFound(f"no photo {unknown[0]}")
    rows = (
        AlbumPhoto.select(AlbumPhoto.photo)
        .where((AlbumPhoto.album == album.id) & AlbumPhoto.photo.in_(ids))
        .tuples()
    )
    present = {row[0] for row in rows}
    new = [i for i in ids if i not in present]
    now = utcnow()
    for start in range(0, len(new), 200):
        AlbumPhoto.insert_many(
            [{"album": album.id, "photo": i, "added_at": now} for i in new[start : start + 200]]
        ).execute()
    _touch(album)
    return len(new)


def remove_photos(album: Album, ids: list[int], viewer: visibility.Viewer) -> int:
    """Takes the photos the viewer sees out of the album (not out of the library); returns
    how many were in it. A cover taken out falls back to the newest photo."""
    if not ids:
        return 0
    seen: Any = visibility.restrict(
        Photo.select(Photo.id).where(Photo.id.in_(ids)), viewer
    ).tuples()
    ids = [row[0] for row in seen]
    if not ids:
        return 0
    gone = int(
        AlbumPhoto.delete()
        .where((AlbumPhoto.album == album.id) & AlbumPhoto.photo.in_(ids))
        .execute()
    )
    if album.cover_id in ids:
        album.cover_id = None
    _touch(album)
    return gone


def _touch(album: Album) -> None:
    """The album changed: its time, and its files beside the library want writing."""
    album.updated_at = utcnow()
    album.save()
    outbox.mark("album", [album.id])


def albums_of(photo_id: int) -> list[Album]:
    """The albums holding this photo, by title."""
    return list(
        Album.select()
        .join(AlbumPhoto)
        .where(AlbumPhoto.photo == photo_id)
        .order_by(fn.LOWER(Album.title), Album.id)
    )


def listing(viewer: visibility.Viewer, album_id: int | None = None) -> list[dict[str, Any]]:
    """Every album (or the one with `album_id`), newest change first, as dicts: id, title,
    count, cover_id (the chosen cover, else the newest photo; None when empty), created_at,
    updated_at; counts and covers of the photos the viewer sees."""
    count = fn.COUNT(AlbumPhoto.id)
    on = AlbumPhoto.album == Album.id
    seen = visibility.visible(viewer, AlbumPhoto.photo)
    if seen is not None:
        on &= seen
    select = (
        Album.select(Album, count.alias("n"))
        .join(AlbumPhoto, JOIN.LEFT_OUTER, on=on)
        .group_by(Album.id)
        .order_by(Album.updated_at.desc(), Album.id.desc())
    )
    if album_id is not None:
        select = select.where(Album.id == album_id)
    albums: list[Any] = list(select)
    chosen = {a.cover_id for a in albums if a.cover_id is not None}
    covers = set()
    if chosen:
        rows: Any = visibility.restrict(
            Photo.select(Photo.id).where(Photo.id.in_(chosen)), viewer
        ).tuples()
        covers = {row[0] for row in rows}
    newest = _newest_photos([a.id for a in albums if a.cover_id not in covers], viewer)
    return [
        {
            "id": a.id,
            "title": a.title,
            "count": int(a.n),
            "cover_id": a.cover_id if a.cover_id in covers else newest.get(a.id),
            "created_at": f"{a.created_at.isoformat()}Z",
            "updated_at": f"{a.updated_at.isoformat()}Z",
        }
        for a in albums
    ]


def as_dict(album_id: int, viewer: visibility.Viewer) -> dict[str, Any] | None:
    found = listing(viewer, album_id)
    return found[0] if found else None


def _newest_photos(album_ids: list[int], viewer: visibility.Viewer) -> dict[int, int]:
    """Album id -> the id of its most recently taken photo that the viewer sees, for albums
    without a chosen cover (or one the viewer does not see)."""
    newest: dict[int, int] = {}
    if not album_ids:
        return newest
    rows: Any = visibility.restrict(
        AlbumPhoto.select(AlbumPhoto.album, Photo.id)
        .join(Photo)
        .where(AlbumPhoto.album.in_(album_ids) & (Photo.missing == False)),  # noqa: E712
        viewer,
    )
    rows = rows.order_by(Photo.taken_at.desc(), Photo.id.desc()).tuples()
    for album_id, photo_id in rows:
        newest.setdefault(album_id, photo_id)
    return newest
