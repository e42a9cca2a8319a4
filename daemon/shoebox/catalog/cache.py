"""Where derived files live in the cache folder (`[library] cache`): the renditions the
ingest stage writes, and the full-screen renditions and browser-playable copies of videos the
viewer makes. Only paths here, computed from content hashes, so the viewer can find them
without importing the Pillow-heavy ingest code."""

from __future__ import annotations

from pathlib import Path

TILE = "tile"
PREVIEW = "preview"
LARGE = "large"  # full screen: made by the viewer when first asked for (`[renditions] large_size`)
# A tile is its picture's centre at the picture's own shape, narrowed to this range of aspect
# ratios (width / height), with its short side `[renditions] tile_size`; the justified grid
# lays tiles out at the same shape, and the square grid crops their centre.
TILE_ASPECTS = (0.5, 3.0)


def rendition_path(cache: Path, content_hash: str, name: str) -> Path:
    """Where the rendition `name` of the content with this hash lives."""
    return Path(rendition_file(str(cache), content_hash, name))


def rendition_file(cache: str, content_hash: str, name: str) -> str:
    """`rendition_path` as text, without pathlib's cost (the viewer's fast lane asks it for
    every tile)."""
    return f"{cache}/renditions/{content_hash[:2]}/{content_hash}-{name}.jpg"


def video_folder(cache: Path) -> Path:
    """The folder of the H.264/AAC copies of videos a browser cannot play as they are."""
    return cache / "video"
