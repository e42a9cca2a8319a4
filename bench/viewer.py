"""Viewer query benchmark: how fast the search engine answers the viewer's typical queries.

It is a script, not a test: it prints figures, it asserts nothing. For each backend (SQLite in
--workdir, MariaDB in a database it creates and drops) it

1. builds a catalog of N photos (default 100,000) through the real migrations, with the skew
   of a real household: 20 years, 30 cameras of which the phones take 70% of the photos,
   bursts in the same second, 60% geotagged around 40 places (each with its country and
   city), 5% favourites, 2% archived, a few titles and keywords, labels on a third of the
   photos, faces of 20 named people on a tenth, one file per photo, 200 albums of 20 to 500
   photos and three huge ones (5% of the library each); ids in random order relative to
   dates; three members own 80% of the photos, and 15% are private to their owner. Rows go
   in with `insert_many`, 1,000 a statement, 10,000 a transaction. With --keep, the catalogs
   stay after the run (the SQLite file in --workdir, the MariaDB database of --mysql) and a
   later run with the same --photos reuses them (migrating them first, as the daemon would);
2. times each query below through `shoebox.catalog.search`, as a member reads it (the
   household's photos and her own private ones), --runs times (default 200, or fewer when
   one query has used up --budget seconds), and prints p50 and p95 in ms. --buffer-pool MB
   sets MariaDB's innodb_buffer_pool_size for the run (the server's, so put back after).

A first page is what the viewer asks for a new search: 100 photos and the total. A deep page
is a keyset page 80% down the timeline, without the total (the viewer has it already).

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/viewer.py --photos 100000 --workdir /tmp/sbv
    .venv/bin/python bench/viewer.py --photos 10000 --runs 50 --no-mysql
    .venv/bin/python bench/viewer.py --photos 1000000 --keep --workdir /tmp/sbv1m \
        --mysql mysql://root@127.0.0.1:3306/shoebox_bench_1m
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
from shoebox.catalog.models import (
    Account,
    Album,
    AlbumPhoto,
    Face,
    File,
    Label,
    Person,
    Photo,
    Place,
    Root,
)

MEMBER = visibility.Viewer(1)  # who reads: the first of the three members

BATCH = 1_000
TRANSACTION = 10_000
DB_NAME = "shoebox_bench_viewer"
MAKES = [
    ("Canon", "EOS"), ("Sony", "ILCE"), ("Apple", "iPhone"), ("Google", "Pixel"), ("Nikon", "Z"),
    ("Fujifilm", "X-T"), ("Samsung", "Galaxy S"),
]  # fmt: skip
CAMERAS = [(make, f"{model} {i}") for i, (make, model) in enumerate(MAKES * 5)][:30]
PHONES = {"Apple", "Google", "Samsung"}  # 70% of the photos
CAMERA_WEIGHTS = [
    70 / 13 if make in PHONES else 30 / 17 for make, _ in CAMERAS
]  # 13 phone models, 17 cameras
COUNTRIES = [("FR", "France"), ("DE", "Germany"), ("IT", "Italy"), ("ES", "Spain"),
             ("US", "United States"), ("JP", "Japan"), ("GB", "United Kingdom"),
             ("NZ", "New Zealand")]  # fmt: skip
LABELS = ["beach", "dog", "cat", "snow", "food", "car", "tree", "sky", "flower", "boat",
          "mountain", "building", "baby", "cake", "bicycle", "horse", "bird", "bridge",
          "sunset", "document"]  # fmt: skip
PEOPLE = 20
WORDS = ["beach", "mountain", "birthday", "garden", "snow", "river", "market", "concert"]
LENSES = ["RF 50mm F1.8", "FE 24-70mm F2.8", "iPhone back camera", None]


Rows = tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, str | None, int | None]


def make_rows(count: int, seed: int = 7) -> Iterator[Rows]:
    """(photo, file, place or None, label or None, person or None) rows, in random date
    order."""
    rng = random.Random(seed)
    cities = [(48.85, 2.35, "FR", "France", "Paris")] + [
        (rng.uniform(-50, 65), rng.uniform(-180, 180), *rng.choice(COUNTRIES), f"City {i}")
        for i in range(1, 40)
    ]
    start = dt.datetime(2006, 1, 1)
    span = int((dt.datetime(2026, 1, 1) - start).total_seconds())
    for pid in range(1, count + 1):
        taken = start + dt.timedelta(seconds=rng.randrange(span))
        if rng.random() < 0.05:  # bursts: several photos in the same second
            taken = taken.replace(minute=0, second=0)
        local = taken + dt.timedelta(hours=2)
        make, model = rng.choices(CAMERAS, CAMERA_WEIGHTS)[0]
        city = rng.choice(cities) if rng.random() < 0.6 else None
        lat, lng = city[:2] if city else (None, None)
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
        place = None
        if city:
            code, country, name = city[2:]
            place = {"photo": pid, "country_code": code, "country": country, "city": name}
        label = rng.choice(LABELS) if rng.random() < 0.33 else None
        person = rng.randrange(1, PEOPLE + 1) if rng.random() < 0.1 else None
        yield photo, file, place, label, person


def load(catalog: Catalog, count: int) -> float:
    """Fills the catalog; returns photos per second."""
    began = time.perf_counter()
    Root.create(id=1, path="/srv/photos", path_key="r" * 32)
    for i, name in enumerate(("ana", "ben", "eve"), 1):
        Account.create(id=i, name=name, folder=f"/srv/photos/{name}")
    Person.insert_many([{"id": i, "name": f"Person {i}"} for i in range(1, PEOPLE + 1)]).execute()
    rows = make_rows(count)
    done = 0
    while done < count:
        with catalog.db.atomic():
            for _ in range(TRANSACTION // BATCH):
                batch = [row for _, row in zip(range(BATCH), rows, strict=False)]
                if not batch:
                    break
                Photo.insert_many([row[0] for row in batch]).execute()
                File.insert_many([row[1] for row in batch]).execute()
                places = [row[2] for row in batch if row[2]]
                if places:
                    Place.insert_many(places).execute()
                labels = [
                    {"photo": row[0]["id"], "name": row[3], "confidence": 0.9}
                    for row in batch
                    if row[3]
                ]
                if labels:
                    Label.insert_many(labels).execute()
                faces = [
                    {"photo": row[0]["id"], "person": row[4], "x": 0.4, "y": 0.4,
                     "width": 0.2, "height": 0.2, "score": 0.99, "embedding": b""}
                    for row in batch
                    if row[4]
                ]  # fmt: skip
                if faces:
                    Face.insert_many(faces).execute()
                done += len(batch)
    with catalog.db.atomic():
        text.rebuild()  # what the ingest's grouping writes photo by photo
    rng = random.Random(11)
    with catalog.db.atomic():
        for i in range(200):
            album = Album.create(title=f"{rng.choice(WORDS).title()} {2006 + i % 20} #{i}")
            members = rng.sample(range(1, count + 1), min(count, rng.randint(20, 500)))
            AlbumPhoto.insert_many([{"album": album.id, "photo": pid} for pid in members]).execute()
    for i in range(3):  # a few huge albums: "everything from the phones", say
        with catalog.db.atomic():
            album = Album.create(title=f"Huge {i}")
            members = rng.sample(range(1, count + 1), count // 20)
            for start in range(0, len(members), BATCH):
                AlbumPhoto.insert_many(
                    [{"album": album.id, "photo": pid} for pid in members[start : start + BATCH]]
                ).execute()
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
        (
            "timeline, deep keyset page",
            lambda: search.page(timeline, cursor=deep_cursor, total=False),
        ),
        ("timeline, offset 1000", lambda: search.page(timeline, offset=1000, total=False)),
        ("year:2019", first_page("year:2019")),
        ("year:2019 month:7", first_page("year:2019 month:7")),
        ("camera:canon", first_page("camera:canon")),
        ("camera:sony year:2019", first_page("camera:sony year:2019")),
        ("lens:rf", first_page("lens:rf")),
        ("favorite:yes", first_page("favorite:yes")),
        ("type:video", first_page("type:video")),
        ("type:video geo:yes", first_page("type:video geo:yes")),
        ("word: birthday", first_page("birthday")),
        ("word + filter: birthday year:2019", first_page("birthday year:2019")),
        ("word matching nearly all: img", first_page("img")),
        ("keyword:snow", first_page("keyword:snow")),
        ("near:48.85,2.35,50", first_page("near:48.85,2.35,50")),
        ("country:fr", first_page("country:fr")),
        ("city:paris", first_page("city:paris")),
        ('person:"person 7"', first_page('person:"person 7"')),
        ("label:dog", first_page("label:dog")),
        ("album:#17", first_page("album:#17")),
        ('album:"huge 0"', first_page('album:"huge 0"')),
        ("folder:2019/07", first_page("folder:2019/07")),
        ("path:img_00123", first_page("path:img_00123")),
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
def mysql_database(url: str, keep: bool) -> Iterator[str]:
    """The database of `url`, made afresh and dropped after, unless `keep`: then kept, and
    made only where missing."""
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
        if not keep:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"{parts.scheme}://{parts.netloc}/{name}"
    finally:
        if not keep:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def run_backend(label: str, url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    with Catalog(url, workdir) as catalog:
        if Photo.select().count() == args.photos:
            print(f"{label}: reusing the catalog of {args.photos:,} photos", flush=True)
        else:
            if Photo.select().exists():
                raise SystemExit(f"{label}: the kept catalog holds another number of photos")
            rate = load(catalog, args.photos)
            print(f"{label}: loaded {args.photos:,} photos at {rate:,.0f}/s", flush=True)
        if label == "MariaDB" and args.buffer_pool:
            # the server's own setting, for this run (put back after): InnoDB resizes its pool
            # in the background, in chunks
            size = _pool_size(url, args.buffer_pool * 1024 * 1024)
            print(f"{label}: buffer pool {size // 1024 // 1024} MB", flush=True)
        if label == "MariaDB":
            # What InnoDB does by itself after a big change (persistent statistics are
            # recalculated in the background), done now so the figures are of a settled table.
            catalog.db.execute_sql(
                "ANALYZE TABLE photo, file, album, album_photo, place, label, face"
            ).fetchall()
            time.sleep(args.settle)
        results = {}
        for name, fn in queries(args.photos) + http_queries(url, workdir):
            if args.only and not any(part in name for part in args.only.split(",")):
                continue
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
    parser.add_argument(
        "--keep", action="store_true", help="keep the catalogs, and reuse kept ones of --photos"
    )
    parser.add_argument(
        "--buffer-pool",
        type=int,
        metavar="MB",
        help="MariaDB's innodb_buffer_pool_size for the run (SET GLOBAL; put back after)",
    )
    parser.add_argument("--only", help="only the queries whose names hold one of these, a,b")
    args = parser.parse_args()

    temp: Path | None = None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbv-"))
    if args.workdir is None:
        temp = workdir
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "viewer-bench.db"
    if not args.keep:
        _remove(db_file)
    table: dict[str, dict[str, Any]] = {}
    try:
        if not args.no_sqlite:
            table["SQLite"] = run_backend("SQLite", f"sqlite:///{db_file}", workdir, args)
        if not args.no_mysql:
            with mysql_database(args.mysql, args.keep) as url:
                pool = _pool_size(url)
                try:
                    table["MariaDB"] = run_backend("MariaDB", url, workdir, args)
                finally:
                    if args.buffer_pool:
                        _pool_size(url, pool)
    finally:
        if not args.keep:
            _remove(db_file)
        if temp is not None and not args.keep:
            shutil.rmtree(temp, ignore_errors=True)

    backends = list(table)
    print(f"\n{args.photos:,} photos, p95 in ms ({', '.join(backends)}), load {_load()}\n")
    print("| query | " + " | ".join(backends) + " |")
    print("|---|" + "---:|" * len(backends))
    for name in table[backends[0]]:
        cells = " | ".join(f"{table[b][name][1]:,.1f} ms" for b in backends if name in table[b])
        print(f"| {name} | {cells} |")


def _pool_size(url: str, size: int | None = None) -> int:
    """MariaDB's buffer pool size in bytes; set first when `size` is given."""
    parts = urlsplit(url)
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=parts.username or "root", password=parts.password or "", autocommit=True,
    )  # fmt: skip
    try:
        with conn.cursor() as cur:
            if size is not None:
                cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
            cur.execute("SELECT @@innodb_buffer_pool_size")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def _remove(db_file: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)


def _load() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as `uptime` shows it."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
