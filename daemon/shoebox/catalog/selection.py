"""Many photos at once: favourite and archive for the viewer's selection bar (and for one
photo's page), and the files that a download of several photos (a selection, an album, a
share) holds.

Every id must be a photo the viewer sees (NotFound names the first that is not, and then
nothing changes): a bulk action never reaches past what one photo's page could do. The
changed photos go on the outbox's list, for their sidecars beside the library.
"""

from __future__ import annotations

from typing import Any

from shoebox.catalog import albums, outbox
from shoebox.catalog.models import AlbumPhoto, File, Photo, Root, utcnow
from shoebox.catalog.visibility import Viewer, get, restrict
from shoebox.errors import NotFound, UsageError

FLAGS = ("favorite", "archived")


def set_flags(viewer: Viewer, ids: object, flags: dict[str, object]) -> list[int]:
    """Set `favorite` and/or `archived` (true or false) on these photos; returns their ids."""
    wanted = albums.photo_ids(ids, "ids")
    unknown = set(flags) - set(FLAGS)
    if unknown or not flags:
        named = repr(sorted(unknown)[0]) if unknown else "nothing"
        raise UsageError(f"send favorite or archived (true or false), not {named}")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false")
    if not wanted:
        return []
    rows: Any = restrict(Photo.select(Photo.id).where(Photo.id.in_(wanted)), viewer).tuples()
    seen = {row[0] for row in list(rows)}
    for photo_id in wanted:
        if photo_id not in seen:
            raise NotFound(f"no photo {photo_id}")
    Photo.update(**flags, updated_at=utcnow()).where(Photo.id.in_(wanted)).execute()
    outbox.mark("photo", wanted)
    return wanted


def set_photo_flags(viewer: Viewer, photo_id: int, flags: dict[str, Any]) -> None:
    """Set `favorite` and/or `archived` (true or false) on one photo (nothing when `flags` is
    empty); NotFound when the viewer does not see it."""
    found = get(viewer, photo_id)
    if found is None:
        raise NotFound(f"no photo {photo_id}")
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise UsageError(f"unknown field {sorted(unknown)[0]!r}; send favorite or archived")
    for name in FLAGS:
        if name in flags:
            if not isinstance(flags[name], bool):
                raise UsageError(f"{name} must be true or false")
            setattr(found, name, flags[name])
    if flags:
        found.updated_at = utcnow()
        found.save(only=[Photo.favorite, Photo.archived, Photo.updated_at])
        outbox.mark("photo", [photo_id])  # its sidecars beside the library


def files_of(photo_ids: Any, *, sidecars: bool = True) -> list[File]:
    """The present files of these photos (a list of ids or a subquery of them), their roots
    joined, newest photo first: originals, RAW files, Live Photo videos and, with `sidecars`,
    sidecars."""
    where = File.photo.in_(photo_ids) & (File.status == "present")
    if not sidecars:
        where &= File.role != "sidecar"
    query = (
        File.select(File, Root)
        .join(Root)
        .switch(File)
        .join(Photo, on=File.photo == Photo.id)
        .where(where)
        .order_by(Photo.taken_at.desc(), Photo.id.desc(), File.id)
    )
    return list(query)


def seen(viewer: Viewer, ids: list[int]) -> Any:
    """A subquery of those of these photo ids that the viewer sees."""
    return restrict(Photo.select(Photo.id).where(Photo.id.in_(ids)), viewer)


def in_album(viewer: Viewer, album_id: int) -> Any:
    """A subquery of the ids of the album's photos that the viewer sees."""
    members = AlbumPhoto.select(AlbumPhoto.photo).where(AlbumPhoto.album == album_id)
    return restrict(Photo.select(Photo.id).where(Photo.id.in_(members)), viewer)
