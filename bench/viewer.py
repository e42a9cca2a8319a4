"""Viewer query benchmark: how fast the search engine answers the viewer's typical queries.

It is a script, not a test: it prints figures, it asserts nothing. For each backend (SQLite in
--workdir, MariaDB in a database it creates and drops) it

1. builds a catalog of N photos (default 100,000) through the real migrations: 20 years,
   30 cameras, 40% geotagged around 100 cities, 5% favourites, 2% archived, a few titles
   and keywords, one file per photo, 200 albums of 20 to 500 photos; ids in random order
   relative to dates; three members own 80% of the photos, and 15% are private to their
   owner. Rows go in with `insert_many`, 1,000 a statement, 10,000 a transaction;
2. times each query below through `shoebox.catalog.search`, as a member reads it (the
   household's photos and her own private ones), --runs times (default 200, or fewer when
   one query has used up --budget seconds), and prints p50 and p95 in ms.

A first page is what the viewer asks for a new search: 100 photos and the total. A deep page
is a keyset page 80% down the timeline, without the total (the viewer has it already).

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/viewer.py --photos 100000 --workdir /tmp/sbv
    .venv/bin/python bench/viewer.py --photos 10000 --runs 50 --no-mysql
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql  # type: ignore[import-untyped]

from shoebox.catalog import search, shares, text, visibility
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, Album, AlbumPhoto, File, Photo, Root

MEMBER = visibility.Viewer(1)  # who reads: the first of the three members

BATCH = 1_000
TRANSACTION = 10_000
DB_NAME = "shoebox_bench_viewer"
MAKES = [
    ("Canon", "EOS"), ("Sony", "ILCE"), ("Apple", "iPhone"), ("Google", "Pixel"), ("Nikon", "Z"),
    ("Fujifilm", "X-T"), ("Samsung", "Galaxy S"),
]  # fmt: skip
CAMERAS = [(make, f"{model} {i}") for i, (make, model) in enumerate(MAKES * 5)][:30]
WORDS = ["beach", "mountain", "birthday", "garden", "snow", "river", "market", "concert"]
LENSES = ["RF 50mm F1.8", "FE 24-70mm F2.8", "iPhone back camera", None]


def make_rows(count: int, seed: int = 7) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(photo, file) rows, in random date order."""
    rng = random.Random(seed)
    cities = [(rng.uniform(-50, 65), rng.uniform(-180, 180)) for _ in range(100)]
    start = dt.datetime(2006, 1, 1)
    span = int((dt.datetime(2026, 1, 1) - start).total_seconds())
    for pid in range(1, count + 1):
        taken = start + dt.timedelta(seconds=rng.randrange(span))
        if rng.random() < 0.05:  # bursts: several photos in the same second
            taken = taken.replace(minute=0, second=0)
        local = taken + dt.timedelta(hours=2)
        make, model = rng.choice(CAMERAS)
        geo = rng.random() < 0.4
        lat, lng = rng.choice(cities) if geo else (None, None)
        word = rng.choice(WORDS) if rng.random() < 0.1 else None
        owner = rng.choice([1, 2, 3, 1, None]) if rng.random() < 0.8 else None
        private = owner is not None and rng.random() < 0.19  # 15% of all photos
        photo = {
            "id": pid,
            "type": rng.choices(["image", "video", "live", "raw"], [85, 8, 5, 2])[0],
            "taken_at": taken,
            "taken_at_local": local,
            "taken_at_source": "exif",
            "timezone": "+02:00",
            "year": local.year,
            "month": local.month,
            "lat": lat + rng.gauss(0, 0.05) if lat is not None else None,
            "lng": max(-180.0, min(180.0, lng + rng.gauss(0, 0.05))) if lng is not None else None,
            "camera_make": make,
            "camera_model": model,
            "lens_model": rng.choice(LENSES),
            "width": 4000,
            "height": 3000,
            "title": f"{word} day" if word else None,
            "keywords": json.dumps([word]) if word and rng.random() < 0.5 else None,
            "favorite": rng.random() < 0.05,
            "archived": rng.random() < 0.02,
            "owner": owner,
            "visibility": "private" if private else "household",
        }
        rel = f"{local:%Y/%m}/IMG_{pid:07d}.jpg"
        file = {
            "id": pid,
            "root": 1,
            "rel_path": rel,
            "rel_path_raw": rel.encode(),
            "path_key": f"{pid:032x}",
            "stem_key": f"{pid:032x}",
            "size": 5_000_000,
            "mtime_ns": 0,
            "mime": "image/jpeg",
            "role": "original",
            "photo": pid,
        }
        yield photo, file


def load(catalog: Catalog, count: int) -> float:
    """Fills the catalog; returns photos per second."""
    began = time.perf_counter()
    Root.create(id=1, path="/srv/photos", path_key="r" * 32)
    for i, name in enumerate(("ana", "ben", "eve"), 1):
        Account.create(id=i, name=name, folder=f"/srv/photos/{name}")
    rows = make_rows(count)
    done = 0
    while done < count:
        with catalog.db.atomic():
            for _ in range(TRANSACTION // BATCH):
                batch = [row for _, row in zip(range(BATCH), rows, strict=False)]
                if not batch:
                    break
                Photo.insert_many([p for p, _ in batch]).execute()
                File.insert_many([f for _, f in batch]).execute()
                done += len(batch)
    with catalog.db.atomic():
        text.rebuild()  # what the ingest's grouping writes photo by photo
    rng = random.Random(11)
    with catalog.db.atomic():
        for i in range(200):
            album = Album.create(title=f"{rng.choice(WORDS).title()} {2006 + i % 20} #{i}")
            members = rng.sample(range(1, count + 1), min(count, rng.randint(20, 500)))
            AlbumPhoto.insert_many([{"album": album.id, "photo": pid} for pid in members]).execute()
    return count / (time.perf_counter() - began)


def queries(count: int) -> list[tuple[str, Callable[[], Any]]]:
    """The viewer's typical questions, as a member asks them, each a function to time."""
    timeline = search.parse("", viewer=MEMBER)
    deep = search.page(timeline, offset=int(count * 0.8), limit=1, total=False).items
    deep_cursor = search.cursor_of(
        dt.datetime.fromisoformat(deep[0]["taken_at"].removesuffix("Z")), deep[0]["id"] + 1
    )

    def first_page(text: str) -> Callable[[], Any]:
        return lambda: search.page(search.parse(text, viewer=MEMBER), limit=100)

    return [
        ("timeline, first page + total", first_page("")),
        ("timeline, deep keyset page", lambda: search.page(timeline, cursor=deep_cursor)),
        ("timeline, offset 1000", lambda: search.page(timeline, offset=1000, total=False)),
        ("year:2019", first_page("year:2019")),
        ("year:2019 month:7", first_page("year:2019 month:7")),
        ("camera:canon", first_page("camera:canon")),
        ("favorite:yes", first_page("favorite:yes")),
        ("type:video", first_page("type:video")),
        ("word: birthday", first_page("birthday")),
        ("near:48.85,2.35,50", first_page("near:48.85,2.35,50")),
        ("album:#17", first_page("album:#17")),
        ("folder:2019/07", first_page("folder:2019/07")),
        ("months()", lambda: search.months(timeline)),
        ("months(camera:sony)", lambda: search.months(search.parse("camera:sony", viewer=MEMBER))),
        ("jump to 2010-06", lambda: search.cursor_for_month(timeline, 2010, 6)),
        ("timeline, household only", lambda: search.page(search.parse(""), limit=100)),
        (
            "timeline, everything (admin)",
            lambda: search.page(
                search.parse("", viewer=visibility.Viewer(1, everything=True)), limit=100
            ),
        ),
    ]


def http_queries(url: str, workdir: Path) -> list[tuple[str, Callable[[], Any]]]:
    """The same questions asked of the viewer itself (its WSGI application, in this process:
    routing, access, the query, the JSON or the page's HTML, gzip), as a LAN client."""
    from shoebox import config
    from shoebox_viewer.app import make_app

    (workdir / "library").mkdir(exist_ok=True)
    settings_file = workdir / "viewer-bench.toml"
    settings_file.write_text(
        f'[library]\noriginals = ["{workdir / "library"}"]\ncache = "{workdir / "cache"}"\n'
        f'[database]\nurl = "{url}"\n[viewer]\ntrusted_networks = ["192.168.0.0/16"]\n'
    )
    app = make_app(config.load(settings_file))
    link = shares.create("search", query="year:2019", created_by=1)
    visitor = shares.admit(link)  # a visitor counted once, who comes back

    def get(path: str, query: str = "", cookie: str = "") -> Callable[[], Any]:
        def call() -> None:
            environ = {
                "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                "SCRIPT_NAME": "", "SERVER_NAME": "bench", "SERVER_PORT": "80",
                "HTTP_HOST": "bench", "REMOTE_ADDR": "192.168.1.2", "HTTP_COOKIE": cookie,
                "HTTP_ACCEPT_ENCODING": "gzip", "SERVER_PROTOCOL": "HTTP/1.1",
                "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
            }  # fmt: skip

            def start(status: str, headers: Any, exc_info: Any = None) -> None:
                if not status.startswith("200"):
                    raise SystemExit(f"{path}?{query}: {status}")

            b"".join(app(environ, start))

        return call

    return [
        ("HTTP timeline page /", get("/")),
        ("HTTP /api/photos", get("/api/photos")),
        ("HTTP /api/photos?q=year:2019", get("/api/photos", "q=year%3A2019")),
        ("HTTP /?q=camera:canon", get("/", "q=camera%3Acanon")),
        ("HTTP /?q=favorite:yes", get("/", "q=favorite%3Ayes")),
        ("HTTP /api/photos?q=birthday", get("/api/photos", "q=birthday")),
        (
            "HTTP visitor /s/T/api/photos",
            get(f"/s/{link.token}/api/photos", cookie=f"sb_visit={visitor}"),
        ),
    ]


def measure(fn: Callable[[], Any], runs: int, budget: float) -> tuple[float, float, int]:
    fn()  # warm the caches
    times = []
    began = time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - began > budget:
            break
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, len(times)


@contextmanager
def mysql_database(url: str) -> Iterator[str]:
    parts = urlsplit(url)
    admin = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )
    name = parts.path.lstrip("/") or DB_NAME
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"{parts.scheme}://{parts.netloc}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def run_backend(label: str, url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    with Catalog(url, workdir) as catalog:
        rate = load(catalog, args.photos)
        print(f"{label}: loaded {args.photos:,} photos at {rate:,.0f}/s", flush=True)
        if label == "MariaDB":
            # What InnoDB does by itself after a big change (persistent statistics are
            # recalculated in the background), done now so the figures are of a settled table.
            catalog.db.execute_sql("ANALYZE TABLE photo, file, album, album_photo").fetchall()
            time.sleep(args.settle)
        results = {}
        for name, fn in queries(args.photos) + http_queries(url, workdir):
            results[name] = measure(fn, args.runs, args.budget)
            p50, p95, n = results[name]
            print(f"  {name:32} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  ({n} runs)", flush=True)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per query at most")
    parser.add_argument("--workdir", type=Path, help="for the SQLite catalog (default: a temp)")
    parser.add_argument("--mysql", default=f"mysql://root@127.0.0.1:3306/{DB_NAME}")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after a MariaDB load")
    parser.add_argument("--no-mysql", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="MariaDB only")
    args = parser.parse_args()

    temp: Path | None = None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbv-"))
    if args.workdir is None:
        temp = workdir
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "viewer-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    table: dict[str, dict[str, Any]] = {}
    try:
        if not args.no_sqlite:
            table["SQLite"] = run_backend("SQLite", f"sqlite:///{db_file}", workdir, args)
        if not args.no_mysql:
            with mysql_database(args.mysql) as url:
                table["MariaDB"] = run_backend("MariaDB", url, workdir, args)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    backends = list(table)
    print(f"\n{args.photos:,} photos, p50 / p95 in ms\n")
    print("| query | " + " | ".join(f"{b} p50 | {b} p95" for b in backends) + " |")
    print("|---|" + "---:|---:|" * len(backends))
    for name in table[backends[0]]:
        cells = " | ".join(f"{table[b][name][0]:.1f} | {table[b][name][1]:.1f}" for b in backends)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
