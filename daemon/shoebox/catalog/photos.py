"""Reading photos out of the catalog as plain dicts: the shape `shoebox photos --json` prints
and the viewer's API serves.

A query is words and `key:value` filters, all of which must match:
`type:video`, `year:2023`, `month:7`, `camera:iphone`, `lens:50mm`, `keyword:beach`,
`path:holiday/`, `missing:yes`; a bare word matches title, description, keywords, camera,
artist or file path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from peewee import fn

from shoebox.catalog.models import File, Photo, Root
from shoebox.errors import UsageError

_CHUNK = 500
_FILTERS = ("type", "year", "month", "camera", "lens", "keyword", "path", "missing")


def _contains(field: Any, word: str) -> Any:
    return fn.LOWER(field).contains(word.lower())


def _file_path_matches(word: str) -> Any:
    return Photo.id.in_(File.select(File.photo).where(_contains(File.rel_path, word)))


def parse_query(text: str) -> Any:
    """A Peewee WHERE expression for the query, or None when it asks for everything."""
    clauses = []
    for term in text.split():
        key, sep, value = term.partition(":")
        if sep and key.lower() in _FILTERS and value:
            key = key.lower()
            if key == "type":
                clauses.append(Photo.type == value.lower())
            elif key in ("year", "month"):
                if not value.isdigit():
                    raise UsageError(f"query: {key}: wants a number, not {value!r}")
                clauses.append(getattr(Photo, key) == int(value))
            elif key == "camera":
                clauses.append(
                    _contains(Photo.camera_make, value) | _contains(Photo.camera_model, value)
                )
            elif key == "lens":
                clauses.append(_contains(Photo.lens_model, value))
            elif key == "keyword":
                clauses.append(_contains(Photo.keywords, value))
            elif key == "path":
                clauses.append(_file_path_matches(value))
            else:
                clauses.append(Photo.missing == (value.lower() in ("yes", "true", "1")))
            continue
        clauses.append(
            _contains(Photo.title, term)
            | _contains(Photo.description, term)
            | _contains(Photo.keywords, term)
            | _contains(Photo.camera_make, term)
            | _contains(Photo.camera_model, term)
            | _contains(Photo.artist, term)
            | _file_path_matches(term)
        )
    if not clauses:
        return None
    where = clauses[0]
    for clause in clauses[1:]:
        where &= clause
    return where


def search(text: str = "") -> Iterator[dict[str, Any]]:
    """Every photo matching the query, newest first, as dicts."""
    query = Photo.select().order_by(Photo.taken_at.desc(), Photo.id.desc())
    where = parse_query(text)
    if where is not None:
        query = query.where(where)
    chunk: list[Any] = []
    for photo in query.iterator():
        chunk.append(photo)
        if len(chunk) >= _CHUNK:
            yield from _with_files(chunk)
            chunk = []
    if chunk:
        yield from _with_files(chunk)


def _with_files(photos: list[Any]) -> Iterator[dict[str, Any]]:
    files: dict[int, list[Any]] = {}
    query = (
        File.select(File, Root.path)
        .join(Root)
        .where(File.photo.in_([p.id for p in photos]))
        .order_by(File.id)
    )
    for f in query:
        files.setdefault(f.photo_id or 0, []).append(f)
    for photo in photos:
        yield as_dict(photo, files.get(photo.id, []))


def format_exposure(seconds: float | None) -> str | None:
    """1/125 for short exposures, 2.5 for long ones."""
    if seconds is None or seconds <= 0:
        return None
    if seconds >= 1:
        return f"{seconds:g}"
    return f"1/{round(1 / seconds):d}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def as_dict(photo: Any, files: list[Any]) -> dict[str, Any]:
    """One photo in the API's shape. Unknown values are None (null), never 0 or ""."""
    return {
        "id": photo.id,
        "type": photo.type,
        "files": [
            {
                "path": os.path.join(f.root.path, f.rel_path),
                "size": f.size,
                "mime": f.mime,
                "hash": f.hash,
                "role": f.role,
                "status": f.status,
            }
            for f in files
        ],
        "taken_at": f"{photo.taken_at.isoformat()}Z",
        "taken_at_local": _iso(photo.taken_at_local),
        "taken_at_source": photo.taken_at_source,
        "timezone": photo.timezone,
        "lat": photo.lat,
        "lng": photo.lng,
        "altitude": photo.altitude,
        "camera_make": photo.camera_make,
        "camera_model": photo.camera_model,
        "lens_model": photo.lens_model,
        "iso": photo.iso,
        "exposure": format_exposure(photo.exposure_time),
        "f_number": photo.f_number,
        "focal_length": photo.focal_length,
        "focal_length_35mm": photo.focal_length_35mm,
        "width": photo.width,
        "height": photo.height,
        "orientation": photo.orientation,
        "duration": photo.duration,
        "codec": photo.codec,
        "fps": photo.fps,
        "title": photo.title,
        "description": photo.description,
        "keywords": json.loads(photo.keywords) if photo.keywords else [],
        "artist": photo.artist,
        "copyright": photo.copyright,
        "rating": photo.rating,
        "content_id": photo.content_id,
        "favorite": photo.favorite,
        "archived": photo.archived,
        "missing": photo.missing,
        "thumb_hash": photo.thumb_hash,
    }
