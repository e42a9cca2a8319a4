"""Several photos as one zip, streamed while it is built: the answer that the members' zips
(`zips.py`: a selection, an album) and a share link's "Download all" (`shares.py`) send.

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
from typing import TYPE_CHECKING, Any

import bottle
import zipstream

from shoebox_viewer.http import content_disposition
from shoebox_viewer.media import file_path

if TYPE_CHECKING:  # the rows `shoebox.catalog.selection.files_of` reads
    from shoebox.catalog.models import File

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
