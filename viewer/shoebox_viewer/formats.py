"""How the pages put catalog values into words: months and days, durations, file sizes, the
camera and the exposure, and a tile's badge or the reason it has no picture. The member pages
and the share pages write them alike; the template filters of `pages` are among them.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def month_label(key: str) -> str:
    """ "2024-07" -> "July 2024"."""
    try:
        year, month = key.split("-")
        return f"{MONTHS[int(month) - 1]} {int(year)}"
    except (ValueError, IndexError):
        return key


def day_label(key: str) -> str:
    """ "2025-06-14" -> "Saturday 14 June"."""
    try:
        day = dt.date.fromisoformat(key)
    except ValueError:
        return key
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def camera_words(make: str | None, model: str | None) -> tuple[str | None, str | None]:
    if make and model and model.lower().startswith(make.lower()):
        return None, model  # "Canon" "Canon EOS R6"
    return make, model


def exposure_words(
    exposure: str | None, f_number: float | None, focal_length: float | None, iso: int | None
) -> str:
    """ "1/250 s · f/5.6 · 35 mm · ISO 200", of what is known."""
    words = [
        f"{exposure} s" if exposure else "",
        f"f/{f_number:g}" if f_number else "",
        f"{focal_length:g} mm" if focal_length else "",
        f"ISO {iso}" if iso else "",
    ]
    return " · ".join(w for w in words if w)


def duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def badge(item: dict[str, Any]) -> str:
    """The tile's badge: a video's length, LIVE, RAW, how many files a stack holds, or how
    many shots a burst holds."""
    if item.get("shots"):
        return f"{item['shots']} shots"
    if item["type"] == "video":
        return duration(item["duration"]) if item["duration"] else "VIDEO"
    if item["type"] == "live":
        return "LIVE"
    files = [f for f in item["files"] if f["role"] in ("original", "raw")]
    if item["type"] == "raw" or any(f["role"] == "raw" for f in files):
        return "RAW+JPEG" if len(files) > 1 else "RAW"
    return f"{len(files)} files" if len(files) > 1 else ""


def no_preview(item: dict[str, Any]) -> tuple[str, str]:
    """What shows a photo that has no rendition: its file type ("HEIC", "CR3") and why there
    is no picture. `item` is a grid item (files with "path") or a photo_view (with "name")."""
    originals = [f for f in item["files"] if f["role"] in ("original", "raw")] or item["files"]
    name = (originals[0].get("path") or originals[0].get("name") or "") if originals else ""
    kind = os.path.splitext(name)[1].lstrip(".").upper()[:8] or item["type"].upper()
    if originals and all(f["status"] == "missing" for f in originals):
        return kind, "its file is missing"
    if item["type"] == "raw":
        return kind, "a RAW file without a preview inside that can be shown"
    if item["type"] == "video":
        return kind, "no picture could be taken from this video"
    return kind, f"no preview: {kind} files cannot be read here"


def human_size(size: int) -> str:
    """1234567 -> "1.2 MB"."""
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "KB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"
