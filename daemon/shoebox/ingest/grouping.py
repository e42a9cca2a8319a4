"""The *grouping* stage: which photo a file belongs to, and what that photo then shows.

- byte-identical files (same hash) are one photo with several files;
- a Live Photo's still and video (same ContentIdentifier, else the same base name in one
  folder and a clip of at most a few seconds) are one photo of type `live`;
- a RAW file and a JPEG/HEIC with the same base name in one folder are one photo (a stack);
- a sidecar (`.xmp`, `.aae`, `.json`) joins the photo with its base name.

A photo's fields are merged from its files: the primary file's values first (a JPEG or HEIC
over a RAW over a video), gaps filled from the others, and what a person wrote into an XMP
sidecar (title, description, keywords, rating, ...) over all of them; the favourite and
archive flags that shoebox writes into sidecars (`shoebox.sidecars`) come back from them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from shoebox.catalog import outbox, text, visibility
from shoebox.catalog.models import Enriched, File, Photo, utcnow

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


def attach(f: File) -> bool:
    """Give a present file without a photo its photo: the photo of a file it belongs with, or
    a new one. Returns True when a new photo was made (already filled in from `f`)."""
    related = list(_related(f))
    same_stem = [o for o in related if o.root_id == f.root_id and o.stem_key == f.stem_key]
    orphans = [o for o in same_stem if o.role == "sidecar" and o.photo_id is None]
    placed = [o for o in related if o.photo_id is not None]
    if f.role == "sidecar":
        owner = next((o for o in same_stem if o.photo_id and o.role != "sidecar"), None)
        f.photo_id = owner.photo_id if owner else None
        return False
    twin = next((o for o in placed if o.hash == f.hash), None)
    partner = twin or _partner(f, placed, same_stem)
    created = partner is None
    if partner is None:
        f.photo = new_photo([f, *orphans])
    else:
        f.photo_id = partner.photo_id
        if is_video(f) and twin is None:
            f.role = "live-video"
        elif is_video(partner) and partner.role == "original" and is_still(f):
            partner.role = "live-video"
            partner.save()
    if orphans:  # sidecars that arrived before their photo
        File.update(photo=f.photo).where(File.id.in_([o.id for o in orphans])).execute()
    return created


def _related(f: File) -> Any:
    """In one query: present files with the same content, the same base name in the same
    folder, or the same Live Photo identifier."""
    related = (File.hash == f.hash) | ((File.root == f.root_id) & (File.stem_key == f.stem_key))
    if f.content_id:
        related |= File.content_id == f.content_id
    query = File.select().where(related, File.status == "present")
    if f.id is not None:
        query = query.where(File.id != f.id)
    return query.order_by(File.id)


def _partner(f: File, placed: list[File], same_stem: list[File]) -> File | None:
    """The file whose photo this one joins as the other half of a Live Photo or a stack."""
    siblings = [o for o in placed if o in same_stem and o.role in MEDIA_ROLES]
    if is_video(f) or is_still(f):
        content_id = f.content_id
        by_id = [o for o in placed if content_id and o.content_id == content_id]
        for other in by_id + siblings:
            same_id = bool(content_id) and other.content_id == content_id
            if is_video(f) and is_still(other) and (same_id or _short(meta_of(f))):
                return other
            if is_still(f) and is_video(other) and (same_id or _short(meta_of(other))):
                return other
        if is_still(f):
            return next((o for o in siblings if o.role == "raw"), None)
        return None
    # a RAW file joins a JPEG/HEIC of the same name
    return next((o for o in siblings if is_still(o)), None)


def _short(meta: dict[str, Any]) -> bool:
    duration = meta.get("duration")
    return duration is not None and duration <= LIVE_VIDEO_MAX_SECONDS


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
    return rank, f.id or 0


def new_photo(files: list[File]) -> Photo:
    """A new photo made of these files, owned by the account whose upload folder holds the
    first of them (see `shoebox.catalog.visibility`)."""
    photo = Photo()
    photo.owner_id, photo.visibility = visibility.owner_for(files[0].root_id, files[0].rel_path)
    _fill(photo, files)
    photo.save()
    text.store(photo, [f.rel_path for f in files])
    return photo


def refresh(photo: Photo) -> None:
    """Recompute a photo's type, fields and thumbnail from the files it holds now. When its
    position or its picture changed, the later stages (places, faces, labels) run again."""
    before = (photo.lat, photo.lng, photo.thumb_hash)
    files = list(File.select().where(File.photo == photo))
    _fill(photo, files)
    photo.save()
    text.store(photo, [f.rel_path for f in files])
    if (photo.lat, photo.lng, photo.thumb_hash) != before:
        Enriched.delete().where(Enriched.photo == photo.id).execute()


def _fill(photo: Photo, files: list[File]) -> None:
    present = [f for f in files if f.status == "present"]
    media = sorted((f for f in present if f.role in MEDIA_ROLES), key=_priority)
    photo.updated_at = utcnow()
    photo.missing = not media
    if not media:
        return
    primary = media[0]
    merged = meta_of(primary)
    for other in media[1:]:
        for name, value in meta_of(other).items():
            if merged.get(name) in (None, []):
                merged[name] = value
    keywords = list(merged.get("keywords") or [])
    flags: dict[str, bool] = {}
    for sidecar in (f for f in present if f.role == "sidecar"):
        extra = meta_of(sidecar)
        for name in ("favorite", "archived"):
            if extra.get(name) is not None:
                flags.setdefault(name, bool(extra[name]))
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
    # The family's flags from a sidecar shoebox wrote (a rebuilt catalog), unless the catalog
    # changed them since: then the photo waits on the to-write list and the file is old.
    if flags and (photo.id is None or not outbox.pending("photo", [photo.id])):
        for name, value in flags.items():
            setattr(photo, name, value)
    taken = _datetime(merged.get("taken_at")) or photo.taken_at or utcnow()
    photo.taken_at = taken
    photo.taken_at_local = _datetime(merged.get("taken_at_local")) or taken
    photo.taken_at_source = merged.get("taken_at_source") or "FileModifyDate"
    photo.year, photo.month = photo.taken_at_local.year, photo.taken_at_local.month
    photo.type = _type(primary, media, merged)
    rendered = [f for f in media if f.rendered]
    photo.thumb_hash = rendered[0].hash if rendered else None


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
