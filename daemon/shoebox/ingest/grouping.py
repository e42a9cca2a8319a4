"""The *grouping* stage: which photo a file belongs to, and what that photo then shows.

- byte-identical files (same hash) are one photo with several files;
- a Live Photo's still and video (same ContentIdentifier, else the same base name in one
  folder and a clip of at most a few seconds) are one photo of type `live`;
- a RAW file and a JPEG/HEIC with the same base name in one folder are one photo (a stack);
- a sidecar (`.xmp`, `.aae`, `.json`) joins the photo with its base name.

A photo's fields are merged from its files: the primary file's values first (a JPEG or HEIC
over a RAW over a video), gaps filled from the others, and what a person wrote into an XMP
sidecar (title, description, keywords, rating, ...) over all of them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from shoebox.catalog.models import File, Photo, utcnow

MEDIA_ROLES = ("original", "raw", "live-video")
LIVE_VIDEO_MAX_SECONDS = 6.0

# What a person edits in a sidecar wins over what the camera wrote.
_SIDECAR_WINS = ("title", "description", "rating", "artist", "copyright", "lat", "lng", "altitude")
_GUESSED_DATES = ("FileModifyDate", "FileName")
_PHOTO_FIELDS = (
    "taken_at_source", "timezone", "lat", "lng", "altitude", "camera_make", "camera_model",
    "lens_model", "iso", "exposure_time", "f_number", "focal_length", "focal_length_35mm",
    "width", "height", "orientation", "duration", "codec", "fps", "title", "description",
    "artist", "copyright", "rating", "content_id",
)  # fmt: skip


def meta_of(f: File) -> dict[str, Any]:
    return dict(json.loads(f.meta)) if f.meta else {}


def is_video(f: File) -> bool:
    return bool(f.mime and f.mime.startswith("video/"))


def is_still(f: File) -> bool:
    return f.role in ("original", "live-video") and not is_video(f)


def attach(f: File) -> None:
    """Give a present file that has no photo yet its photo, making one if none fits."""
    if f.role == "sidecar":
        owner = _siblings(f).where(File.role != "sidecar").order_by(File.id).first()
        f.photo = owner.photo if owner else None
        f.save()
        return
    twin = (
        File.select()
        .where(File.hash == f.hash, File.id != f.id, File.photo.is_null(False))
        .where(File.status == "present")
        .order_by(File.id)
        .first()
    )
    partner = twin or _partner(f)
    if partner is not None:
        f.photo = partner.photo
        if is_video(f) and twin is None:
            f.role = "live-video"
        elif is_video(partner) and partner.role == "original" and is_still(f):
            partner.role = "live-video"
            partner.save()
    else:
        f.photo = Photo.create(**_placeholder(f))
    f.save()
    # Sidecars that arrived before their photo.
    File.update(photo=f.photo).where(
        File.root == f.root,
        File.stem_key == f.stem_key,
        File.role == "sidecar",
        File.photo.is_null(),
    ).execute()


def _siblings(f: File) -> Any:
    return File.select().where(
        File.root == f.root,
        File.stem_key == f.stem_key,
        File.id != f.id,
        File.status == "present",
        File.photo.is_null(False),
    )


def _partner(f: File) -> File | None:
    """The file whose photo this one joins as the other half of a Live Photo or a stack."""
    mine = meta_of(f)
    if is_video(f) or is_still(f):
        candidates: list[File] = []
        content_id = f.content_id
        if content_id:
            candidates.extend(
                File.select().where(
                    File.content_id == content_id,
                    File.id != f.id,
                    File.status == "present",
                    File.photo.is_null(False),
                )
            )
        candidates.extend(_siblings(f).where(File.role.in_(MEDIA_ROLES)))
        for other in candidates:
            same_id = bool(content_id) and other.content_id == content_id
            if is_video(f) and is_still(other) and (same_id or _short(mine)):
                return other
            if is_still(f) and is_video(other) and (same_id or _short(meta_of(other))):
                return other
        if is_still(f):
            raw: File | None = _siblings(f).where(File.role == "raw").order_by(File.id).first()
            return raw
        return None
    # a RAW file joins a JPEG/HEIC of the same name
    return next((o for o in _siblings(f).order_by(File.id) if is_still(o)), None)


def _short(meta: dict[str, Any]) -> bool:
    duration = meta.get("duration")
    return duration is not None and duration <= LIVE_VIDEO_MAX_SECONDS


def _placeholder(f: File) -> dict[str, Any]:
    meta = meta_of(f)
    taken = _datetime(meta.get("taken_at")) or utcnow()
    return {
        "type": "image",
        "taken_at": taken,
        "taken_at_local": _datetime(meta.get("taken_at_local")) or taken,
        "taken_at_source": meta.get("taken_at_source") or "FileModifyDate",
        "year": taken.year,
        "month": taken.month,
    }


def _datetime(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _priority(f: File) -> tuple[int, int]:
    if is_still(f) and f.role == "original":
        rank = 0
    elif f.role == "raw":
        rank = 1
    elif f.role == "original":
        rank = 2  # a video
    else:
        rank = 3  # the video half of a Live Photo
    return rank, f.id


def refresh(photo: Photo) -> None:
    """Recompute a photo's type, fields and thumbnail from the files it holds now."""
    files = list(File.select().where(File.photo == photo))
    present = [f for f in files if f.status == "present"]
    media = sorted((f for f in present if f.role in MEDIA_ROLES), key=_priority)
    photo.updated_at = utcnow()
    if not media:
        photo.missing = True
        photo.save()
        return
    photo.missing = False
    primary = media[0]
    merged = meta_of(primary)
    for other in media[1:]:
        for name, value in meta_of(other).items():
            if merged.get(name) in (None, []):
                merged[name] = value
    keywords = list(merged.get("keywords") or [])
    for sidecar in (f for f in present if f.role == "sidecar"):
        extra = meta_of(sidecar)
        for name in _SIDECAR_WINS:
            if extra.get(name) is not None:
                merged[name] = extra[name]
        # A sidecar's date stands in only for a guessed one (from the file name or mtime).
        sidecar_source = extra.get("taken_at_source")
        if merged.get("taken_at_source") in _GUESSED_DATES and sidecar_source not in (
            None,
            *_GUESSED_DATES,
        ):
            for name in ("taken_at", "taken_at_local", "timezone", "taken_at_source"):
                merged[name] = extra.get(name)
        keywords += [k for k in extra.get("keywords") or [] if k not in keywords]
    for name in _PHOTO_FIELDS:
        setattr(photo, name, merged.get(name))
    photo.keywords = json.dumps(keywords, ensure_ascii=False) if keywords else None
    taken = _datetime(merged.get("taken_at")) or photo.taken_at
    photo.taken_at = taken
    photo.taken_at_local = _datetime(merged.get("taken_at_local")) or taken
    photo.taken_at_source = merged.get("taken_at_source") or photo.taken_at_source
    photo.year, photo.month = photo.taken_at_local.year, photo.taken_at_local.month
    photo.type = _type(primary, media, merged)
    rendered = [f for f in media if f.rendered]
    photo.thumb_hash = rendered[0].hash if rendered else None
    photo.save()


def _type(primary: File, media: list[File], merged: dict[str, Any]) -> str:
    if is_still(primary) and any(f.role == "live-video" for f in media):
        return "live"
    if is_video(primary):
        return "video"
    if merged.get("animated"):
        return "animated"
    if any(f.role == "raw" for f in media):
        return "raw"
    return "image"
