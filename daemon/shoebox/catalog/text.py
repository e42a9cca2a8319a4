"""The text a bare search word looks through, one lower-case column a photo (`PhotoText`):
its title, description, keywords, camera, artist and file paths. Reading one narrow column is
several times faster than six columns of `photo` and the whole `file` table (measured in
bench/viewer.py). Kept up to date by the ingest's grouping whenever a photo is made or
refreshed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from shoebox.catalog.models import File, Photo, PhotoText

_CHUNK = 1000
_LISTED = 20000  # matches of a word passed on as a list of ids


def words_of(photo: Any, rel_paths: Iterable[str]) -> str:
    keywords = json.loads(photo.keywords) if photo.keywords else []
    parts = [
        photo.title, photo.description, " ".join(keywords), photo.camera_make,
        photo.camera_model, photo.artist, *rel_paths,
    ]  # fmt: skip
    return "\n".join(part for part in parts if part).lower()


def store(photo: Any, rel_paths: Iterable[str]) -> None:
    """Write a photo's text (its row is replaced)."""
    text = words_of(photo, rel_paths)
    PhotoText.delete().where(PhotoText.photo == photo.id).execute()
    PhotoText.insert(photo=photo.id, text=text).execute()


def matching(word: str) -> Any:
    """The ids of photos whose text holds `word` (any case): read now, as a list, when there
    are at most `_LISTED` of them, else a subquery. Given the subquery, MariaDB walks every
    photo and looks up its text (300 ms at 100,000 photos); one scan of the text table and a
    list of ids takes a tenth of that."""
    select = PhotoText.select(PhotoText.photo).where(PhotoText.text.contains(word.lower()))
    query: Any = select.limit(_LISTED + 1).tuples()
    ids = [photo_id for (photo_id,) in query]
    return ids if len(ids) <= _LISTED else select


def rebuild() -> int:
    """Every photo's text, from scratch (for a catalog made before the table existed)."""
    PhotoText.delete().execute()
    done, last = 0, 0
    while True:
        columns = (Photo.id, Photo.title, Photo.description, Photo.keywords, Photo.camera_make,
                   Photo.camera_model, Photo.artist)  # fmt: skip
        photos = list(
            Photo.select(*columns).where(Photo.id > last).order_by(Photo.id).limit(_CHUNK)
        )
        if not photos:
            return done
        paths: dict[int, list[str]] = {}
        files: Any = (
            File.select(File.photo, File.rel_path)
            .where(File.photo.in_([p.id for p in photos]))
            .tuples()
        )
        for photo_id, rel_path in files:
            paths.setdefault(photo_id, []).append(rel_path)
        PhotoText.insert_many(
            [{"photo": p.id, "text": words_of(p, paths.get(p.id, []))} for p in photos]
        ).execute()
        done += len(photos)
        last = photos[-1].id
