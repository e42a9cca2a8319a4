"""Google Takeout: which photo a Takeout JSON describes, by its name, and what it says.

Google Photos exports each photo with a JSON beside it holding what Google knew: the date it
was taken (`photoTakenTime`, UTC), the place (`geoData`, or `geoDataExif`) and the caption
(`description`). These JSON files are sidecars, never photos, and they only fill what the
photo's own file lacks (see README, "Dates and places").

How Takeout names them, as unpacked archives show (and GooglePhotosTakeoutHelper and
immich-go match them):

    IMG_1234.jpg      IMG_1234.jpg.json, or (since 2024) IMG_1234.jpg.supplemental-metadata.json
    a long name       the JSON's name is cut to 46 characters before ".json", so the
                      ".supplemental-metadata" goes first (".supplemental-me.json", ".s.json",
                      "..json"), then the extension, then the name itself:
                      Screenshot_2024-01-14-14-13-33-16_948cd9899890.json for
                      Screenshot_2024-01-14-14-13-33-16_948cd9899890cbd5c2798760b2b95377.jpg
    image(1).jpg      the second "image.jpg" of a folder: image.jpg(1).json, or
                      image.jpg.supplemental-metadata(1).json (the number moves to the end)
    20030616.jpg      uploaded without an extension: 20030616.json

`media_stem` turns a JSON's name into the base name of its photo (`scan.stem_key` files both
under one key); when the cut went into the photo's own name only its first 46 characters are
known, and `cut_stem` gives a photo with such a long name that same key. An edited copy
(`IMG_1234-edited.jpg`) has no JSON of its own: it is a photo of its own, dated by its tags.
"""

from __future__ import annotations

import re
from typing import Any

from shoebox.ingest import dates, limits
from shoebox.ingest.identify import MEDIA_EXTENSIONS

Meta = dict[str, Any]

NAME_LIMIT = 46  # characters of a JSON's name before ".json"
_SUPPLEMENTAL = ".supplemental-metadata"
_DUPLICATE = re.compile(r"(.+?)(\(\d+\))")
# The tags exiftool makes of a Takeout JSON (nested keys joined: geoData.latitude).
_TAKEN = "JSON:PhotoTakenTimeTimestamp"
_MARKS = (_TAKEN, "JSON:CreationTimeTimestamp", "JSON:GeoDataLatitude", "JSON:GeoDataExifLatitude")


def media_stem(json_stem: str) -> str:
    """The base name (without extension) of the photo that a JSON named `json_stem` + ".json"
    describes, with the "(n)" of a duplicate; the first 46 characters of it when the JSON's
    name was cut inside it."""
    base, number = json_stem, ""
    m = _DUPLICATE.fullmatch(base)
    if m:
        base, number = m.group(1), m.group(2)
    cut = len(base) >= NAME_LIMIT
    base = _without_supplemental(base)
    dot = base.rfind(".")
    if dot > 0:
        extension = base[dot:].lower()
        if extension in MEDIA_EXTENSIONS or (cut and _starts_an_extension(extension)):
            base = base[:dot]
    return base + number


def cut_stem(stem: str) -> str | None:
    """For a photo's base name (without extension) too long for its Takeout JSON's name: the
    base name `media_stem` gives for that JSON (None for any shorter name)."""
    base, number = stem, ""
    m = _DUPLICATE.fullmatch(stem)
    if m:
        base, number = m.group(1), m.group(2)
    return base[:NAME_LIMIT] + number if len(base) > NAME_LIMIT else None


def looks_cut(stem: str) -> bool:
    """Whether a JSON's `media_stem` may be only the start of its photo's base name."""
    m = _DUPLICATE.fullmatch(stem)
    return len(m.group(1) if m else stem) >= NAME_LIMIT


def _without_supplemental(base: str) -> str:
    """The name without ".supplemental-metadata", or without what is left of it after a cut."""
    for length in range(len(_SUPPLEMENTAL), 0, -1):
        if base.endswith(_SUPPLEMENTAL[:length]) and len(base) > length:
            return base[:-length]
    return base


def _starts_an_extension(piece: str) -> bool:
    return any(known.startswith(piece) for known in MEDIA_EXTENSIONS)


def fields(tags: dict[str, Any]) -> Meta | None:
    """What a Takeout JSON (read by exiftool) says of its photo: the date it was taken (a
    clock), the place and the caption. None when the JSON is not one of Takeout's."""
    if not any(mark in tags for mark in _MARKS):
        return None
    taken = dates.from_timestamp(dates.TAKEOUT, tags.get(_TAKEN))
    meta: Meta = {
        "takeout": True,
        "clocks": [taken.as_json()] if taken else [],
        "lat": None,
        "lng": None,
        "altitude": None,
        "description": None,
    }
    for group in ("JSON:GeoData", "JSON:GeoDataExif"):  # geoData holds a person's correction
        lat, lng = _number(tags.get(f"{group}Latitude")), _number(tags.get(f"{group}Longitude"))
        if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
            continue
        if abs(lat) < 1e-6 and abs(lng) < 1e-6:  # 0, 0: no place
            continue
        altitude = _number(tags.get(f"{group}Altitude"))
        meta.update(lat=lat, lng=lng, altitude=altitude if altitude else None)
        break
    description = tags.get("JSON:Description")
    if isinstance(description, str) and description.strip():
        meta["description"] = limits.text(description.strip(), limits.TITLE)
    return meta


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None
