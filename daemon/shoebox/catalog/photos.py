"""Photos as plain dicts: the shape `shoebox photos --json` prints and the viewer's API serves,
and the file a photo's renditions are made from. Finding photos is `shoebox.catalog.search`'s
job.
"""

from __future__ import annotations

import json
import os
from typing import Any

from shoebox.catalog.models import File, Root

# The date's source when it is only the file's time: a guess (see `shoebox.ingest.dates`).
GUESSED = "FileModifyDate"
EDITED = "edited"  # the source of what a member set by hand (`shoebox.edits`)


def format_exposure(seconds: float | None) -> str | None:
    """1/125 for short exposures, 2.5 for long ones."""
    if seconds is None or seconds <= 0:
        return None
    if seconds >= 1:
        return f"{seconds:g}"
    return f"1/{round(1 / seconds):d}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def as_dict(
    photo: Any, files: list[Any], owners: dict[int, str], shots: int | None = None
) -> dict[str, Any]:
    """One photo in the API's shape. Unknown values are None (null), never 0 or "". A file's
    `root_path` is its root's path, or None to show its path relative to the root; `owners`
    names the accounts by id; `shots`: how many photos the burst it is the cover of holds."""
    return {
        "id": photo.id,
        "type": photo.type,
        "files": [
            {
                "path": f.rel_path
                if f.root_path is None
                else os.path.join(f.root_path, f.rel_path),
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
        "taken_at_guessed": photo.taken_at_source == GUESSED,
        "timezone": photo.timezone,
        "timezone_name": photo.timezone_name,
        "lat": photo.lat,
        "lng": photo.lng,
        "altitude": photo.altitude,
        "camera_make": photo.camera_make,
        "camera_model": photo.camera_model,
        "software": photo.software,
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
        "sources": json.loads(photo.sources) if photo.sources else {},
        "favorite": photo.favorite,
        "archived": photo.archived,
        "missing": photo.missing,
        "owner": owners.get(photo.owner_id) if photo.owner_id is not None else None,
        "visibility": photo.visibility,
        "thumb_hash": photo.thumb_hash,
        "burst_of": photo.burst_of,
        "shots": shots,
    }


def rendered_from(photo_id: int, content_hash: str | None) -> Any:
    """The present file of a photo whose content (`content_hash`, the photo's `thumb_hash`)
    its renditions are made from, with its root as `.root`; None when there is none."""
    if not content_hash:
        return None
    rows = list(
        File.select(File.id, File.root, File.rel_path_raw, File.role, File.mime, File.size, Root)
        .join(Root)
        .where((File.photo == photo_id) & (File.hash == content_hash) & (File.status == "present"))
        .order_by(File.id)
        .limit(1)
    )
    return rows[0] if rows else None


def decoder_kind(row: Any) -> str:
    """How `shoebox.ingest.renditions.decode` reads the file of this row."""
    if row.role == "raw":
        return "raw"
    return "video" if (row.mime or "").startswith("video/") else "image"
