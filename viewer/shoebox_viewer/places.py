"""Places in the viewer: the /places page (an offline world map with the photos clustered on
it, and the list of countries and cities), the world outlines it draws, and its JSON.

The viewer only reads: the places stage of the daemon names the photos (`Place` rows); the
outlines are the file `shoebox.worldmap` makes in the cache (pure Python, so this process
makes it itself when no daemon has yet). Clusters are one SQL GROUP BY over a latitude and
longitude grid whose cells shrink as the map zooms in, the same on SQLite and MariaDB (the
page's script joins those that would overlap on screen); the map opens on the `extent` of
the photos with a position. Only the photos the requester sees are counted and placed.
"""

from __future__ import annotations

import math
from typing import Any

import bottle
from peewee import fn

from shoebox import worldmap
from shoebox.catalog import visibility
from shoebox.catalog.models import Photo, Place
from shoebox.errors import ShoeboxError, UsageError
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context, url

MAX_ZOOM = 18
CELLS_PER_TILE = 4  # a 256-pixel map tile is split into 4 by 4 cluster cells
MAX_CLUSTERS = 2000
KM_PER_DEGREE = 111.195  # along a meridian
_FALSE = False  # compared as a value, so linters leave `== False` alone


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/places, /places/world.geojson, /api/places and /api/places/clusters."""

    @app.get("/places")
    @access.browse
    def places_page() -> str:
        listing = places(access.who().sees)
        countries: dict[tuple[str, str], int] = {}
        for row in listing:
            key = (row["country_code"] or "", row["country"] or "")
            countries[key] = countries.get(key, 0) + row["count"]
        return ctx.render(
            "places.html",
            countries=sorted(countries.items(), key=lambda kv: (-kv[1], kv[0][1])),
            cities=[row for row in listing if row["city"]],
            tile_url=ctx.settings.places.tile_url,
            search_url=url("search"),
            extent=",".join(f"{v:.5f}" for v in extent(access.who().sees) or ()),
        )

    @app.get("/places/world.geojson")
    @access.browse
    def world() -> Any:
        try:
            made = worldmap.ensure(ctx.settings.library.cache)
        except (OSError, ShoeboxError) as exc:
            raise bottle.HTTPError(503, f"the world map cannot be made: {exc}") from None
        answer = bottle.static_file(
            made.name, root=str(made.parent), mimetype="application/geo+json"
        )
        answer.set_header("Cache-Control", "private, max-age=86400")
        return answer

    @app.get("/api/places")
    @access.browse
    def places_api() -> str:
        return jsonio.answer(places(access.who().sees))

    @app.get("/api/places/clusters")
    @access.browse
    def clusters_api() -> str:
        query = bottle.request.query
        zoom = _number(query.get("zoom", ""), "zoom", 0, MAX_ZOOM)
        south = _number(query.get("south", "-90"), "south", -90, 90)
        north = _number(query.get("north", "90"), "north", -90, 90)
        west = _number(query.get("west", "-180"), "west", -180, 180)
        east = _number(query.get("east", "180"), "east", -180, 180)
        if south > north:
            raise UsageError("south: must not be north of north")
        return jsonio.answer(clusters(access.who().sees, int(zoom), south, west, north, east))


def places(viewer: visibility.Viewer) -> list[dict[str, Any]]:
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
    """The photos the viewer sees with a position inside the box, grouped into grid cells: for each cell its
    photos' mean position, count, the newest photo's id (for a thumbnail) and a `near`
    search (LAT,LNG,KM) whose circle covers the whole cell. West greater than east is a box
    across the ±180° meridian."""
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


def _number(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name}: wants a number, not {text[:20]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{name}: wants a number from {low:g} to {high:g}")
    return value
