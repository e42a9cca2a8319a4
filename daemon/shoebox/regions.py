"""Face boxes on a photo, as shoebox keeps them and as the Metadata Working Group's regions
(`mwg-rs:Regions`) hold them.

shoebox keeps a box as (x, y, width, height): its top-left corner and size in fractions of the
upright image (after the EXIF orientation is applied). An MWG region's area is its centre and
size in fractions of the image as stored, before the orientation is applied, which is what
Lightroom, digiKam and exiftool's MWG module read and write.
"""

from __future__ import annotations

from collections.abc import Callable

Box = tuple[float, float, float, float]

# Where a point of the stored image (x, y) appears once the orientation is applied.
_DISPLAYED: dict[int, Callable[[float, float], tuple[float, float]]] = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),  # mirrored left to right
    3: lambda x, y: (1 - x, 1 - y),  # turned 180°
    4: lambda x, y: (x, 1 - y),  # mirrored top to bottom
    5: lambda x, y: (y, x),  # transposed
    6: lambda x, y: (1 - y, x),  # turned 90° clockwise
    7: lambda x, y: (1 - y, 1 - x),  # transversed
    8: lambda x, y: (y, 1 - x),  # turned 90° anticlockwise
}
# And back: each is its own inverse, but for the two quarter turns.
_STORED = {**_DISPLAYED, 6: _DISPLAYED[8], 8: _DISPLAYED[6]}


def _turned(orientation: int | None) -> int:
    return orientation if orientation in _DISPLAYED else 1


def to_mwg(box: Box, orientation: int | None) -> Box:
    """An upright box as an MWG area (centre x, centre y, width, height) of the stored image."""
    o = _turned(orientation)
    x, y, w, h = box
    cx, cy = _STORED[o](x + w / 2, y + h / 2)
    return (cx, cy, h, w) if o >= 5 else (cx, cy, w, h)


def from_mwg(area: Box, orientation: int | None) -> Box:
    """An MWG area of the stored image as an upright box."""
    o = _turned(orientation)
    cx, cy, w, h = area
    x, y = _DISPLAYED[o](cx, cy)
    if o >= 5:
        w, h = h, w
    return (x - w / 2, y - h / 2, w, h)


def iou(a: Box, b: Box) -> float:
    """How much two boxes overlap: their intersection over their union (0 to 1)."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
