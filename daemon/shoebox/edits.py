"""Hand edits: what a member sets on photos that no file knows, or knows wrong. A date and time
with its zone, or a shift of the dates (a camera whose clock was off); a place, typed by name
(`shoebox.placenames`) or given as a position; a title, a description, keywords.

An edit is a `PhotoEdit` row: each field set there wins over every file and sidecar (the
grouping puts it over the files' values each time it fills a photo, so a full re-index keeps
it). The photo's own fields change at once, with `edited` as their source; the photo goes on
the to-write list (`shoebox.catalog.outbox`), and the daemon writes the edited fields into
the photo's XMP sidecar (`shoebox.sidecars`, with `[library] write_sidecars`), never into the
original. A catalog rebuilt from the library reads them back from there, still as `edited`.

Members edit the photos they see; viewer-role accounts edit nothing (the viewer's `change`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from shoebox import placenames
from shoebox.catalog import albums, outbox, text, visibility
from shoebox.catalog.models import Enriched, File, Photo, PhotoEdit, utcnow
from shoebox.catalog.photos import EDITED as EDITED
from shoebox.errors import NotFound, UsageError
from shoebox.ingest import dates, limits, zones

FIELDS = ("date", "place", "title", "description", "keywords")  # as the sidecar lists them
MAX_SHIFT = dt.timedelta(days=365 * 200)
_FIELDS = {"ids", "date", "zone", "shift", "place", "title", "description", "keywords"}
_SHIFT = re.compile(r"([+-])\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?")
_POSITION = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*")


@dataclass(frozen=True)
class Change:
    """One edit asked for, the same for each photo it is applied to; None: unchanged."""

    local: dt.datetime | None = None  # a new wall-clock time
    zone: str | None = None  # an IANA name or an offset: of `local`, or the photo's time
    shift: dt.timedelta | None = None  # moves each photo's time by this much
    place: placenames.Named | None = None
    title: str | None = None
    description: str | None = None
    keywords: list[str] | None = None


def parse(body: dict[str, Any]) -> tuple[list[int], Change]:
    """The photo ids and the change of a request's JSON body (UsageError says what is wrong):
    `date` ("2023-07-15T10:15"), `zone` ("Europe/Paris", "+02:00"), `shift` ("+1d 2h",
    "-30m"), `place` ("Paris, France" or "48.85, 2.35"), `title`, `description`, `keywords`
    (a list, or words separated by commas)."""
    unknown = set(body) - _FIELDS
    if unknown:
        raise UsageError(f"unknown field {sorted(unknown)[0]!r}; send {', '.join(sorted(_FIELDS))}")
    ids = albums.photo_ids(body.get("ids"), "ids")
    if not ids:
        raise UsageError("ids: the photos to edit")
    if body.get("date") and body.get("shift"):
        raise UsageError("send a date or a shift, not both")
    change = Change(
        local=_local(body["date"]) if body.get("date") else None,
        zone=_zone(body["zone"]) if body.get("zone") else None,
        shift=_shift(body["shift"]) if body.get("shift") else None,
        place=_place(body["place"]) if body.get("place") else None,
        title=_text(body, "title", limits.TITLE),
        description=_text(body, "description", limits.TITLE),
        keywords=_keywords(body["keywords"]) if "keywords" in body else None,
    )
    if change == Change():
        raise UsageError("nothing to change: send a date, zone, shift, place, title, ...")
    return ids, change


def apply(viewer: visibility.Viewer, ids: list[int], change: Change, by: int | None) -> list[int]:
    """Edit these photos, all of which the viewer must see (NotFound names one it does not,
    and then nothing changes). Returns the ids."""
    photos = {p.id: p for p in visibility.restrict(Photo.select().where(Photo.id.in_(ids)), viewer)}
    for photo_id in ids:
        if photo_id not in photos:
            raise NotFound(f"no photo {photo_id}")
    with Photo._meta.database.atomic():
        for photo_id in ids:
            photo = photos[photo_id]
            edit = PhotoEdit.get_or_none(PhotoEdit.photo == photo_id) or PhotoEdit(photo=photo_id)
            moved = _edit(edit, photo, change)
            edit.edited_by_id, edit.edited_at = by, utcnow()
            edit.save()
            settle(photo, edit)
            photo.updated_at = utcnow()
            photo.save()
            paths: Any = File.select(File.rel_path).where(File.photo == photo_id).tuples()
            text.store(photo, [row[0] for row in paths])
            if moved:  # its place is looked up again by the places stage
                Enriched.delete().where(Enriched.photo == photo_id).execute()
        outbox.mark("photo", ids)
    return ids


def settle(photo: Any, edit: Any) -> None:
    """Put an edit's fields over a photo's (after its files' values)."""
    sources = json.loads(photo.sources or "{}")
    if edit.lat is not None and edit.lng is not None:
        photo.lat, photo.lng, photo.altitude = edit.lat, edit.lng, None
        sources["place"] = EDITED
    if edit.taken_at_local is not None:
        local = edit.taken_at_local
        offset, name = _offset(edit.zone, local, photo)
        photo.taken_at_local = local
        photo.taken_at = local - offset if offset is not None else local
        photo.timezone = dates.format_offset(offset) if offset is not None else None
        photo.timezone_name = name
        photo.taken_at_source = EDITED
        photo.year, photo.month = local.year, local.month
        sources["taken_at"] = sources["zone"] = EDITED
    for name in ("title", "description"):
        value = getattr(edit, name)
        if value is not None:
            setattr(photo, name, value or None)
            sources[name] = EDITED
    if edit.keywords is not None:
        kept = json.loads(edit.keywords)
        photo.keywords = json.dumps(kept, ensure_ascii=False) if kept else None
        sources["keywords"] = EDITED
    photo.sources = json.dumps(sources, sort_keys=True)


def edited_fields(edit: Any) -> list[str]:
    """The names (of `FIELDS`) an edit sets, as its sidecar lists them."""
    found = {
        "date": edit.taken_at_local is not None,
        "place": edit.lat is not None,
        "title": edit.title is not None,
        "description": edit.description is not None,
        "keywords": edit.keywords is not None,
    }
    return [name for name in FIELDS if found[name]]


def _edit(edit: Any, photo: Any, change: Change) -> bool:
    """Write a change into a photo's edit row; whether its place moved."""
    zone_now = edit.zone or photo.timezone_name or photo.timezone
    if change.shift is not None:
        edit.taken_at_local = _shifted(edit.taken_at_local or photo.taken_at_local, change.shift)
        edit.zone = change.zone or zone_now
    elif change.local is not None:
        edit.taken_at_local, edit.zone = change.local, change.zone or zone_now
    elif change.zone is not None:
        edit.taken_at_local, edit.zone = edit.taken_at_local or photo.taken_at_local, change.zone
    moved = False
    if change.place is not None:
        moved = (edit.lat, edit.lng) != (change.place.lat, change.place.lng)
        edit.lat, edit.lng, edit.place_name = change.place.lat, change.place.lng, change.place.name
    for name in ("title", "description"):
        if getattr(change, name) is not None:
            setattr(edit, name, getattr(change, name))
    if change.keywords is not None:
        edit.keywords = json.dumps(change.keywords, ensure_ascii=False)
    return moved


def _offset(
    zone: str | None, local: dt.datetime, photo: Any
) -> tuple[dt.timedelta | None, str | None]:
    """The offset of an edited wall clock, and the IANA name when the zone is one: the edit's
    zone, else the zone of the photo's position; None when neither is known."""
    if zone is not None:
        offset = dates.parse_offset(zone)
        if offset is not None:
            return offset, None
        return zones.offset_of_local(zone, local), zone
    if photo.lat is not None and photo.lng is not None:
        name = zones.name_at(photo.lat, photo.lng)
        if name is not None:
            return zones.offset_of_local(name, local), name
    return None, None


def _shifted(local: dt.datetime, shift: dt.timedelta) -> dt.datetime:
    try:
        return local + shift
    except OverflowError:
        raise UsageError("shift: that moves a date out of the calendar") from None


def _local(value: Any) -> dt.datetime:
    try:
        local = dt.datetime.fromisoformat(str(value)[:40])
    except ValueError:
        raise UsageError(
            f"date: a date and time such as 2023-07-15T10:15, not {str(value)[:40]!r}"
        ) from None
    if local.tzinfo is not None:
        raise UsageError("date: give the wall-clock time, and its zone as zone")
    if not 1800 <= local.year <= 2200:
        raise UsageError("date: a year between 1800 and 2200")
    return local


def _zone(value: Any) -> str:
    zone = str(value).strip()[:64]
    named = ("/" in zone or zone == "UTC") and zones.zone(zone) is not None
    if named or dates.parse_offset(zone) is not None:
        return zone
    raise UsageError(
        f"zone: an IANA zone such as Europe/Paris, or an offset such as +02:00, not {zone!r}"
    )


def _shift(value: Any) -> dt.timedelta:
    match = _SHIFT.fullmatch(str(value).strip()[:40])
    if match is None or not any(match.groups()[1:]):
        raise UsageError(f"shift: an amount such as +1d 2h or -30m, not {str(value)[:40]!r}")
    sign, days, hours, minutes, seconds = match.groups()
    amount = dt.timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    if amount > MAX_SHIFT:
        raise UsageError("shift: at most 200 years")
    return -amount if sign == "-" else amount


def _place(value: Any) -> placenames.Named:
    position = _POSITION.fullmatch(str(value))
    if position is None:
        return placenames.find(str(value))
    lat, lng = float(position[1]), float(position[2])
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise UsageError("place: a latitude from -90 to 90 and a longitude from -180 to 180")
    return placenames.Named(f"{lat:.5f}, {lng:.5f}", lat, lng)


def _text(body: dict[str, Any], name: str, most: int) -> str | None:
    if name not in body or body[name] is None:
        return None
    if not isinstance(body[name], str):
        raise UsageError(f"{name} must be text")
    return limits.text(body[name], most) or ""


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError("keywords: a list of words, or words separated by commas")
    return limits.keywords(value)
