"""The places stage's cost: the first load of the GeoNames data (time and memory), the world
map's first making, and the time per photo over random geotagged points, both for the bare
lookup and for the whole stage through the Enricher (reading photos, writing Place rows).

Half the points are near a real populated place (as most photos are), half anywhere on the
globe (mostly sea: the country outlines are loaded for them, which is counted apart).

    .venv/bin/python bench/places.py --photos 10000
    .venv/bin/python bench/places.py --photos 10000 --db-url mysql://root@127.0.0.1:3306/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import shutil
import tempfile
import time
from pathlib import Path

from shoebox import worldmap
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Photo, Place
from shoebox.enrich.geocode import Geocoder
from shoebox.enrich.places import PlacesStage
from shoebox.enrich.runner import Enricher


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def points(geocoder: Geocoder, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """n/2 points within about 20 km of a random GeoNames place, n/2 uniform on the sphere."""
    import math

    near = []
    places = geocoder.all.tree.data
    for _ in range(n // 2):
        x, y, z = places[rng.randrange(len(places))]
        lat, lng = math.degrees(math.asin(z)), math.degrees(math.atan2(y, x))
        near.append((max(-90.0, min(90.0, lat + rng.uniform(-0.2, 0.2))), lng))
    anywhere = [
        (math.degrees(math.asin(rng.uniform(-1, 1))), rng.uniform(-180, 180))
        for _ in range(n - n // 2)
    ]
    return near + anywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument(
        "--db-url", default="", help="a catalog to fill (default: SQLite in a temp dir)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows: list[tuple[str, str]] = []
    base = rss_mb()
    rows.append(("RSS before loading", f"{base:.0f} MB"))

    cache = Path(tempfile.mkdtemp(prefix="shoebox-places-"))
    started = time.perf_counter()
    Geocoder(cache)
    rows.append(("first load (prepares the cache)", f"{time.perf_counter() - started:.2f} s"))
    started = time.perf_counter()
    geocoder = Geocoder(cache)
    rows.append(("later load (GeoNames, 2 k-d trees)", f"{time.perf_counter() - started:.2f} s"))
    rows.append(("RSS after loading", f"{rss_mb():.0f} MB (+{rss_mb() - base:.0f})"))

    sample = points(geocoder, args.photos, rng)
    near, anywhere = sample[: len(sample) // 2], sample[len(sample) // 2 :]
    started = time.perf_counter()
    geocoder.lookup(near)
    per = (time.perf_counter() - started) / max(1, len(near)) * 1e6
    rows.append((f"lookup near places, batch of {len(near)}", f"{per:.1f} µs/photo"))
    started = time.perf_counter()
    geocoder.lookup(anywhere[:1])
    rows.append(
        (
            "first load of the country outlines (prepares them)",
            f"{time.perf_counter() - started:.2f} s",
        )
    )
    rows.append(("RSS with the outlines", f"{rss_mb():.0f} MB"))
    started = time.perf_counter()
    found = geocoder.lookup(anywhere)
    per = (time.perf_counter() - started) / max(1, len(anywhere)) * 1e6
    named = sum(1 for f in found if f is not None)
    rows.append((f"lookup anywhere ({named} of {len(anywhere)} named)", f"{per:.1f} µs/photo"))

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        worldmap.make()
        rows.append(("world map made (pure Python)", f"{time.perf_counter() - started:.2f} s"))
        url = args.db_url or f"sqlite:///{tmp}/catalog.db"
        catalog = Catalog(url, Path(tmp))
        try:
            when = dt.datetime(2024, 1, 1)
            Photo.insert_many(
                [
                    {
                        "type": "image", "taken_at": when, "taken_at_local": when,
                        "taken_at_source": "bench", "year": 2024, "month": 1,
                        "lat": lat, "lng": lng,
                    }
                    for lat, lng in sample
                ]
            ).execute()  # fmt: skip
            stage = PlacesStage(Path(tmp) / "cache")
            stage._geocoder = geocoder  # loaded above: time the stage, not the load again
            enricher = Enricher([stage])
            started = time.perf_counter()
            counts = enricher.run_all()
            took = time.perf_counter() - started
            rows.append(
                (
                    f"whole stage via Enricher ({url.split(':')[0]}, {counts.done.get('places', 0)} photos, {Place.select().count()} places)",
                    f"{took / max(1, len(sample)) * 1e3:.2f} ms/photo",
                )
            )
            enricher.close()
        finally:
            catalog.close()
    del geocoder, stage
    gc.collect()
    shutil.rmtree(cache)
    rows.append(("RSS after close()", f"{rss_mb():.0f} MB"))

    print(f"{args.photos} random geotagged points, seed {args.seed}\n")
    print("| what | figure |\n|---|---|")
    for what, figure in rows:
        print(f"| {what} | {figure} |")


if __name__ == "__main__":
    main()
