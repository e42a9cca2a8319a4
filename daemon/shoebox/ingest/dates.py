"""When a photo was taken: every date that its files, sidecars and names give (a *clock*),
the order in which they are trusted, and the zone that turns a wall-clock time into an instant.

The sources of the date, most trusted first (`taken_at_source` names the one that won):

    sidecar                     a date in an XMP sidecar that differs from the file's: an edit
    DateTimeOriginal            EXIF, with its sub-seconds and OffsetTimeOriginal
    XMP:DateTimeOriginal
    MakerNotes:DateTimeOriginal a camera's own notes (trail cameras)
    QuickTime:CreationDate      Apple's com.apple.quicktime.creationdate (with its offset)
    QuickTime:DateTimeOriginal  a phone's or camera's ©day atom
    QuickTime:ContentCreateDate
    CreateDate                  EXIF's digitised date, then XMP's and IPTC's created dates
    XMP:CreateDate
    XMP:DateCreated
    IPTC:DateCreated
    RIFF:DateTimeOriginal       an AVI's date
    PNG:CreationTime
    GPSDateTime                 the GPS clock (UTC)
    QuickTime:CreateDate        the movie header (UTC by the QuickTime specification)
    QuickTime:MediaCreateDate
    Takeout                     photoTakenTime of a Google Takeout JSON beside the file (UTC)
    FileName                    IMG_20230715_101500.jpg, WhatsApp Image 2023-07-15 at ...
    FileModifyDate              the file's time: a guess (`GUESSED`)

A wall-clock time gets its zone (`zone_source`) from, in this order: its own offset (`offset`:
in the date, or an OffsetTime tag); the photo's GPS position (`position`: the IANA zone there
and the offset in force at that moment, see `zones`); the difference from a UTC clock of the
same shot (the source's name, e.g. `GPSDateTime`: to the quarter hour, when it is within
five minutes of one); else none, and the wall clock is stored as if it were UTC. An instant
(a UTC source) gets its wall-clock time from the position's zone, else from a dated file name
of the same shot, else it stays in UTC. An edited date (`sidecar`) without an offset of its
own keeps the camera's offset, else takes the position's zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from shoebox.catalog.photos import GUESSED as GUESSED
from shoebox.ingest import zones

Meta = dict[str, Any]

SIDECAR = "sidecar"
TAKEOUT = "Takeout"
FILE_NAME = "FileName"

# Wall-clock sources: (source, tag, offset tags), in the order of trust.
_LOCAL_TAGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DateTimeOriginal", "Composite:SubSecDateTimeOriginal", ()),
    ("DateTimeOriginal", "EXIF:DateTimeOriginal", ("EXIF:OffsetTimeOriginal",)),
    ("XMP:DateTimeOriginal", "XMP:DateTimeOriginal", ()),
    ("MakerNotes:DateTimeOriginal", "MakerNotes:DateTimeOriginal", ()),
    ("QuickTime:CreationDate", "QuickTime:CreationDate", ()),
    ("QuickTime:DateTimeOriginal", "QuickTime:DateTimeOriginal", ()),
    ("QuickTime:ContentCreateDate", "QuickTime:ContentCreateDate", ()),
    ("CreateDate", "Composite:SubSecCreateDate", ()),
    ("CreateDate", "EXIF:CreateDate", ("EXIF:OffsetTimeDigitized",)),
    ("XMP:CreateDate", "XMP:CreateDate", ()),
    ("XMP:DateCreated", "XMP:DateCreated", ()),
    ("IPTC:DateCreated", "Composite:DateTimeCreated", ()),
    ("RIFF:DateTimeOriginal", "RIFF:DateTimeOriginal", ()),
    ("PNG:CreationTime", "PNG:CreationTime", ()),
)
# Sources that are instants in UTC.
_UTC_TAGS: tuple[tuple[str, str], ...] = (
    ("GPSDateTime", "Composite:GPSDateTime"),
    ("QuickTime:CreateDate", "QuickTime:CreateDate"),
    ("QuickTime:MediaCreateDate", "QuickTime:MediaCreateDate"),
)
ORDER: tuple[str, ...] = (
    SIDECAR,
    *dict.fromkeys(source for source, _, _ in _LOCAL_TAGS),
    *(source for source, _ in _UTC_TAGS),
    TAKEOUT,
    FILE_NAME,
    GUESSED,
)
_RANK = {source: rank for rank, source in enumerate(ORDER)}
_UTC = {source for source, _ in _UTC_TAGS} | {TAKEOUT, GUESSED}

_DATE = re.compile(
    r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?"
    r"\s*(Z|[+\-]\d{2}:?\d{2})?$"
)
# A date in a file name: 20230715, 2023-07-15, 2023_07_15, with a time after it or not
# (101500, 10-15-00, " at 10.15.00", "10.15.00 PM") and milliseconds (PXL_..._101500123).
_NAME_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])"
    r"(?:(?: at |[-_ T.])?([01]\d|2[0-3])[-_.:h]?([0-5]\d)[-_.:m]?([0-5]\d)(\d{3})?"
    r"(?: ?([AaPp][Mm])(?![A-Za-z]))?)?(?!\d)"
)
_EARLIEST = dt.datetime(1826, 1, 1)  # before the first photograph: not a date
_MAX_OFFSET = dt.timedelta(hours=14)
_QUARTER = 15 * 60
_CLOCK_SLACK = 5 * 60  # a UTC clock this near a quarter hour off the wall clock gives a zone
_SAME = dt.timedelta(seconds=1)  # a sidecar's date this near the file's is the same date


@dataclass(frozen=True)
class Clock:
    """One source's date: a wall-clock time (with its offset when the source gives one) or,
    when `utc`, an instant in UTC."""

    source: str
    at: dt.datetime
    offset: dt.timedelta | None = None
    utc: bool = False

    @property
    def rank(self) -> int:
        return _RANK.get(self.source, len(ORDER))

    def as_json(self) -> list[Any]:
        zone = format_offset(self.offset) if self.offset is not None else None
        return [self.source, self.at.isoformat(), zone, self.utc]

    @classmethod
    def from_json(cls, value: Any) -> Clock | None:
        try:
            source, at, zone, utc = value
            return cls(str(source), dt.datetime.fromisoformat(at), parse_offset(zone), bool(utc))
        except (TypeError, ValueError):
            return None


def parse_datetime(value: Any) -> tuple[dt.datetime, dt.timedelta | None] | None:
    """exiftool's "YYYY:MM:DD HH:MM:SS[.fff][±HH:MM|Z]" as (naive wall clock, offset or None).
    Zero dates, impossible dates and dates before photography are None."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    except ValueError:
        return None
    if frac:
        when = when.replace(microsecond=round(float(frac) * 1_000_000) % 1_000_000)
    if not _plausible(when):
        return None
    return when, parse_offset(zone)


def parse_offset(zone: Any) -> dt.timedelta | None:
    """ "+02:00", "-0530" or "Z" as an offset; None for anything else."""
    if not isinstance(zone, str):
        return None
    zone = zone.strip()
    if zone == "Z":
        return dt.timedelta(0)
    m = re.fullmatch(r"([+\-])(\d{2}):?(\d{2})", zone)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 14 * 60:
        return None
    return (-1 if m.group(1) == "-" else 1) * dt.timedelta(minutes=minutes)


def format_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _plausible(when: dt.datetime) -> bool:
    return when >= _EARLIEST and when.year <= dt.datetime.now().year + 1


def from_name(name: str) -> Clock | None:
    """The date in a file name, as a wall-clock time (midnight when it gives only a day)."""
    m = _NAME_DATE.search(name)
    if not m:
        return None
    y, mo, d, h, mi, s, _millis, half = m.groups()
    hour = int(h or 0)
    if half and 1 <= hour <= 12:
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    try:
        named = dt.datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if not _EARLIEST <= named <= dt.datetime.now():
        return None
    return Clock(FILE_NAME, named)


def from_mtime(mtime_ns: int) -> Clock:
    instant = dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.UTC).replace(tzinfo=None)
    return Clock(GUESSED, instant, utc=True)


def from_timestamp(source: str, seconds: Any) -> Clock | None:
    """A Unix time (a number, or digits in a string) as an instant, if it is a plausible date."""
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds.strip())
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    try:
        instant = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    return Clock(source, instant, utc=True) if _plausible(instant) else None


def from_tags(tags: dict[str, Any]) -> list[Clock]:
    """Every date a file's tags give, one per source, in the order of trust."""
    found: dict[str, Clock] = {}
    for source, tag, offset_tags in _LOCAL_TAGS:
        parsed = parse_datetime(tags.get(tag))
        if source in found or parsed is None:
            continue
        local, offset = parsed
        for extra in offset_tags:
            offset = offset if offset is not None else parse_offset(tags.get(extra))
        found[source] = Clock(source, local, offset)
    for source, tag in _UTC_TAGS:
        parsed = parse_datetime(tags.get(tag))
        if parsed is not None:
            instant = parsed[0] - (parsed[1] or dt.timedelta(0))
            found[source] = Clock(source, instant, utc=True)
    return sorted(found.values(), key=lambda c: c.rank)


def clocks_of(meta: Meta) -> list[Clock]:
    """The clocks a file's stored metadata holds (also from a catalog made before they were
    kept: then the one date it stored, as its source gave it)."""
    if "clocks" in meta:
        return [c for c in map(Clock.from_json, meta.get("clocks") or []) if c is not None]
    source, local = meta.get("taken_at_source"), meta.get("taken_at_local")
    if not isinstance(source, str) or not isinstance(local, str):
        return []
    try:
        at = dt.datetime.fromisoformat(local)
    except ValueError:
        return []
    return [Clock(source, at, parse_offset(meta.get("timezone")), source in _UTC)]


def edited(sidecar: list[Clock], chosen: Clock, settled: Meta) -> Clock | None:
    """The date of an XMP sidecar, when it is an edit of the photo's date: its most trusted
    embedded date, if it differs from the photo's wall clock by a second or more. Without an
    offset of its own it keeps the offset the camera gave (not one derived from a position or
    a clock: the time was moved)."""
    mine = [c for c in sidecar if not c.utc and c.rank < _RANK[TAKEOUT]]
    if not mine:
        return None
    best = mine[0]
    local = dt.datetime.fromisoformat(settled["taken_at_local"])
    if abs(best.at.replace(microsecond=0) - local.replace(microsecond=0)) < _SAME:
        return None
    offset = best.offset
    if offset is None and settled.get("zone_source") == "offset" and not chosen.utc:
        offset = chosen.offset
    return Clock(SIDECAR, best.at, offset)


def best(clocks: list[Clock]) -> Clock:
    return min(clocks, key=lambda c: c.rank)


def settle(clocks: list[Clock], lat: float | None, lng: float | None) -> Meta:
    """The photo's date from its clocks (at least one) and its position: the most trusted
    clock, placed in its zone (see the module). Returns the catalog's date fields."""
    chosen = best(clocks)
    zone_name = zones.name_at(lat, lng) if lat is not None and lng is not None else None
    if chosen.utc:
        instant, offset, zone_source = chosen.at, None, None
        if zone_name is not None:
            offset = zones.offset_of_instant(zone_name, instant)
            zone_source = "position" if offset is not None else None
        if offset is None:
            named = [c for c in clocks if c.source == FILE_NAME and c.at.time() != dt.time(0)]
            offset = _difference(named[0].at, instant) if named else None
            zone_source = FILE_NAME if offset is not None else None
        local = instant + offset if offset is not None else instant
    else:
        local, offset, zone_source = chosen.at, chosen.offset, None
        if offset is not None:
            zone_source = "offset"
        elif zone_name is not None:
            offset = zones.offset_of_local(zone_name, local)
            zone_source = "position" if offset is not None else None
        if offset is None and chosen.source != SIDECAR:
            for clock in clocks:
                if clock.utc and clock.source != GUESSED:
                    offset = _difference(local, clock.at)
                    if offset is not None:
                        zone_source = clock.source
                        break
        instant = local - offset if offset is not None else local
    # The position's zone is kept only where it agrees with the offset the photo has.
    if (
        zone_name is not None
        and zone_source != "position"
        and (offset is None or zones.offset_of_instant(zone_name, instant) != offset)
    ):
        zone_name = None
    return {
        "taken_at": instant.isoformat(),
        "taken_at_local": local.isoformat(),
        "timezone": format_offset(offset) if offset is not None else None,
        "timezone_name": zone_name if offset is not None else None,
        "taken_at_source": chosen.source,
        "zone_source": zone_source,
    }


def _difference(local: dt.datetime, instant: dt.datetime) -> dt.timedelta | None:
    """The zone a wall clock and a UTC clock of the same moment imply, to the quarter hour,
    when they are that close to one (a GPS fix hours old gives none)."""
    seconds = (local - instant).total_seconds()
    quarters = round(seconds / _QUARTER)
    if abs(seconds - quarters * _QUARTER) > _CLOCK_SLACK:
        return None
    offset = dt.timedelta(seconds=quarters * _QUARTER)
    return offset if abs(offset) <= _MAX_OFFSET else None
