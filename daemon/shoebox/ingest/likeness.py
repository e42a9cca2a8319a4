"""How alike two pictures look, and how sharp one is: a 64-bit difference hash and the variance
of a Laplacian, both from a small grey copy of the picture.

The difference hash (dhash) shrinks the picture to 9x8 grey pixels and keeps one bit per pair
of neighbours in a row (is the left one brighter?). Resizing, re-saving at a low JPEG quality
and a slight crop move few bits; another scene moves about half. The number of differing bits
(`shoebox.catalog.likeness.distance`) is the measure: 0 to 64. Written with numpy and Pillow (a dozen lines) rather than
the `imagehash` package, which would add PyWavelets and its own scipy use for one function.

Sharpness is the variance of the 4-neighbour Laplacian of the picture scaled to `SHARP_SIDE`
pixels on its longer side: a fixed scale, so pictures of any size compare; a blurred shot of a
burst scores far below the sharp one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SHARP_SIDE = 256
_BITS = 1 << np.arange(64, dtype=np.uint64)


@dataclass(frozen=True)
class Likeness:
    dhash: int  # signed 64-bit, as the catalog's BIGINT holds it
    sharpness: float


def measure(picture: Image.Image) -> Likeness:
    """The difference hash and the sharpness of a picture (any mode, any size)."""
    grey = picture.convert("L")
    small = np.asarray(grey.resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(64)
    value = int(_BITS[bits].sum(dtype=np.uint64))
    grey.thumbnail((SHARP_SIDE, SHARP_SIDE), Image.Resampling.BOX)
    g = np.asarray(grey, dtype=np.float32)
    if min(g.shape) < 3:
        return Likeness(signed(value), 0.0)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return Likeness(signed(value), float(lap.var()))


def signed(value: int) -> int:
    """A 64-bit hash as a signed BIGINT."""
    return value - (1 << 64) if value >= 1 << 63 else value
