"""Where on a photo the face detector looks, and how its answers become one list of faces.

The detector (`faces.Detector`) sees a square of MODEL_PX pixels at a time and finds faces from
about RELIABLE_PX pixels wide in that square. Seeing a whole 12-MP photo at once, it would find
only faces wider than a tenth of the picture. So the photo is looked at as a pyramid of levels:
level 0 is the whole picture in one square; each further level is the picture at twice the
scale of the one before, cut into overlapping squares (tiles). The finest level is the one at
which the smallest face wanted (`smallest`, in pixels of the picture) is RELIABLE_PX wide, or
down to FIT of that when a little less saves squares (a 4000 x 3000 photo from 40 px: 88
squares instead of 109, the finest level's rows and columns fitting the picture, and no level
left that is hardly finer than level 0). With the second looks of `faces.Detector`, faces
from 40 px were found about as often as before (`bench/faces.py`: 90% against 93% on one set
of made-up photos, 91% against 90% on another); smaller faces less often. A face is found at
the level where it is between RELIABLE_PX (FIT of it at worst) and twice that; tiles overlap
by twice RELIABLE_PX, so every such face lies whole inside at least one tile.

The same face is often found in two tiles or two levels: `merge` keeps the surest of boxes that
overlap. Everything here is geometry on plain numbers (no images, no models), so it is tested
on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MODEL_PX = 192  # the full-range detector's input square
RELIABLE_PX = 16  # faces from this wide (in the detector's square) are found (with the check)
OVERLAP_PX = 2 * RELIABLE_PX  # tiles of a level overlap by this much (detector pixels)
FIT = 0.88  # a face may be planned this much under RELIABLE_PX wide when that saves squares
FIT_STEPS = 12  # finest scales tried between FIT and 1 of the one wanted
SAME_IOU = 0.3  # boxes that overlap this much are one face
INSIDE = 0.6  # a box lying this much inside a larger one is the same face


@dataclass(frozen=True)
class Level:
    """One level of the pyramid: the picture scaled by `scale`, and the squares of MODEL_PX
    pixels (their left and top, in pixels of the scaled picture) shown to the detector. A
    square may reach past the scaled picture's right or bottom edge (the detector pads it)."""

    scale: float
    squares: tuple[tuple[int, int], ...]

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The scaled picture's size."""
        return max(1, round(width * self.scale)), max(1, round(height * self.scale))


@dataclass(frozen=True)
class Box:
    """A face found on the picture: left, top, width and height in pixels of the picture, the
    detector's score, and the scale of the level it was found at."""

    left: float
    top: float
    width: float
    height: float
    score: float
    scale: float = 1.0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def intersection(self, other: Box) -> float:
        left = max(self.left, other.left)
        top = max(self.top, other.top)
        right = min(self.left + self.width, other.left + other.width)
        bottom = min(self.top + self.height, other.top + other.height)
        return max(0.0, right - left) * max(0.0, bottom - top)

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def finest_scale(width: int, height: int, smallest: float) -> float:
    """How much the picture is scaled at the finest level: enough for a face `smallest`
    pixels wide to be RELIABLE_PX wide, never finer than the picture itself (1.0) and never
    coarser than level 0 (the whole picture in one square)."""
    whole = MODEL_PX / max(width, height)
    wanted = RELIABLE_PX / max(1.0, smallest)
    return max(whole, min(1.0, wanted))


def plan(width: int, height: int, smallest: float) -> list[Level]:
    """The levels to show the detector for a `width` x `height` picture, coarsest first: the
    whole picture, then the finest level and levels of half its scale, down to the first one
    whose faces level 0 sees at least FIT of RELIABLE_PX wide. Of the finest scales from FIT of
    `finest_scale` up to it, the one that makes the fewest squares (the finest of equals)."""
    wanted = finest_scale(width, height, smallest)
    plans = (
        _levels(width, height, wanted * (1 - (1 - FIT) * step / FIT_STEPS))
        for step in range(FIT_STEPS + 1)
    )
    return min(plans, key=lambda levels: sum(len(level.squares) for level in levels))


def _levels(width: int, height: int, finest: float) -> list[Level]:
    whole = MODEL_PX / max(width, height)
    scales = []
    scale = finest
    while whole < FIT * scale:
        scales.append(scale)
        scale /= 2
    levels = [Level(whole, ((0, 0),))]
    for scale in reversed(scales):
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        stride = MODEL_PX - OVERLAP_PX
        squares = tuple((x, y) for y in _starts(h, stride) for x in _starts(w, stride))
        levels.append(Level(scale, squares))
    return levels


def _starts(length: int, stride: int, side: int = MODEL_PX) -> list[int]:
    """Where squares of `side` start along `length` so that they cover it with at least
    `side - stride` of overlap, spread evenly; the last one ends at the edge."""
    if length <= side:
        return [0]
    count = math.ceil((length - side) / stride) + 1
    step = (length - side) / (count - 1)
    return [round(i * step) for i in range(count)]


def merge(boxes: Iterable[Box]) -> list[Box]:
    """One box per face: of boxes that overlap (SAME_IOU), or where the smaller lies mostly
    inside the larger (INSIDE), the surest is kept."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(not _same(box, other) for other in kept):
            kept.append(box)
    return kept


def _same(a: Box, b: Box) -> bool:
    inter = a.intersection(b)
    smaller = min(a.area, b.area)
    return a.iou(b) >= SAME_IOU or (smaller > 0 and inter / smaller >= INSIDE)
