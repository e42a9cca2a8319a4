"""Places in the viewer: the /places page (an offline world map with the photos clustered on
it, and the list of countries and cities), the world outlines it draws, and its JSON.

The viewer only reads: the places, their counts and the clusters come from
`shoebox.catalog.places` (the page's script joins clusters that would overlap on screen, and
the map opens on the `extent` of the photos with a position); the outlines are the file
`shoebox.worldmap` makes in the cache (pure Python, so this process makes it itself when no
daemon has yet). Only the photos the requester sees are counted and placed.
"""

from __future__ import annotations

import math
from typing import Any

import bottle

from shoebox import worldmap
from shoebox.catalog import places
from shoebox.errors import ShoeboxError, UsageError
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context, url

MAX_ZOOM = 18


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/places, /places/world.geojson, /api/places and /api/places/clusters."""

    @app.get("/places")
    @access.browse
    def places_page() -> str:
        found = places.listing(access.who().sees)
        countries: dict[tuple[str, str], int] = {}
        for row in found:
            key = (row["country_code"] or "", row["country"] or "")
            countries[key] = countries.get(key, 0) + row["count"]
        return ctx.render(
            "places.html",
            countries=sorted(countries.items(), key=lambda kv: (-kv[1], kv[0][1])),
            cities=[row for row in found if row["city"]],
            tile_url=ctx.settings.places.tile_url,
            search_url=url("search"),
            extent=",".join(f"{v:.5f}" for v in places.extent(access.who().sees) or ()),
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
        return jsonio.answer(places.listing(access.who().sees))

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
        return jsonio.answer(
            places.clusters(access.who().sees, int(zoom), south, west, north, east)
        )


def _number(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name}: wants a number, not {text[:20]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{name}: wants a number from {low:g} to {high:g}")
    return value
