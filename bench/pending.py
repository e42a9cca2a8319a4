"""What a tile costs the viewer before its rendition exists, beside one that exists: a
logged-in member's `GET /tile/<id>` answered in-process (WSGI, no HTTP server) for a made tile
(the fast lane), a pending photo whose JPEG has an EXIF thumbnail (read out of the file's
bytes: `shoebox.embedded`), and a pending photo without one (the placeholder); and one
`GET /api/rendered` for a page's worth of ids, as the grid asks every 2.5 s.

    .venv/bin/python bench/pending.py --requests 400 --workdir /tmp/sbp
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import webtest
from PIL import Image

from shoebox import config
from shoebox.catalog.cache import PREVIEW, TILE, rendition_path
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, File, Photo
from shoebox.ingest.run import Indexer
from shoebox.passwords import hash_password
from shoebox.sample import Shot, write_jpeg
from shoebox_viewer.app import make_app
from shoebox_viewer.grid import PAGE_SIZE


def library(root: Path, workdir: Path) -> None:
    """A photo with a camera's EXIF thumbnail (orientation 6) and two 12-MP-shaped ones."""
    taken = dt.datetime(2024, 5, 1, 12, 0, 0)
    write_jpeg(root / "thumbed.jpg", Shot(taken, "+00:00", orientation=6), (1200, 900), seed=1)
    thumb = workdir / "thumb.jpg"
    Image.new("RGB", (120, 160), (20, 40, 220)).save(thumb, "JPEG", quality=90)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={thumb}", str(root / "thumbed.jpg")],
        check=True, timeout=60,
    )  # fmt: skip
    for i, name in enumerate(("plain", "made")):
        write_jpeg(root / f"{name}.jpg", Shot(taken - dt.timedelta(hours=i + 1), "+00:00"), seed=i)


def timed(app: webtest.TestApp, path: str, requests: int) -> tuple[float, float, str]:
    """p50 and p95 in ms of `requests` GETs of `path`, and the answer's type and size."""
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        answer = app.get(path)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    what = f"{answer.content_type}, {len(answer.body)} B"
    return times[len(times) // 2], times[len(times) * 95 // 100], what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    root = args.workdir / "originals"
    root.mkdir(parents=True)
    library(root, args.workdir)
    cfg = args.workdir / "config.toml"
    cfg.write_text(
        f'[library]\noriginals = ["{root}"]\ncache = "{args.workdir / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{args.workdir / "catalog.db"}"\n'
    )
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    Indexer(settings, catalog, interactive=False).index([])
    password = secrets.token_urlsafe(12)
    Account.create(name="ada", password_hash=hash_password(password), folder="/x", role="admin")
    app = webtest.TestApp(make_app(settings), extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    form = app.get("/login").forms[0]
    form["name"], form["password"] = "ada", password
    form.submit()
    ids = {n: File.get(File.rel_path == f"{n}.jpg").photo_id for n in ("made", "thumbed", "plain")}
    for name in ("thumbed", "plain"):  # as the ingest's fast phase leaves them
        content_hash = Photo.get_by_id(ids[name]).thumb_hash
        for rendition in (TILE, PREVIEW):
            rendition_path(settings.library.cache, content_hash, rendition).unlink()
    print(f"{args.requests} requests each; p50 / p95 in ms")
    for name, label in (
        ("made", "made tile (fast lane)"),
        ("thumbed", "pending, EXIF thumbnail"),
        ("plain", "pending, placeholder"),
    ):
        p50, p95, what = timed(app, f"/tile/{ids[name]}", args.requests)
        print(f"{label:26} {p50:6.2f} {p95:6.2f}   {what}")
    asked = ",".join(str(i) for i in [*ids.values(), *range(10**6, 10**6 + PAGE_SIZE - 3)])
    p50, p95, _ = timed(app, f"/api/rendered?ids={asked}", args.requests // 4)
    print(f"{'/api/rendered, ' + str(PAGE_SIZE) + ' ids':26} {p50:6.2f} {p95:6.2f}")
    catalog.close()


if __name__ == "__main__":
    main()
