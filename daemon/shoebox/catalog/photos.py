"""Photos as plain dicts: the shape `shoebox photos --json` prints and the viewer's API serves;
and a photo's parts as the viewer sends them: its files, the file its renditions are made
from, the video it plays, its owner's name. Finding photos is `shoebox.catalog.search`'s job.
"""

from __future__ import annotations

import json
import os
from typing import Any

from shoebox.catalog import visibility
from shoebox.catalog.models import Account, File, Photo, Root

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


def seen_columns(viewer: visibility.Viewer, photo_id: int, *names: str) -> tuple[Any, ...] | None:
    """The photo's content hash (`thumb_hash`) and its columns of these names, if the viewer
    sees it. A few columns: building the SQL of a whole Photo row costs more than running it."""
    columns = [getattr(Photo, name) for name in names]
    query: Any = visibility.restrict(
        Photo.select(Photo.thumb_hash, *columns).where(Photo.id == photo_id), viewer
    ).tuples()
    found: list[tuple[Any, ...]] = list(query)
    return found[0] if found else None


def rendition_hashes(viewer: visibility.Viewer, ids: list[int]) -> dict[int, str]:
    """The content hash (`thumb_hash`) whose renditions show each of these photos, for those
    the viewer sees and that have (or will have) renditions; other ids are left out alike."""
    query: Any = visibility.restrict(
        Photo.select(Photo.id, Photo.thumb_hash).where(
            Photo.id.in_(ids) & Photo.thumb_hash.is_null(False)
        ),
        viewer,
    ).tuples()
    return {photo_id: content_hash for photo_id, content_hash in query}


def all_files(photo_id: int) -> list[File]:
    """All the files of a photo, whatever their status, their roots joined, oldest first."""
    return list(File.select(File, Root).join(Root).where(File.photo == photo_id).order_by(File.id))


def present_file(viewer: visibility.Viewer, file_id: int) -> File | None:
    """The file, if it is present and of a photo the viewer sees."""
    where = (File.id == file_id) & (File.status == "present") & File.photo.is_null(False)
    rows: list[File] = list(visibility.restrict(File.select().where(where), viewer, File.photo))
    return rows[0] if rows else None


def video_file(photo_id: int) -> File | None:
    """The file to play for a photo: a Live Photo's video, or a video's own file."""
    photo = Photo.get_or_none(Photo.id == photo_id) if 0 < photo_id < 2**63 else None
    if photo is None:
        return None
    present = list(
        File.select().where((File.photo == photo.id) & (File.status == "present")).order_by(File.id)
    )
    if photo.type == "live":
        for candidate in present:
            if candidate.role == "live-video":
                return candidate
    if photo.type in ("video", "live"):
        for candidate in present:
            if candidate.role == "original" and (candidate.mime or "").startswith("video/"):
                return candidate
    return None


def root_path(root_id: int) -> str:
    """Where a library root is on this server."""
    path: str = Root.get_by_id(root_id).path
    return path


def owner_name(account_id: int | None) -> str | None:
    """The name of a photo's owner (None: no owner, or one whose account is gone)."""
    owner = Account.get_or_none(Account.id == account_id) if account_id else None
    return str(owner.name) if owner else None
