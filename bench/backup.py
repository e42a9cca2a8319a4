"""Backup and restore benchmark: the time and size of `shoebox backup` and `shoebox restore` on
a catalog of N photos (default 100,000), on SQLite and on MariaDB, and across them.

It is a script, not a test: it prints figures, it asserts nothing. The catalog is the one
bench/viewer.py builds (one file a photo, 200 albums, search texts), plus what an indexed
library holds besides: each file's metadata as JSON (about 700 bytes, varied), and faces on
a fifth of the photos (1.3 a photo, 128 float32 values each). Then, for each backend, it
times one backup (gzip level 6, the default, and level 1 for comparison), and restores each
backup into an empty catalog of each backend.

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/backup.py --photos 100000 --workdir /tmp/sbb
    .venv/bin/python bench/backup.py --photos 10000 --no-mysql
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pymysql  # type: ignore[import-untyped]

from shoebox import backups
from shoebox.catalog import dump
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Face, File, Person
from viewer import load  # bench/viewer.py: the same catalog the viewer's benchmark uses

MYSQL = "mysql://root@127.0.0.1:3306"


def mysql(sql: str) -> None:
    con = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with con.cursor() as cur:
        cur.execute(sql)
    con.close()


def url_of(kind: str, work: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work / (name + '.db')}"
    mysql(f"DROP DATABASE IF EXISTS {name}")
    mysql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    return f"{MYSQL}/{name}"


def enrich(catalog: Catalog, count: int) -> None:
    """What indexing adds besides bench/viewer.py's rows: metadata JSON and faces."""
    rng = random.Random(5)
    db = catalog.db
    with db.atomic():
        people = [Person.create(name=f"Person {i}" if i % 3 else None).id for i in range(60)]
    for start in range(1, count + 1, 5000):
        with db.atomic():
            for fid in range(start, min(count + 1, start + 5000)):
                meta = {
                    "mime": "image/jpeg", "taken_at": f"2019-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:{rng.randint(10, 59)}:00",
                    "taken_at_source": "DateTimeOriginal", "timezone": "+02:00",
                    "lat": rng.uniform(-50, 60), "lng": rng.uniform(-180, 180), "altitude": rng.uniform(0, 900),
                    "camera_make": "Canon", "camera_model": f"EOS {rng.randint(1, 99)}D", "lens_model": "EF 50mm f/1.8",
                    "iso": rng.choice([100, 200, 400, 800]), "exposure_time": 1 / rng.choice([60, 125, 250]),
                    "f_number": rng.choice([1.8, 2.8, 4.0]), "focal_length": 50.0, "focal_length_35mm": 80.0,
                    "width": 6000, "height": 4000, "orientation": 1, "duration": None, "codec": None, "fps": None,
                    "title": None, "description": None, "keywords": [], "artist": None, "copyright": None,
                    "rating": None, "content_id": None, "kind": "image", "animated": False,
                }  # fmt: skip
                File.update(meta=json.dumps(meta)).where(File.id == fid).execute()
        with db.atomic():
            faces = [
                {
                    "photo": pid, "x": rng.random() * 0.8, "y": rng.random() * 0.8, "width": 0.1,
                    "height": 0.12, "score": rng.random(), "embedding": rng.randbytes(512),
                    "person": rng.choice(people), "confirmed": rng.random() < 0.1,
                }
                for pid in range(start, min(count + 1, start + 5000))
                if rng.random() < 0.2
                for _ in range(rng.choice([1, 1, 2]))
            ]  # fmt: skip
            for i in range(0, len(faces), 500):
                Face.insert_many(faces[i : i + 500]).execute()


def timed_backup(catalog: Catalog, folder: Path, level: int) -> tuple[float, int, str]:
    """Seconds, bytes and path of one backup at a gzip level."""
    began = time.perf_counter()
    if level == 6:
        made = backups.make(catalog.db, folder)
        return time.perf_counter() - began, made.size, str(made.path)
    sink = io.BytesIO()
    dump.write(catalog.db, sink, level=level)
    return time.perf_counter() - began, len(sink.getvalue()), ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-mysql", action="store_true", help="SQLite only")
    args = parser.parse_args()
    work: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbb-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kinds = ["sqlite"] if args.no_mysql else ["sqlite", "mariadb"]
    made: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for kind in kinds:
        url = url_of(kind, work, "shoebox_bench_backup")
        with Catalog(url, work) as catalog:
            print(f"{kind}: building {args.photos} photos ...", file=sys.stderr)
            load(catalog, args.photos)
            enrich(catalog, args.photos)
            rows = {t: int(catalog.db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0])  # noqa: S608
                    for t in ("photo", "file", "face", "album_photo", "photo_text")}  # fmt: skip
            print(f"{kind}: rows {rows}", file=sys.stderr)
            for level in (6, 1):
                seconds, size, path = timed_backup(catalog, work / f"backups-{kind}", level)
                results.append(
                    (f"backup on {kind}, gzip {level}", f"{seconds:.1f} s, {size / 1e6:.1f} MB")
                )
                if path:
                    made[kind] = path
    for source, path in made.items():
        for target in kinds:
            url = url_of(target, work, f"shoebox_bench_restore_{target}")
            began = time.perf_counter()
            with Catalog(url, work, upgrade=False) as catalog:
                dump.restore(catalog.db, Path(path), force=True, sha256=backups.manifest_sha256(Path(path)),
                             prepare=catalog.prepare)  # fmt: skip
            results.append(
                (f"restore {source} -> {target}", f"{time.perf_counter() - began:.1f} s")
            )
    if not args.no_mysql:
        for name in ("shoebox_bench_backup", "shoebox_bench_restore_mariadb"):
            mysql(f"DROP DATABASE IF EXISTS {name}")
    for what, figure in results:
        print(f"| {what} | {figure} |")


if __name__ == "__main__":
    main()
