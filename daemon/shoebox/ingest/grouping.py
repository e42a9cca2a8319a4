"""The *grouping* stage: which photo a file belongs to, and what that photo then shows.

- byte-identical files (same hash) are one photo with several files;
- a Live Photo's still and video (same ContentIdentifier, else the same base name in one
  folder and a clip of at most a few seconds) are one photo of type `live`;
- a RAW file and a JPEG/HEIC with the same base name in one folder are one photo (a stack);
- a sidecar (`.xmp`, `.aae`, `.json`) joins the photo with its base name (a Google Takeout
  JSON also under the names Takeout gives it, see `takeout`).

A photo's fields are merged from its files, in the order of trust that the README's "Dates and
places" gives: what a person wrote into an XMP sidecar (title, description, keywords, rating,
place, a changed date) over everything; then the primary file's values (a JPEG or HEIC over a
RAW over a video), gaps filled from the other files; then what a Google Takeout JSON says
fills what is still missing. The date is settled last, from every clock the files give and
the photo's position (see `dates`); `Photo.sources` says where each field came from. The
favourite and archive flags that shoebox writes into sidecars (`shoebox.sidecars`) come back
from them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from shoebox import edits
from shoebox.catalog import outbox, pending, text, visibility
from shoebox.catalog.models import Enriched, File, Photo, PhotoEdit, utcnow
from shoebox.ingest import dates, limits, scan, takeout

MEDIA_ROLES = ("original", "raw", "live-video")
LIVE_VIDEO_MAX_SECONDS = 6.0

# What a person edits in an XMP sidecar wins over what the camera wrote (a sidecar's date
# too, when it differs from the file's: `dates.edited`); its other values fill gaps.
_SIDECAR_WINS = ("title", "description", "rating", "artist", "copyright")
_PLACE = ("lat", "lng", "altitude")
# The sources a sidecar may mark as edited by hand (the date is settled apart).
_EDITABLE = tuple(name for name in edits.FIELDS if name != "date")
# What a Takeout JSON may fill in (its date is one more clock).
_TAKEOUT_FILLS = ("description",)
_PHOTO_FIELDS = (
    "taken_at_source", "timezone", "timezone_name", "lat", "lng", "altitude", "camera_make",
    "camera_model", "software", "lens_model", "iso", "exposure_time", "f_number", "focal_length",
    "focal_length_35mm", "width", "height", "orientation", "duration", "codec", "fps", "title",
    "description", "artist", "copyright", "rating", "content_id",
)  # fmt: skip
# The key in `sources` of each field that has one.
_SOURCE_OF = {"lat": "place", "camera_make": "camera", "software": "software", "title": "title",
              "description": "description", "keywords": "keywords", "rating": "rating"}  # fmt: skip


Meta = dict[str, Any]


def meta_of(f: File) -> dict[str, Any]:
    return dict(json.loads(f.meta)) if f.meta else {}


def is_video(f: File) -> bool:
    return bool(f.mime and f.mime.startswith("video/"))


def is_still(f: File) -> bool:
    return f.role in ("original", "live-video") and not is_video(f)


def attach(f: File) -> bool:
    """Give a present file without a photo its photo: the photo of a file it belongs with, or
    a new one. Returns True when a new photo was made (already filled in from `f`)."""
    cut_key = scan.cut_stem_key(bytes(f.rel_path_raw)) if f.role != "sidecar" else None
    related = list(_related(f, cut_key))
    same_stem = [o for o in related if o.root_id == f.root_id and o.stem_key == f.stem_key]
    orphans = [
        o
        for o in related
        if o.root_id == f.root_id
        and o.stem_key in (f.stem_key, cut_key)
        and o.role == "sidecar"
        and o.photo_id is None
    ]
    placed = [o for o in related if o.photo_id is not None]
    if f.role == "sidecar":
        owner = next((o for o in same_stem if o.photo_id and o.role != "sidecar"), None)
        owner = owner or _owner_of_cut_json(f)
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


def _related(f: File, cut_key: str | None) -> Any:
    """In one query: present files with the same content, the same base name in the same
    folder (or, for a photo with a long name, the key its Takeout JSON has), or the same
    Live Photo identifier."""
    stems = [f.stem_key, cut_key] if cut_key else [f.stem_key]
    related = (File.hash == f.hash) | ((File.root == f.root_id) & File.stem_key.in_(stems))
    if f.content_id:
        related |= File.content_id == f.content_id
    query = File.select().where(related, File.status == "present")
    if f.id is not None:
        query = query.where(File.id != f.id)
    return query.order_by(File.id)


def _owner_of_cut_json(f: File) -> File | None:
    """The photo file that a Takeout JSON whose name was cut inside the photo's name belongs
    to: a file of its folder whose name starts with what is left, and whose own `cut_stem_key`
    is the JSON's key. (Found by the path's start, a scan of the root's files: only for such
    a JSON that arrives after its photo.)"""
    rel = bytes(f.rel_path_raw)
    folder, name = os.path.split(rel)
    stem = takeout.media_stem(os.fsdecode(os.path.splitext(name)[0]))
    if not takeout.looks_cut(stem):
        return None
    start = scan.display(os.path.join(folder, os.fsencode(stem[: takeout.NAME_LIMIT])))
    candidates = File.select().where(
        File.root == f.root_id,
        File.rel_path.startswith(start),
        File.status == "present",
        File.role != "sidecar",
        File.photo.is_null(False),
    )
    for other in candidates.order_by(File.id):
        if scan.cut_stem_key(bytes(other.rel_path_raw)) == f.stem_key:
            return other
    return None


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
    merged, sources, clocks = _merge_media(media)
    sidecars = [meta_of(f) for f in present if f.role == "sidecar"]
    for extra in (m for m in sidecars if m.get("takeout")):
        _fill_from_takeout(merged, sources, clocks, extra)
    flags: dict[str, bool] = {}
    for extra in (m for m in sidecars if not m.get("takeout")):
        for name in ("favorite", "archived"):
            if extra.get(name) is not None:
                flags.setdefault(name, bool(extra[name]))
        _take_from_sidecar(merged, sources, extra)
    settled = _settle(photo, clocks, merged, sidecars)
    marked = {name for extra in sidecars for name in extra.get("edited") or ()}
    if "date" in marked and settled["taken_at_source"] == dates.SIDECAR:
        settled["taken_at_source"] = edits.EDITED  # a hand edit, from a rebuilt catalog
    merged.update(settled)
    sources["taken_at"], sources["zone"] = settled["taken_at_source"], settled["zone_source"]
    if settled["taken_at_source"] == edits.EDITED:
        sources["zone"] = edits.EDITED
    for name in _EDITABLE:
        if name in marked and sources.get(name) == dates.SIDECAR:
            sources[name] = edits.EDITED
    for name in _PHOTO_FIELDS:
        setattr(photo, name, merged.get(name))
    keywords = limits.keywords(merged.get("keywords") or [])
    photo.keywords = json.dumps(keywords, ensure_ascii=False) if keywords else None
    # The family's flags from a sidecar shoebox wrote (a rebuilt catalog), unless the catalog
    # changed them since: then the photo waits on the to-write list and the file is old.
    if flags and (photo.id is None or not outbox.pending("photo", [photo.id])):
        for name, value in flags.items():
            setattr(photo, name, value)
    photo.sources = json.dumps({k: v for k, v in sources.items() if v}, sort_keys=True)
    photo.taken_at = dt.datetime.fromisoformat(settled["taken_at"])
    photo.taken_at_local = dt.datetime.fromisoformat(settled["taken_at_local"])
    photo.year, photo.month = photo.taken_at_local.year, photo.taken_at_local.month
    photo.type = _type(primary, media, merged)
    edit = PhotoEdit.get_or_none(PhotoEdit.photo == photo.id) if photo.id is not None else None
    if edit is not None:  # what a member set by hand wins over every file
        edits.settle(photo, edit)
    # Shown by a file rendered, or still to be (the viewer shows a stand-in until its tile exists).
    shown = [f for f in media if f.rendered or pending.waits(f)]
    photo.thumb_hash = shown[0].hash if shown else None


def _merge_media(
    media: list[File],
) -> tuple[dict[str, Any], dict[str, Any], list[dates.Clock]]:
    """The primary file's values, gaps filled from the other files (a field's source goes
    with its value); and every date the files give, once per source, the primary's first."""
    merged: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    clocks: dict[str, dates.Clock] = {}
    for f in media:
        meta = meta_of(f)
        given = meta.get("sources") or {}
        for name, value in meta.items():
            if merged.get(name) in (None, []) and value not in (None, []):
                merged[name] = value
                if name in _SOURCE_OF:
                    sources[_SOURCE_OF[name]] = given.get(_SOURCE_OF[name])
        for clock in dates.clocks_of(meta):
            clocks.setdefault(clock.source, clock)
    if merged.get("lat") is None:
        merged.update(lat=None, lng=None, altitude=None)
    return merged, sources, list(clocks.values())


def _fill_from_takeout(
    merged: dict[str, Any], sources: dict[str, Any], clocks: list[dates.Clock], extra: Meta
) -> None:
    """A Google Takeout JSON fills what the files lack: the place, the caption; its date
    is one more clock, trusted below the files' own dates."""
    if merged.get("lat") is None and extra.get("lat") is not None:
        merged.update({name: extra.get(name) for name in _PLACE})
        sources["place"] = dates.TAKEOUT
    for name in _TAKEOUT_FILLS:
        if merged.get(name) is None and extra.get(name) is not None:
            merged[name] = extra[name]
            sources[_SOURCE_OF[name]] = dates.TAKEOUT
    known = {c.source for c in clocks}
    clocks += [c for c in dates.clocks_of(extra) if c.source not in known]


def _take_from_sidecar(merged: dict[str, Any], sources: dict[str, Any], extra: Meta) -> None:
    """What a person set in an XMP sidecar wins: title, description, rating, credits, the
    place, and its keywords (they replace the file's: they are the edited list); its other
    values only fill gaps."""
    for name in _SIDECAR_WINS:
        if extra.get(name) is not None:
            merged[name] = extra[name]
            if name in _SOURCE_OF:
                sources[_SOURCE_OF[name]] = dates.SIDECAR
    if extra.get("lat") is not None:
        merged.update({name: extra.get(name) for name in _PLACE})
        sources["place"] = dates.SIDECAR
    if extra.get("keywords"):
        merged["keywords"] = extra["keywords"]
        sources["keywords"] = dates.SIDECAR
    for name, value in extra.items():
        if name in _PHOTO_FIELDS and merged.get(name) is None and value is not None:
            merged[name] = value
            if name in _SOURCE_OF:
                sources[_SOURCE_OF[name]] = dates.SIDECAR


def _settle(
    photo: Photo, clocks: list[dates.Clock], merged: dict[str, Any], sidecars: list[Meta]
) -> Meta:
    """The photo's date: the most trusted of its files' clocks in the zone of its position;
    then a date changed in an XMP sidecar over it."""
    if not clocks:  # nothing read yet (a catalog older than clocks): keep what it has
        clocks = [dates.Clock(dates.GUESSED, photo.taken_at or utcnow(), utc=True)]
    lat, lng = merged.get("lat"), merged.get("lng")
    settled = dates.settle(clocks, lat, lng)
    chosen = dates.best(clocks)
    for extra in sidecars:
        if extra.get("takeout"):
            continue
        edit = dates.edited(dates.clocks_of(extra), chosen, settled)
        if edit is not None:
            return dates.settle([edit, *clocks], lat, lng)
    return settled


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
