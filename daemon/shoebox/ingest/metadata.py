"""The *metadata* stage: tags read through ONE exiftool process kept open (our client in
`shoebox.ingest.exiftool`), normalised into the fields the catalog stores.

`read` opens the file (no symbolic link, a regular file only) and hands exiftool that open
file, never its name; an exiftool that dies or overruns is replaced and the file tried once
more, then the stage fails for that file. `normalise` turns exiftool's JSON (`-G -n`: family-0
group names, numeric values) into a `Meta` dict whose unknown values are None. The taken-at
time is resolved here, with the source that won recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shoebox import sidecars
from shoebox.errors import HelperError, StageError
from shoebox.ingest.exiftool import ExifTool
from shoebox.ingest.identify import open_regular

log = logging.getLogger(__name__)

Meta = dict[str, Any]


# --- normalising -------------------------------------------------------------------------

_DATE = re.compile(
    r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?"
    r"\s*(Z|[+\-]\d{2}:?\d{2})?$"
)
_NAME_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])"
    r"(?:(?: at |[-_ T.])?([01]\d|2[0-3])[-_.:h]?([0-5]\d)[-_.:m]?([0-5]\d))?(?!\d)"
)
_JUNK_TEXT = {
    "",
    "olympus digital camera",
    "sony dsc",
    "default",
    "sams ung",
    "image",
    "untitled",
    "<unknown>",
    "unknown",
    "digital camera",
    "minolta digital camera",
    "kodak digital still camera",
    "exif_pic",
}
_EARLIEST = dt.datetime(1826, 1, 1)


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
    if when < _EARLIEST or when.year > dt.datetime.now().year + 1:
        return None
    return when, _offset(zone)


def _offset(zone: str | None) -> dt.timedelta | None:
    if not zone:
        return None
    if zone == "Z":
        return dt.timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    if minutes > 14 * 60:
        return None
    return sign * dt.timedelta(minutes=minutes)


def format_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# Local wall-clock sources in priority order: (source name, date tag, offset tags).
_LOCAL_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DateTimeOriginal", "Composite:SubSecDateTimeOriginal", ()),
    ("DateTimeOriginal", "EXIF:DateTimeOriginal", ("EXIF:OffsetTimeOriginal",)),
    ("XMP:DateTimeOriginal", "XMP:DateTimeOriginal", ()),
    ("QuickTime:CreationDate", "QuickTime:CreationDate", ()),
    ("CreateDate", "Composite:SubSecCreateDate", ()),
    ("CreateDate", "EXIF:CreateDate", ("EXIF:OffsetTimeDigitized",)),
    ("XMP:CreateDate", "XMP:CreateDate", ()),
    ("XMP:DateCreated", "XMP:DateCreated", ()),
    ("IPTC:DateCreated", "Composite:DateTimeCreated", ()),
)
# Sources that are instants in UTC (QuickTime stores UTC by its specification).
_UTC_SOURCES: tuple[tuple[str, str], ...] = (
    ("QuickTime:CreateDate", "QuickTime:CreateDate"),
    ("QuickTime:MediaCreateDate", "QuickTime:MediaCreateDate"),
    ("GPSDateTime", "Composite:GPSDateTime"),
)


def resolve_taken_at(tags: dict[str, Any], name: str, mtime_ns: int) -> Meta:
    """Pick the taken-at time: embedded local dates (with their zone), then UTC instants, then
    a date in the file name, then the file's mtime. The source that won is recorded."""
    gps = parse_datetime(tags.get("Composite:GPSDateTime"))
    for source, tag, offset_tags in _LOCAL_SOURCES:
        parsed = parse_datetime(tags.get(tag))
        if parsed is None:
            continue
        local, offset = parsed
        for extra in offset_tags:
            if offset is None and isinstance(tags.get(extra), str):
                offset = _offset(tags[extra].strip())
        if offset is None and gps is not None:
            offset = _offset_from_gps(local, gps[0])
        return _taken(local, offset, source)
    for source, tag in _UTC_SOURCES:
        parsed = parse_datetime(tags.get(tag))
        if parsed is not None:
            instant = parsed[0] - (parsed[1] or dt.timedelta(0))
            return _taken(instant, None, source, utc=True)
    m = _NAME_DATE.search(name)
    if m:
        y, mo, d, h, mi, s = m.groups()
        try:
            named = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError:
            named = None
        if named is not None and _EARLIEST <= named <= dt.datetime.now():
            return _taken(named, None, "FileName")
    instant = dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.UTC).replace(tzinfo=None)
    return _taken(instant, None, "FileModifyDate", utc=True)


def _offset_from_gps(local: dt.datetime, gps_utc: dt.datetime) -> dt.timedelta | None:
    """The zone implied by a local time and the GPS clock, to the nearest quarter hour."""
    minutes = round((local - gps_utc).total_seconds() / 900) * 15
    return dt.timedelta(minutes=minutes) if abs(minutes) <= 14 * 60 else None


def _taken(
    when: dt.datetime, offset: dt.timedelta | None, source: str, *, utc: bool = False
) -> Meta:
    if utc:
        instant, local = when, when
    else:
        instant, local = when - (offset or dt.timedelta(0)), when
    return {
        "taken_at": instant.isoformat(),
        "taken_at_local": local.isoformat(),
        "timezone": format_offset(offset) if offset is not None else None,
        "taken_at_source": source,
    }


def _first(tags: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = tags.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if value.lower() in _JUNK_TEXT:
                continue
        return value
    return None


def _text(tags: dict[str, Any], *names: str) -> str | None:
    value = _first(tags, *names)
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def _number(tags: dict[str, Any], *names: str, positive: bool = True) -> float | None:
    for name in names:
        value = tags.get(name)
        if isinstance(value, str):
            value = value.split()[0] if value.split() else None
            try:
                value = float(value) if value is not None else None
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if positive and value <= 0:
            continue
        return float(value)
    return None


def _int(tags: dict[str, Any], *names: str) -> int | None:
    value = _number(tags, *names)
    return round(value) if value is not None else None


def _iso(tags: dict[str, Any]) -> int | None:
    """The ISO speed. EXIF's 16-bit ISO tag stops at 65535 (the real value is then in
    RecommendedExposureIndex or ISOSpeed); Composite:ISO is exiftool's reading of Canon maker
    notes; Nikon maker notes write the speed second ("0 200")."""
    iso = _int(tags, "EXIF:ISO", "Composite:ISO")
    if iso is not None and iso < 65535:
        return iso
    words = str(tags.get("MakerNotes:ISO", "")).split()
    nikon = int(words[-1]) if words and words[-1].isdigit() and int(words[-1]) > 0 else None
    high = _int(tags, "EXIF:RecommendedExposureIndex", "EXIF:ISOSpeed")
    return high or nikon or _int(tags, "XMP:ISO") or iso


_LENS_SPEC = re.compile(r"(\d+(?:\.\d+)?|undef|inf)( (\d+(?:\.\d+)?|undef|inf)){3}")


def _lens_name(lens: str) -> str:
    """A lens given as its numbers (Nikon maker notes, LensInfo: "18 70 3.5 4.5") in the words
    exiftool prints for it ("18-70mm f/3.5-4.5"); any other name as it is."""
    if not _LENS_SPEC.fullmatch(lens):
        return lens
    short, long, fast, slow = ("?" if w in ("undef", "inf") else w for w in lens.split())
    name = short + (f"-{long}" if long not in ("0", short) else "") + f"mm f/{fast}"
    return name + (f"-{slow}" if slow not in ("0", fast) else "")


def _keywords(tags: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name in ("XMP:Subject", "IPTC:Keywords", "XMP:TagsList", "QuickTime:Keywords"):
        value = tags.get(name)
        items: Iterable[Any] = value if isinstance(value, list) else [value]
        for item in items:
            if item is None:
                continue
            for word in str(item).split(",") if name == "QuickTime:Keywords" else [str(item)]:
                word = word.strip()
                if word and word not in found:
                    found.append(word)
    xp = tags.get("EXIF:XPKeywords")
    if isinstance(xp, str):
        for word in xp.split(";"):
            word = word.strip()
            if word and word not in found:
                found.append(word)
    return found


_ROTATION_TO_ORIENTATION = {90: 6, 180: 3, 270: 8}


def normalise(tags: dict[str, Any], path: Path, mtime_ns: int) -> Meta:
    """exiftool's tags for one file as the catalog's fields (unknown values are None)."""
    mime = _mime(tags)
    is_video = bool(mime and mime.startswith("video/"))
    meta: Meta = {"mime": mime}
    meta.update(resolve_taken_at(tags, path.name, mtime_ns))

    lat = _number(tags, "Composite:GPSLatitude", "XMP:GPSLatitude", positive=False)
    lng = _number(tags, "Composite:GPSLongitude", "XMP:GPSLongitude", positive=False)
    if (
        lat is None
        or lng is None
        or not (-90 <= lat <= 90 and -180 <= lng <= 180)
        or (abs(lat) < 1e-6 and abs(lng) < 1e-6)
    ):
        lat = lng = None
    meta["lat"], meta["lng"] = lat, lng
    meta["altitude"] = (
        _number(tags, "Composite:GPSAltitude", "XMP:GPSAltitude", positive=False)
        if lat is not None
        else None
    )

    meta["camera_make"] = _text(
        tags, "EXIF:Make", "QuickTime:Make", "XMP:Make", "QuickTime:AndroidManufacturer"
    )
    meta["camera_model"] = _text(
        tags, "EXIF:Model", "QuickTime:Model", "XMP:Model", "QuickTime:AndroidModel"
    )
    lens = _text(
        tags,
        "EXIF:LensModel",
        "XMP:LensModel",
        "XMP:Lens",
        "QuickTime:CameraLensModel",
        "MakerNotes:LensModel",
        "MakerNotes:Lens",
    )
    meta["lens_model"] = _lens_name(lens) if lens else None
    meta["iso"] = _iso(tags)
    meta["exposure_time"] = _number(tags, "EXIF:ExposureTime", "XMP:ExposureTime")
    f_number = _number(tags, "EXIF:FNumber", "Composite:Aperture", "XMP:FNumber")
    meta["f_number"] = round(f_number, 2) if f_number is not None else None  # APEX: 2.1999997
    meta["focal_length"] = _number(tags, "EXIF:FocalLength", "XMP:FocalLength")
    meta["focal_length_35mm"] = _number(
        tags, "EXIF:FocalLengthIn35mmFormat", "XMP:FocalLengthIn35mmFormat"
    )

    orientation = _int(tags, "EXIF:Orientation", "XMP:Orientation")
    if is_video:
        rotation = _int(tags, "Composite:Rotation", "QuickTime:Rotation")
        orientation = _ROTATION_TO_ORIENTATION.get(rotation or 0, 1)
    if orientation is not None and not 1 <= orientation <= 8:
        orientation = None
    meta["orientation"] = orientation
    width, height = _size(tags)
    if width and height and orientation in (5, 6, 7, 8):
        width, height = height, width
    meta["width"], meta["height"] = width, height

    meta["duration"] = (
        _number(
            tags, "QuickTime:Duration", "Composite:Duration", "RIFF:Duration", "Matroska:Duration"
        )
        if is_video
        else None
    )
    meta["codec"] = (
        _text(tags, "QuickTime:CompressorID", "RIFF:VideoCodec", "Matroska:VideoCodecID")
        if is_video
        else None
    )
    meta["fps"] = (
        _number(tags, "QuickTime:VideoFrameRate", "RIFF:VideoFrameRate", "Matroska:VideoFrameRate")
        if is_video
        else None
    )

    meta["title"] = _text(tags, "XMP:Title", "IPTC:ObjectName", "EXIF:XPTitle", "QuickTime:Title")
    meta["description"] = _text(
        tags,
        "XMP:Description",
        "IPTC:Caption-Abstract",
        "EXIF:ImageDescription",
        "QuickTime:Description",
    )
    meta["keywords"] = _keywords(tags)
    meta["artist"] = _text(
        tags, "EXIF:Artist", "XMP:Creator", "IPTC:By-line", "QuickTime:Artist", "QuickTime:Author"
    )
    meta["copyright"] = _text(
        tags, "EXIF:Copyright", "XMP:Rights", "IPTC:CopyrightNotice", "QuickTime:Copyright"
    )
    rating = _number(tags, "XMP:Rating", "EXIF:Rating", positive=False)
    meta["rating"] = int(rating) if rating is not None and rating != 0 else None
    meta["content_id"] = _text(tags, "MakerNotes:ContentIdentifier", "QuickTime:ContentIdentifier")
    meta.update(sidecars.from_tags(tags))  # favourite, archived, named face regions
    return meta


# Still-image brands of the ISO media file format that exiftool reports as MP4 video.
_IMAGE_BRANDS = {"avis": "image/avif"}  # an AVIF image sequence (animated AVIF)


def _mime(tags: dict[str, Any]) -> str | None:
    """The file's MIME type, from its content as exiftool read it."""
    brand = tags.get("QuickTime:MajorBrand")
    if isinstance(brand, str) and brand.strip() in _IMAGE_BRANDS:
        return _IMAGE_BRANDS[brand.strip()]
    return _text(tags, "File:MIMEType")


def _size(tags: dict[str, Any]) -> tuple[int | None, int | None]:
    size = tags.get("Composite:ImageSize")
    if isinstance(size, str):
        parts = size.replace("x", " ").split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return int(parts[0]), int(parts[1])
    for w, h in (
        ("File:ImageWidth", "File:ImageHeight"),
        ("EXIF:ExifImageWidth", "EXIF:ExifImageHeight"),
        ("QuickTime:ImageWidth", "QuickTime:ImageHeight"),
        ("RIFF:ImageWidth", "RIFF:ImageHeight"),
        ("PNG:ImageWidth", "PNG:ImageHeight"),
        ("GIF:ImageWidth", "GIF:ImageHeight"),
    ):
        width, height = _int(tags, w), _int(tags, h)
        if width and height:
            return width, height
    return None, None


def read(tool: ExifTool, path: bytes, mtime_ns: int, what: str) -> Meta:
    """Run the stage for one file (`what` names it in logs). A file exiftool cannot make sense
    of, or that kills exiftool twice, raises StageError; `Stopped` passes through."""
    try:
        fd, _ = open_regular(path)
    except OSError as exc:
        raise StageError("metadata", f"cannot read the file ({exc.strerror or exc})") from exc
    extension = os.fsdecode(os.path.splitext(path)[1]).lower()
    try:
        try:
            tags = tool.read(fd, extension, what)
        except HelperError as first:
            if first.kind == "start":
                raise StageError("metadata", str(first)) from first
            log.info("%s: %s; trying again with a new exiftool", what, first)
            try:
                tags = tool.read(fd, extension, what)
            except HelperError as exc:
                raise StageError("metadata", f"{exc}, twice") from exc
    finally:
        os.close(fd)
    error = tags.get("ExifTool:Error")
    if error:
        raise StageError("metadata", str(error))
    return normalise(tags, Path(os.fsdecode(path)), mtime_ns)


def fallback(rel: bytes, mtime_ns: int) -> Meta:
    """What is known of a file exiftool could not read: a date from its name or its mtime."""
    meta: Meta = {"mime": None, "keywords": []}
    meta.update(resolve_taken_at({}, os.path.basename(os.fsdecode(rel)), mtime_ns))
    return meta
