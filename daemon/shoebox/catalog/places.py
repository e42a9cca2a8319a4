"""Places as the viewer's map and lists show them: the countries and cities with their
photos, the extent of the photos with a position, and those photos clustered on a grid.

The places stage of the daemon names the photos (`Place` rows); only they and the photos'
positions are read here. Clusters are one SQL GROUP BY over a latitude and longitude grid whose
cells shrink as the map zooms in, the same on SQLite and MariaDB. Only photos that are not
archived or missing, and that the viewer sees, are counted and placed.
"""

from __future__ import annotations

import math
from typing import Any

from peewee import fn

from shoebox.catalog import visibility
from shoebox.catalog.models import Photo, Place

CELLS_PER_TILE = 4  # a 256-pixel map tile is split into 4 by 4 cluster cells
MAX_CLUSTERS = 2000
KM_PER_DEGREE = 111.195  # along a meridian
_FALSE = False  # compared as a value, so linters leave `== False` alone


def listing(viewer: visibility.Viewer) -> list[dict[str, Any]]:
    """Countries and cities with how many photos (not archived, not missing, seen by the
    viewer) are in each."""
    count = fn.COUNT(Place.id)
    rows: Any = (
        visibility.restrict(
            Place.select(Place.country_code, Place.country, Place.city, count.alias("n"))
            .join(Photo, on=Place.photo == Photo.id)
            .where((Photo.archived == _FALSE) & (Photo.missing == _FALSE)),
            viewer,
        )
        .group_by(Place.country_code, Place.country, Place.city)
        .order_by(Place.country, count.desc(), Place.city)
        .tuples()
    )
    return [
        {"country_code": code, "country": country, "city": city, "count": n}
        for code, country, city, n in rows
    ]


def extent(viewer: visibility.Viewer) -> tuple[float, float, float, float] | None:
    """South, west, north and east of the photos with a position that `clusters` places
    for the viewer (the map's first view fits them); None when there are none."""
    row: Any = visibility.restrict(
        Photo.select(
            fn.MIN(Photo.lat), fn.MIN(Photo.lng), fn.MAX(Photo.lat), fn.MAX(Photo.lng)
        ).where(
            (Photo.archived == _FALSE)
            & (Photo.missing == _FALSE)
            & Photo.lat.is_null(False)
            & Photo.lng.is_null(False)
        ),
        viewer,
    ).tuples()
    found = list(row)
    if not found or found[0][0] is None:
        return None
    south, west, north, east = (float(v) for v in found[0])
    return south, west, north, east


def cell_degrees(zoom: int) -> float:
    """The side of a cluster cell at this map zoom (a quarter of a map tile's width)."""
    return 360.0 / float(2**zoom) / CELLS_PER_TILE


def clusters(
    viewer: visibility.Viewer, zoom: int, south: float, west: float, north: float, east: float
) -> list[Any]:
    """The photos the viewer sees with a position inside the box, grouped into grid cells:
    for each cell its photos' mean position, count, the newest photo's id (for a thumbnail)
    and a `near` search (LAT,LNG,KM) whose circle covers the whole cell. West greater than
    east is a box across the ±180° meridian."""
    cell = cell_degrees(zoom)
    # FLOOR, like the SIN and COS of `near:`, is in MariaDB and in SQLite's math functions
    row = fn.FLOOR((Photo.lat + 90.0) / cell)
    col = fn.FLOOR((Photo.lng + 180.0) / cell)
    lng_in = (
        Photo.lng.between(west, east) if west <= east else (Photo.lng >= west) | (Photo.lng <= east)
    )
    found: Any = (
        visibility.restrict(
            Photo.select(
                row.alias("r"),
                col.alias("c"),
                fn.COUNT(Photo.id),
                fn.AVG(Photo.lat),
                fn.AVG(Photo.lng),
                fn.MAX(Photo.id),
            ).where(
                (Photo.archived == _FALSE)
                & (Photo.missing == _FALSE)
                & Photo.lat.between(south, north)
                & lng_in
            ),
            viewer,
        )
        .group_by(row, col)
        .order_by(fn.COUNT(Photo.id).desc())
        .limit(MAX_CLUSTERS)
        .tuples()
    )
    result = []
    for r, c, count, lat, lng, photo_id in found:
        centre_lat = min(90.0, (int(r) + 0.5) * cell - 90)
        centre_lng = (int(c) + 0.5) * cell - 180
        high = min(89.9, abs(centre_lat) + cell / 2)
        half_diagonal = (
            math.hypot(cell * KM_PER_DEGREE, cell * KM_PER_DEGREE * math.cos(math.radians(high)))
            / 2
        )
        km = min(20_000.0, max(0.1, half_diagonal * 1.01))
        result.append(
            {
                "lat": round(float(lat), 6),
                "lng": round(float(lng), 6),
                "count": int(count),
                "photo_id": int(photo_id),
                "near": f"{centre_lat:.6f},{centre_lng:.6f},{km:.3f}",
            }
        )
    return result


def of_photo(photo_id: int) -> Place | None:
    """The place the places stage named for this photo, if it did."""
    found: Place | None = Place.get_or_none(Place.photo == photo_id)
    return found
