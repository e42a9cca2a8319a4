"""Several photos as one zip, streamed while it is built: `/zip?ids=1,2,3` (a selection),
`/album/<id>/zip`, and (in shares.py) `/s/<token>/zip` for a link that allows downloads.

zipstream-ng writes the archive chunk by chunk as the client reads it: no temp file, memory
flat whatever the size. Every entry is stored as it is (JPEGs, HEIC and videos do not shrink),
which also makes the archive's size known before the first byte: Content-Length, so that a
browser shows the download's progress. Files come from catalog rows (`media.file_path`), never
from a URL; a file that vanished since it was indexed is left out.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

import bottle
import zipstream

from shoebox.catalog import albums, selection
from shoebox.catalog.models import File
from shoebox.errors import UsageError
from shoebox_viewer import access
from shoebox_viewer.context import Context
from shoebox_viewer.http import content_disposition
from shoebox_viewer.media import file_path

log = logging.getLogger("shoebox.viewer")

CHUNK = 1024 * 1024  # bytes handed to the server at a time


def names(files: Iterable[File], *, folders: bool) -> Iterator[tuple[File, str]]:
    """Each file with its name in the zip: its path under its root (`folders`) or its base name
    (visitors see no paths), made unique with " (2)", " (3)", ..."""
    taken: set[str] = set()
    for f in files:
        name = f.rel_path if folders else posixpath.basename(f.rel_path)
        name = name.lstrip("/") or f"file-{f.id}"
        stem, ext = posixpath.splitext(name)
        n = 1
        while name.lower() in taken:
            n += 1
            name = f"{stem} ({n}){ext}"
        taken.add(name.lower())
        yield f, name


def response(files: list[File], title: str, *, folders: bool) -> bottle.HTTPResponse:
    """The zip of these files, named `title`.zip, as a streamed answer with its length."""
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for found, name in names(files, folders=folders):
        try:
            path = file_path(found)
        except bottle.HTTPError:
            continue  # a path that would climb out of its root: never served
        try:
            archive.add_path(os.fsdecode(path), name, recurse=False)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            log.warning("left out of a zip: %s (%s)", os.fsdecode(path), exc)
    headers = {
        "Content-Type": "application/zip",
        "Content-Disposition": content_disposition(f"{title}.zip"),
        "Content-Length": str(len(archive)),
        "Cache-Control": "private, no-store",
    }
    return bottle.HTTPResponse(_chunks(archive), 200, headers)


def _chunks(archive: Any) -> Iterator[bytes]:
    """The archive in chunks of about CHUNK bytes (zipstream-ng yields many small pieces)."""
    held: list[bytes] = []
    size = 0
    for piece in archive:
        held.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(held)
            held, size = [], 0
    if held:
        yield b"".join(held)


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The members' zips: a selection and an album, of the photos the member sees."""

    @app.get("/zip")
    @access.browse
    def selection_zip() -> bottle.HTTPResponse:
        raw = bottle.request.query.get("ids") or ""
        parts = raw.split(",")
        if not raw or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
            raise UsageError("ids: wants photo numbers separated by commas, such as 12,15,40")
        ids = albums.photo_ids([int(p) for p in parts], "ids")
        found = selection.files_of(selection.seen(access.who().sees, ids))
        return response(found, "shoebox photos", folders=True)

    @app.get("/album/<album_id:int>/zip")
    @access.browse
    def album_zip(album_id: int) -> bottle.HTTPResponse:
        found = albums.get(album_id)
        if found is None:
            raise bottle.HTTPError(404, "not found")
        files = selection.files_of(selection.in_album(access.who().sees, album_id))
        return response(files, found.title or "album", folders=True)
