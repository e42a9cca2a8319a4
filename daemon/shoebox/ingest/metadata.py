"""The *metadata* stage: tags read through ONE exiftool process kept open (our client in
`shoebox.ingest.exiftool`), normalised into the fields the catalog stores.

`read` opens the file (no symbolic link, a regular file only) and hands exiftool that open
file, never its name; an exiftool that dies or overruns is replaced and the file tried once
more, then the stage fails for that file. `normalise` turns exiftool's JSON (`-G -n`: family-0
group names, numeric values) into a `Meta` dict whose unknown values are None. The taken-at
time is resolved here, with the source that won recorded.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shoebox import sidecars
from shoebox.errors import HelperError, StageError
from shoebox.ingest import dates, limits, takeout
from shoebox.ingest.exiftool import ExifTool
from shoebox.ingest.identify import SIDECAR_EXTENSIONS, open_regular

log = logging.getLogger(__name__)

Meta = dict[str, Any]


# --- normalising -------------------------------------------------------------------------

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


def resolve_taken_at(tags: dict[str, Any], name: str, mtime_ns: int) -> Meta:
    """A media file's date from its tags, its name and its mtime, in the order `dates`
    documents, placed in the zone of the file's own position. Its clocks are kept too, so
    that the photo's date can be settled again with its sidecars (see `grouping`)."""
    clocks = _clocks(tags, name, mtime_ns, media=True)
    return {"clocks": [c.as_json() for c in clocks], **dates.settle(clocks, *_position(tags))}


def _clocks(tags: dict[str, Any], name: str, mtime_ns: int, *, media: bool) -> list[dates.Clock]:
    """Every date the file gives; its name and time only for a photo or video, not a sidecar."""
    clocks = dates.from_tags(tags)
    if media:
        named = dates.from_name(name)
        clocks += [named] if named else []
        clocks.append(dates.from_mtime(mtime_ns))
    return clocks


def _first(tags: dict[str, Any], *names: str) -> tuple[Any, str | None]:
    """The first of these tags with a value, and its name."""
    for name in names:
        value = tags.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if value.lower() in _JUNK_TEXT:
                continue
        return value, name
    return None, None


def _text(tags: dict[str, Any], *names: str) -> str | None:
    return _text_from(tags, *names)[0]


def _text_from(tags: dict[str, Any], *names: str) -> tuple[str | None, str | None]:
    """The first of these tags with a text, as one string, and the group it came from."""
    value, name = _first(tags, *names)
    if value is None:
        return None, None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value).strip()
    return (text, _group(name)) if text else (None, None)


def _group(tag: str | None) -> str | None:
    return tag.split(":", 1)[0] if tag else None


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
        if not math.isfinite(value) or abs(value) >= 2**31:  # no column holds these
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
    value = high or nikon or _int(tags, "XMP:ISO") or iso
    return value if value is None or value < 2**31 else None


_LENS_SPEC = re.compile(r"(\d+(?:\.\d+)?|undef|inf)( (\d+(?:\.\d+)?|undef|inf)){3}")


def _lens_name(lens: str) -> str:
    """A lens given as its numbers (Nikon maker notes, LensInfo: "18 70 3.5 4.5") in the words
    exiftool prints for it ("18-70mm f/3.5-4.5"); any other name as it is."""
    if not _LENS_SPEC.fullmatch(lens):
        return lens
    short, long, fast, slow = ("?" if w in ("undef", "inf") else w for w in lens.split())
    name = short + (f"-{long}" if long not in ("0", short) else "") + f"mm f/{fast}"
    return name + (f"-{slow}" if slow not in ("0", fast) else "")


_KEYWORD_TAGS = ("XMP:Subject", "IPTC:Keywords", "XMP:TagsList", "QuickTime:Keywords")


def _keywords(tags: dict[str, Any]) -> tuple[list[str], str | None]:
    """The keywords (at most `limits.KEYWORDS`) and the group of the first tag that had any."""
    found: list[str] = []
    group = None
    for name in _KEYWORD_TAGS:
        value = tags.get(name)
        items: Iterable[Any] = value if isinstance(value, list) else [value]
        for item in items:
            if item is None:
                continue
            for word in str(item).split(",") if name == "QuickTime:Keywords" else [str(item)]:
                found.append(word)
                group = group or _group(name)
    xp = tags.get("EXIF:XPKeywords")
    if isinstance(xp, str):
        found += xp.split(";")
        group = group or "EXIF"
    kept = limits.keywords(found)
    return kept, group if kept else None


def _fold_languages(tags: dict[str, Any]) -> dict[str, Any]:
    """QuickTime text in a language other than the default comes as `Tag-lang-COUNTRY`
    (`QuickTime:CameraLensModel-und-DE`): the plain name stands for it when it is missing."""
    folded = dict(tags)
    for key, value in tags.items():
        if key.startswith("QuickTime:") and "-" in key:
            folded.setdefault(key.split("-", 1)[0], value)
    return folded


def _position(tags: dict[str, Any]) -> tuple[float | None, float | None]:
    lat = _number(tags, "Composite:GPSLatitude", "XMP:GPSLatitude", positive=False)
    lng = _number(tags, "Composite:GPSLongitude", "XMP:GPSLongitude", positive=False)
    if (
        lat is None
        or lng is None
        or not (-90 <= lat <= 90 and -180 <= lng <= 180)
        or (abs(lat) < 1e-6 and abs(lng) < 1e-6)
    ):
        return None, None
    return lat, lng


def _place_source(tags: dict[str, Any]) -> str:
    """Where the position came from: EXIF's GPS tags, a movie's atoms (Apple's ISO 6709
    location, ©xyz, 3GPP loci) or XMP."""
    if any(k.startswith("EXIF:GPSLatitude") for k in tags):
        return "EXIF"
    if "QuickTime:GPSCoordinates" in tags or "QuickTime:LocationInformation" in tags:
        return "QuickTime"
    return "XMP"


def _software(tags: dict[str, Any]) -> tuple[str | None, str | None]:
    software, group = _text_from(
        tags, "EXIF:Software", "XMP:CreatorTool", "QuickTime:Software", "QuickTime:SoftwareVersion"
    )
    android = _text(tags, "QuickTime:AndroidVersion")
    if software is None and android is not None:
        return f"Android {android}", "QuickTime"
    return software, group


_ROTATION_TO_ORIENTATION = {90: 6, 180: 3, 270: 8}


def normalise(tags: dict[str, Any], path: Path, mtime_ns: int) -> Meta:
    """exiftool's tags for one file as the catalog's fields (unknown values are None), every
    text cut to `limits`, with `sources` naming where the date, zone, place, camera, title,
    description, keywords and rating came from (an exiftool group: EXIF, XMP, IPTC,
    QuickTime, MakerNotes; or Takeout)."""
    tags = _fold_languages(tags)
    mime = _mime(tags)
    is_video = bool(mime and mime.startswith("video/"))
    meta: Meta = {"mime": limits.name(mime, limits.MIME)}
    sources: dict[str, str | None] = {}
    media = path.suffix.lower() not in SIDECAR_EXTENSIONS

    lat, lng = _position(tags)
    meta["lat"], meta["lng"] = lat, lng
    meta["altitude"] = (
        _number(tags, "Composite:GPSAltitude", "XMP:GPSAltitude", positive=False)
        if lat is not None
        else None
    )
    sources["place"] = _place_source(tags) if lat is not None else None

    make, make_tag = _text_from(
        tags,
        "EXIF:Make",
        "QuickTime:Make",
        "XMP:Make",
        "QuickTime:AndroidManufacturer",
        "XML:DeviceManufacturer",
        "MakerNotes:Make",
    )
    model, model_tag = _text_from(
        tags,
        "EXIF:Model",
        "QuickTime:Model",
        "XMP:Model",
        "QuickTime:AndroidModel",
        "XML:DeviceModelName",
        "MakerNotes:Model",
    )
    meta["camera_make"] = limits.name(make, limits.CAMERA)
    meta["camera_model"] = limits.name(model, limits.CAMERA)
    sources["camera"] = make_tag or model_tag
    software, sources["software"] = _software(tags)
    meta["software"] = limits.name(software, limits.CAMERA)
    lens = _text(
        tags,
        "EXIF:LensModel",
        "XMP:LensModel",
        "XMP:Lens",
        "QuickTime:CameraLensModel",
        "QuickTime:LensModel",
        "MakerNotes:LensModel",
        "MakerNotes:Lens",
    )
    meta["lens_model"] = limits.name(_lens_name(lens), limits.LENS) if lens else None
    meta["iso"] = _iso(tags)
    meta["exposure_time"] = _number(
        tags, "EXIF:ExposureTime", "XMP:ExposureTime", "MakerNotes:ExposureTime"
    )
    f_number = _number(tags, "EXIF:FNumber", "Composite:Aperture", "XMP:FNumber")
    meta["f_number"] = round(f_number, 2) if f_number is not None else None  # APEX: 2.1999997
    meta["focal_length"] = _number(tags, "EXIF:FocalLength", "XMP:FocalLength")
    meta["focal_length_35mm"] = _number(
        tags,
        "EXIF:FocalLengthIn35mmFormat",
        "XMP:FocalLengthIn35mmFormat",
        "QuickTime:CameraFocalLength35mmEquivalent",
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
    codec = (
        _text(tags, "QuickTime:CompressorID", "RIFF:VideoCodec", "Matroska:VideoCodecID")
        if is_video
        else None
    )
    meta["codec"] = limits.name(codec, limits.CODEC)
    meta["fps"] = (
        _number(tags, "QuickTime:VideoFrameRate", "RIFF:VideoFrameRate", "Matroska:VideoFrameRate")
        if is_video
        else None
    )

    title, sources["title"] = _text_from(
        tags, "XMP:Title", "IPTC:ObjectName", "EXIF:XPTitle", "QuickTime:Title"
    )
    meta["title"] = limits.text(title, limits.TITLE)
    description, sources["description"] = _text_from(
        tags,
        "XMP:Description",
        "IPTC:Caption-Abstract",
        "EXIF:ImageDescription",
        "QuickTime:Description",
    )
    meta["description"] = limits.text(description, limits.TITLE)
    meta["keywords"], sources["keywords"] = _keywords(tags)
    artist = _text(
        tags, "EXIF:Artist", "XMP:Creator", "IPTC:By-line", "QuickTime:Artist", "QuickTime:Author"
    )
    meta["artist"] = limits.text(artist, limits.CREDIT)
    meta["copyright"] = limits.text(
        _text(tags, "EXIF:Copyright", "XMP:Rights", "IPTC:CopyrightNotice", "QuickTime:Copyright"),
        limits.CREDIT,
    )
    rating_tags = ("XMP:Rating", "EXIF:Rating", "QuickTime:UserRating")
    rating_tag = next((t for t in rating_tags if _number(tags, t, positive=False) is not None), "")
    rating = _number(tags, rating_tag, positive=False)
    # 1 to 5 stars, -1 for rejected (Lightroom, darktable); 0 is unrated
    meta["rating"] = int(rating) if rating is not None and rating in range(-1, 6) else None
    meta["rating"] = meta["rating"] or None
    sources["rating"] = _group(rating_tag) if meta["rating"] is not None else None
    content_id = _text(tags, "MakerNotes:ContentIdentifier", "QuickTime:ContentIdentifier")
    meta["content_id"] = limits.name(content_id, limits.CONTENT_ID)

    found = takeout.fields(tags) if not media else None
    if found is not None:  # a Google Takeout JSON: its place, caption and date
        meta.update(found)
        sources["place"] = dates.TAKEOUT if found["lat"] is not None else None
        sources["description"] = dates.TAKEOUT if found["description"] else None
    clocks = _clocks(tags, path.name, mtime_ns, media=media)
    clocks += [c for c in map(dates.Clock.from_json, meta.pop("clocks", [])) if c]
    meta["clocks"] = [c.as_json() for c in clocks]
    if clocks:
        meta.update(dates.settle(clocks, meta["lat"], meta["lng"]))
        sources["taken_at"], sources["zone"] = meta["taken_at_source"], meta["zone_source"]
    meta.update(sidecars.from_tags(tags))  # favourite, archived, named face regions
    meta["sources"] = {k: v for k, v in sources.items() if v is not None}
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
    meta["sources"] = {"taken_at": meta["taken_at_source"], "zone": meta["zone_source"]}
    return meta
