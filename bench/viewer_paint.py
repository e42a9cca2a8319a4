"""Timeline paint benchmark: how soon a browser shows the first screen of the justified grid.

It is a script, not a test: it prints figures, it asserts nothing. It

1. builds a SQLite catalog of N photos (default 100,000) with bench/viewer.py's `load` (the
   same library as the query benchmark), then gives a third of them a portrait shape, one in
   twenty a panorama's and one in fifty no size at all, and every photo one real tile
   rendition (a 341x256 JPEG in the cache), so that the grid has mixed rows and pictures;
2. serves the viewer (waitress, 8 threads, in this process) to 127.0.0.1, where the first
   member logs in (as bench/viewer.py's queries read: her photos and the household's);
3. opens the timeline --runs times (default 20, after one run not counted) in Debian's
   Chromium, headless, each time in a new browser context (logged in, nothing cached: a first
   visit) and then again in the same one (the scripts and tiles in the browser's cache,
   as on every later visit), at a desktop's size (1366x900) and a phone's (390x844), and
   reads from the page's own
   `performance` timings (milliseconds from the start of the navigation):
   - the first paint and the first contentful paint (the Paint Timing entries),
   - "first screen": the first animation frame in which the tiles reach the bottom of the
     window and every tile in it has its size (an init script checks each frame), that is
     when the first screen of the grid is laid out, pictures or not,
   - the first and last byte of the page (the server's share), the DOMContentLoaded event,
     and when every picture of the first screen has arrived;
   and prints p50 and p95 of each.

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/viewer_paint.py --photos 100000 --runs 20
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import sync_playwright

from shoebox import config
from shoebox.catalog.cache import TILE, rendition_path
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, Photo
from shoebox.passwords import hash_password

sys.path.insert(0, str(Path(__file__).resolve().parent))
from viewer import load  # bench/viewer.py: the query benchmark's catalog

CHROMIUM = "/usr/bin/chromium"
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
TILE_HASH = "b" * 64  # every photo shows the same tile rendition
PASSWORD = "bench password"  # noqa: S105 - of the first member (bench/viewer.py's "ana")

# Run in the page before its own scripts: the time of the first frame in which the first
# screen of tiles is laid out.
WATCH = """(() => {
  const check = () => {
    const tiles = document.querySelectorAll("#photos .tile");
    if (tiles.length) {
      const last = tiles[tiles.length - 1].getBoundingClientRect();
      const full = last.bottom >= innerHeight || document.readyState !== "loading";
      const shown = [...tiles].filter((t) => t.getBoundingClientRect().top < innerHeight);
      if (full && shown.every((t) => { const r = t.getBoundingClientRect(); return r.width > 0 && r.height > 0; })) {
        window.__firstScreen = performance.now();
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();"""

READ = """async () => {
  const shown = [...document.querySelectorAll("#photos .tile img")]
    .filter((i) => i.getBoundingClientRect().top < innerHeight);
  await Promise.all(shown.map((i) => i.decode().catch(() => null)));
  const pictures = performance.now();
  const paint = Object.fromEntries(performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    "the page's first byte": nav.responseStart,
    "the page's last byte": nav.responseEnd,
    "first paint": paint["first-paint"],
    "first contentful paint": paint["first-contentful-paint"],
    "first screen of tiles laid out": window.__firstScreen,
    "DOMContentLoaded": nav.domContentLoadedEventEnd,
    "first screen's pictures decoded": pictures,
    "tiles on the first screen": shown.length,
  };
}"""


def shape(catalog: Catalog, workdir: Path) -> None:
    """Mixed shapes and one real tile for every photo (the query benchmark's are all 4:3), and
    a password for the first member, who reads the timeline."""
    with catalog.db.atomic():
        Account.update(password_hash=hash_password(PASSWORD)).where(Account.id == 1).execute()
        Photo.update(width=3000, height=4000).where(Photo.id % 3 == 0).execute()
        Photo.update(width=8000, height=2000).where(Photo.id % 20 == 1).execute()
        Photo.update(width=None, height=None).where(Photo.id % 50 == 7).execute()
        Photo.update(thumb_hash=TILE_HASH).execute()
    tile = rendition_path(workdir / "cache", TILE_HASH, TILE)
    tile.parent.mkdir(parents=True, exist_ok=True)
    Image.linear_gradient("L").resize((341, 256)).convert("RGB").save(tile, quality=80)


@contextmanager
def serving(settings: config.Settings) -> Iterator[str]:
    import waitress

    from shoebox_viewer.app import make_app

    server = waitress.create_server(
        make_app(settings), host="127.0.0.1", port=0, threads=8, ident="shoebox"
    )
    thread = threading.Thread(target=server.run, name="viewer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"
    finally:
        logging.getLogger("waitress").setLevel(logging.CRITICAL)  # requests cut off at the end
        server.close()
        thread.join(timeout=10)


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def measure(url: str, runs: int) -> dict[str, dict[str, list[float]]]:
    found: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for size, (width, height) in SIZES.items():
                phone = size == "phone"
                for run in range(runs + 1):  # the first warms the server and the browser
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        has_touch=phone, is_mobile=phone, device_scale_factor=1,
                    )  # fmt: skip
                    context.add_init_script(WATCH)
                    context.request.get(url + "login")  # the CSRF cookie
                    csrf = next(c["value"] for c in context.cookies() if c["name"] == "sb_csrf")
                    login = {"name": "ana", "password": PASSWORD, "csrf_token": csrf}
                    assert context.request.post(url + "login", form=login).ok
                    page = context.new_page()
                    for visit in ("first visit", "next visit"):
                        page.goto(url, wait_until="load")
                        page.wait_for_function(
                            "() => window.__firstScreen !== undefined"
                            " && performance.getEntriesByType('paint').length === 2"
                        )
                        figures: dict[str, Any] = page.evaluate(READ)
                        figures["the page's last byte to the first screen"] = (
                            figures["first screen of tiles laid out"]
                            - figures["the page's last byte"]
                        )
                        for name, value in figures.items():
                            if value is None:
                                raise SystemExit(f"{size}, {visit}, run {run}: no {name}")
                            if run:
                                key = f"{size}, {visit}"
                                found.setdefault(key, {}).setdefault(name, []).append(float(value))
                    context.close()
        finally:
            browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="for the catalog (default: a temp)")
    args = parser.parse_args()

    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbp-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "paint-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    (workdir / "library").mkdir(exist_ok=True)
    settings_file = workdir / "paint-bench.toml"
    settings_file.write_text(
        f'[library]\noriginals = ["{workdir / "library"}"]\ncache = "{workdir / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{db_file}"\n'
    )
    try:
        with Catalog(f"sqlite:///{db_file}", workdir) as catalog:
            began = time.perf_counter()
            load(catalog, args.photos)
            shape(catalog, workdir)
            print(
                f"{args.photos:,} photos loaded in {time.perf_counter() - began:.0f} s", flush=True
            )
            with serving(config.load(settings_file)) as url:
                found = measure(url, args.runs)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_file}{suffix}").unlink(missing_ok=True)

    busy = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"\nthe timeline of {args.photos:,} photos, {args.runs} runs; ms from the navigation")
    print(f"(load average at the end: {busy}, on {os.cpu_count()} cores)\n")
    print("| measure, ms (p50 / p95) | " + " | ".join(found) + " |")
    print("|---|" + "---:|" * len(found))
    for name in next(iter(found.values())):
        cells = " | ".join("{:.0f} / {:.0f}".format(*percentiles(f[name])) for f in found.values())
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
