"""How much of what a file says the catalog keeps. Every text read from a file (its tags, an
XMP sidecar, a Takeout JSON) is cut here, where it is normalised, so that no file can make a
row that a backend refuses: a 1 MB XMP title, ten thousand keywords, a camera name longer than
its column.

The limits follow the columns: MariaDB's TEXT holds 65,535 bytes and utf8mb4 spends up to four
bytes a character (up to six in JSON, for an escaped control character); a VARCHAR(n) holds n
characters. A title or description of 10,000 characters is about five printed pages.
"""

from __future__ import annotations

from collections.abc import Iterable

TITLE = 10_000  # characters of a title, and of a description
CREDIT = 1_000  # characters of an artist or a copyright notice
KEYWORDS = 100  # keywords kept of one photo
KEYWORD = 100  # characters of one keyword
# Names kept whole up to the width of their column (`catalog.models.Photo`, `File`).
CAMERA = 100  # camera_make, camera_model, software
LENS = 255
CODEC = 32
CONTENT_ID = 100
MIME = 100
ZONE_NAME = 64

_MORE = "\u2026"  # …


def text(value: str | None, limit: int) -> str | None:
    """A text cut to at most `limit` characters; a cut one ends with an ellipsis."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + _MORE


def name(value: str | None, limit: int) -> str | None:
    """A name (of a camera, a codec, a zone) cut to the width of its column."""
    if value is None:
        return None
    return value[:limit].strip() or None


def keywords(words: Iterable[str]) -> list[str]:
    """At most KEYWORDS distinct keywords of at most KEYWORD characters each, in order."""
    kept: list[str] = []
    for word in words:
        word = word.strip()[:KEYWORD].strip()
        if word and word not in kept:
            kept.append(word)
            if len(kept) == KEYWORDS:
                break
    return kept
