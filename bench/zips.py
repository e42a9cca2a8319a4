"""Zip benchmark: a big album downloaded as one zip from a running `shoebox viewer`, its speed
beside reading the same files, and the viewer's memory while it streams.

It is a script, not a test: it prints figures, it asserts nothing. It

1. writes --files files of random bytes (default 100 of 10 MiB: 1 GiB; kept in --workdir and
   reused) into a library, and a fresh SQLite catalog with a member, one photo per file and
   an album of them all (catalog rows written directly: the zip reads the catalog and the
   files, not the pictures);
2. starts `shoebox viewer` on a free loopback port, logs in through the real form, and reads
   `GET /album/ID/zip` to the end with curl, --repeat times, while a thread reads the
   viewer's resident memory (VmRSS) every 20 ms;
3. reads the same files with `cat` into /dev/null just before, for the disk's speed (both
   warm: the files were just written or read, so this compares the viewer's work with a
   plain read, not two disks).

Issue 16 asks that a 1 GB album zip streams at disk speed with flat memory in the viewer.

    .venv/bin/python bench/zips.py --workdir /tmp/shoebox-bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import shoebox_command, write_config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, Album, AlbumPhoto, File, Photo, Root
from shoebox.passwords import hash_password

MiB = 1 << 20


def make_files(folder: Path, count: int, size_mib: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"IMG_{n:04d}.JPG"
        if not path.exists() or path.stat().st_size != size_mib * MiB:
            with path.open("wb") as out:
                for _ in range(size_mib):
                    out.write(os.urandom(MiB))
        paths.append(path)
    return paths


def fill_catalog(config: Path, root: Path, files: list[Path], password: str) -> int:
    """The member `ada`, a photo per file and one album of them all; returns the album's id."""
    from shoebox import config as shoebox_config

    settings = shoebox_config.load(config)
    with Catalog(settings.database.url, settings.source.parent):
        ada = Account.create(
            name="ada", password_hash=hash_password(password), folder=str(root), role="member"
        )
        row = Root.create(path=str(root), path_key=secrets.token_hex(16))
        start = dt.datetime(2024, 1, 1)
        album = Album.create(title="Big", owner=ada)
        for n, path in enumerate(files):
            taken = start + dt.timedelta(minutes=n)
            photo = Photo.create(
                type="image", taken_at=taken, taken_at_local=taken, taken_at_source="exif",
                year=taken.year, month=taken.month, owner=ada,
            )  # fmt: skip
            rel = str(path.relative_to(root))
            File.create(
                root=row, rel_path=rel, rel_path_raw=rel.encode(), path_key=secrets.token_hex(16),
                stem_key=secrets.token_hex(16), size=path.stat().st_size, mtime_ns=1,
                role="original", photo=photo, mime="image/jpeg", hash=secrets.token_hex(32),
            )  # fmt: skip
            AlbumPhoto.create(album=album, photo=photo)
        return int(album.id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_in(url: str, password: str) -> http.cookiejar.CookieJar:
    """The cookies of a member logged in through the real form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    deadline = time.monotonic() + 30
    while True:
        try:
            form = opener.open(url + "login").read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # a script waiting for a server to listen, not a test
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None
    body = urllib.parse.urlencode(
        {"csrf_token": found[1], "next": "/", "name": "ada", "password": password}
    ).encode()
    opener.open(url + "login", body).read()
    return jar


class RSS:
    """The peak and the samples of a process's VmRSS, read every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples = pid, [0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(found[1]) * 1024 if found else 0

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append(self.read())

    def __enter__(self) -> RSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--size-mib", type=int, default=10, help="MiB per file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the files here between runs")
    parser.add_argument("--profile", type=Path, help="py-spy's flame graph of the viewer here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="shoebox-zips-"))
    root = work / "zips-library"
    files = make_files(root / "2024" / "big", args.files, args.size_mib)
    total = sum(p.stat().st_size for p in files)
    run = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    port = free_port()
    config = write_config(run, root, 1, f'\n[viewer]\nlisten = "127.0.0.1:{port}"\n')
    password = secrets.token_urlsafe(12)
    album = fill_catalog(config, root, files, password)
    url = f"http://127.0.0.1:{port}/"
    viewer = subprocess.Popen(
        [*shoebox_command(), "--config", str(config), "viewer"],
        stdout=subprocess.DEVNULL, stderr=(run / "viewer.log").open("wb"),
    )  # fmt: skip
    try:
        cookies = "; ".join(f"{c.name}={c.value}" for c in log_in(url, password))
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                ["py-spy", "record", "-p", str(viewer.pid), "-o", str(args.profile), "-t"]
            )
        before = RSS(viewer.pid).read()
        print(f"zip of an album of {args.files} files, {total / 1e9:.2f} GB, from {url}")
        peaks = []
        for attempt in range(args.repeat):
            started = time.monotonic()
            subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
            cat_s = time.monotonic() - started
            with RSS(viewer.pid) as rss:
                fetched = subprocess.run(
                    ["curl", "-sS", "-o", "/dev/null", "-D", "-", "-b", cookies,
                     "-w", "%{size_download} %{time_total}", f"{url}album/{album}/zip"],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
            said, timing = fetched.stdout.rsplit("\n", 1)
            got, zip_s = int(timing.split()[0]), float(timing.split()[1])
            found = re.search(r"(?im)^content-length: (\d+)", said)
            length = int(found[1]) if found else -1
            peaks.append(max(rss.samples))
            print(
                f"  run {attempt + 1}: zip {got / zip_s / 1e6:,.0f} MB/s ({zip_s:.2f} s, "
                f"Content-Length {'exact' if length == got else f'{length} != {got}'}); "
                f"cat of the files {total / cat_s / 1e6:,.0f} MB/s ({cat_s:.2f} s); "
                f"viewer RSS at most {peaks[-1] / 1e6:.1f} MB"
            )
        print(
            f"viewer RSS: {before / 1e6:.1f} MB before the first zip, at most "
            f"{max(peaks) / 1e6:.1f} MB while streaming ({len(rss.samples)} samples in the last run)"
        )
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
    finally:
        viewer.terminate()
        viewer.wait(10)


if __name__ == "__main__":
    main()
