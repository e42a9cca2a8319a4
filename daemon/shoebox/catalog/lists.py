"""The lists of photos the viewer's pages walk that nobody types as a search: an album's, a
person's, one photo, and none at all. Each is a `search.Query`, so that a grid pages it and a
photo page finds previous and next in it like in any search, for one viewer.
"""

from __future__ import annotations

from typing import Any

from shoebox.catalog import people, search, visibility
from shoebox.catalog.models import AlbumPhoto, Photo


def album(album_id: int, viewer: visibility.Viewer) -> search.Query:
    """The album's photos that the viewer sees, archived ones too (someone chose to put them
    there)."""
    members = AlbumPhoto.select(AlbumPhoto.photo).where(AlbumPhoto.album == album_id)
    return search.Query(
        text=f"album:{album_id}",
        filters=Photo.id.in_(members),
        archived_given=True,
        viewer=viewer,
    )


def person(person_id: int, name: str | None, viewer: visibility.Viewer) -> search.Query:
    """The photos showing this person (named `name`, None when unnamed) that the viewer sees."""
    return search.Query(
        text=f"person:{name}" if name else "",
        filters=Photo.id.in_(people.photos_of(person_id)),
        selective=True,
        viewer=viewer,
    )


def nothing() -> search.Query:
    """The query of no photos (the top of the folders view lists only folders)."""
    return search.Query(text="", filters=Photo.id < 0)


def photo(photo_id: int, viewer: visibility.Viewer) -> dict[str, Any] | None:
    """One photo in the API's shape, archived and missing ones too, if the viewer sees it."""
    query = search.Query(text="", filters=Photo.id == photo_id, everything=True, viewer=viewer)
    found = search.page(query, total=False).items
    return found[0] if found else None
