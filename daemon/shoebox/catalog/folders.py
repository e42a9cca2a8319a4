"""The library's folders as the viewer's Folders view lists them.

`children` names the folders right inside one folder (of any root) and counts the photos
below each, as the folder's own grid (`folder:"PATH"`) would: a photo once however many of
its files are there (a RAW and its JPEG, a Live Photo's still and video), and only the photos
the timeline shows the viewer (not archived, not missing, a burst by its cover). The database
groups and counts: the rows read are one per folder, not one per file.

Folder names are compared exactly (MariaDB's collations would fold case and accents, making
`Lisbon` and `lisbon` one folder).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from peewee import fn

from shoebox.catalog import search, visibility
from shoebox.catalog.models import File, Photo


class Folder(NamedTuple):
    path: str  # relative to its library root, "2024/Lisbon"
    name: str  # the last part, "Lisbon"
    photos: int  # the photos with a file below it


def children(folder: str, viewer: visibility.Viewer) -> list[Folder]:
    """The folders right inside `folder` ("" for the top of every root) holding photos that
    `viewer` sees, by name (case aside)."""
    prefix = folder + "/" if folder else ""
    rest = fn.SUBSTR(File.rel_path, len(prefix) + 1)  # SQL counts from 1
    slash = fn.INSTR(rest, "/")
    name = search.exact(fn.SUBSTR(rest, 1, slash - 1))
    select = (
        File.select(name, fn.COUNT(File.photo.distinct()))
        .join(Photo, on=File.photo == Photo.id)
        .where(
            (File.status == "present") & (slash > 1) & search.parse("", viewer=viewer).scan_where
        )
        .group_by(name)
    )
    if prefix:
        select = select.where(search.exact(fn.SUBSTR(File.rel_path, 1, len(prefix))) == prefix)
    rows: list[Any] = list(select.tuples())
    found = [Folder(prefix + str(n), str(n), int(count)) for n, count in rows]
    return sorted(found, key=lambda f: (f.name.lower(), f.name))
