"""The likeness stage: each photo's difference hash and sharpness (`shoebox.ingest.likeness`),
read from its preview rendition, and the bursts they make.

A burst is photos from one camera taken at most `BURST_SECONDS` apart (one after another, so
a long burst chains) whose hashes differ by at most `BURST_BITS`; the sharpest is its cover
(`Photo.burst_of` holds the cover's id on every member, the cover's own id included). A photo
that arrives later joins and may become the cover. Always on: it needs only Pillow and numpy,
and the rendition is already on disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from shoebox.catalog.cache import PREVIEW, rendition_path
from shoebox.catalog.likeness import distance
from shoebox.catalog.models import Photo
from shoebox.ingest.likeness import measure

BURST_SECONDS = 3
BURST_BITS = 12
_MEASURED = 256  # the preview is decoded in draft mode at about this size: plenty for both


class LikenessStage:
    """Difference hash, sharpness and bursts for photos with renditions (videos aside)."""

    name = "likeness"
    version = 1

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def wants(self) -> Any:
        return Photo.thumb_hash.is_null(False) & (Photo.type != "video")

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        failures: dict[int, str] = {}
        measured = []
        for photo in photos:
            path = rendition_path(self.cache, photo.thumb_hash, PREVIEW)
            try:
                with Image.open(path) as im:
                    im.draft("L", (_MEASURED, _MEASURED))
                    seen = measure(im)
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
                failures[photo.id] = f"its preview cannot be read: {exc}"
                continue
            Photo.update(dhash=seen.dhash, sharpness=seen.sharpness).where(
                Photo.id == photo.id
            ).execute()
            measured.append(photo.id)
        done: set[int] = set()
        for photo_id in measured:
            if photo_id not in done:
                done |= regroup(photo_id)
        return failures

    def close(self) -> None:
        pass


_FIELDS = (Photo.id, Photo.taken_at, Photo.camera_make, Photo.camera_model, Photo.dhash)


def _near_in_time(moment: dt.datetime) -> list[Any]:
    span = dt.timedelta(seconds=BURST_SECONDS)
    return list(
        Photo.select(*_FIELDS, Photo.sharpness, Photo.burst_of).where(
            Photo.taken_at.between(moment - span, moment + span),
            Photo.dhash.is_null(False),
            Photo.missing == False,  # noqa: E712
            Photo.type != "video",
        )
    )


def regroup(photo_id: int) -> set[int]:
    """Find the burst `photo_id` is in and write its cover on every member; the ids of the
    photos looked at (a burst of one is no burst: its `burst_of` is cleared)."""
    start: Any = Photo.select(*_FIELDS).where(Photo.id == photo_id).get()  # dhash: written
    members = {start.id: start}
    todo = [start]
    while todo:
        here = todo.pop()
        for other in _near_in_time(here.taken_at):
            if other.id in members:
                continue
            same_camera = (other.camera_make, other.camera_model) == (
                here.camera_make,
                here.camera_model,
            )
            if same_camera and distance(other.dhash, here.dhash) <= BURST_BITS:
                members[other.id] = other
                todo.append(other)
    rows = list(Photo.select(Photo.id, Photo.sharpness).where(Photo.id.in_(list(members))))
    if len(rows) < 2:
        Photo.update(burst_of=None).where(Photo.id == photo_id).execute()
        return {photo_id}
    cover = max(rows, key=lambda r: (r.sharpness or 0.0, -r.id))
    Photo.update(burst_of=cover.id).where(Photo.id.in_(list(members))).execute()
    return set(members)
