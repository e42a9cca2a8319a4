"""Ingest benchmark: how fast `shoebox index` is, next to what the machine can do at best.

It is a script, not a test: it prints figures, it asserts nothing. In one run it

1. makes N realistic 12-megapixel JPEGs (4000x3000, quality 92, about 5 MB each: smooth
   colour fields, texture, hard-edged shapes and per-pixel sensor-like grain, different in
   every file) with camera EXIF (DateTimeOriginal, OffsetTimeOriginal, Make/Model, GPS, the
   same tags `shoebox.sample` writes), on every core;
2. measures the FLOOR: the same machine only decoding those files and writing the same two
   renditions (a 256x256 square tile and a 1600 px fit-inside preview, JPEG q85) with
   Pillow's draft mode, in a multiprocessing pool with one process per core and one task per
   file. Nothing else (no hashing, no tags, no database) -- no indexer can beat it;
3. measures a COLD `shoebox index` of the same N files: the real CLI in a subprocess, with a
   config file written here, a fresh SQLite catalog, an empty rendition cache and one worker
   per core. The clock runs from starting the command: until it says its fast phase is over
   (every photo VISIBLE in the catalog: identify, tags, grouping), until it says its slow
   phase is over (every file RENDERED), and until it exits (the later stages included), so
   the database writes and the start-up are included;
4. measures an UNCHANGED re-run: M small JPEGs (64x64, with EXIF; an unchanged file costs a
   stat, never a read, so its pixel count does not matter) are indexed once (set-up, but its
   files/s is reported too) and then indexed again, and that second run is timed.

Every file is in the page cache before anything is timed (they are read once beforehand), so
the floor and the cold index see the same warm disk. Other work on the machine spoils the
figures, so before each measurement the script waits (up to --settle seconds) for the other
processes to go quiet, and it reports how much CPU they took while it measured (read from
/proc; its own processes are told apart by their process group). With --repeat R the floor
and the cold index are measured R times each and the best of each is used. Besides wall-clock
throughput it reports the CPU time per file of each (every process, shoebox's forkserver
workers and exiftool included): steadier than the wall clock on a virtual machine, and the
ratio the throughput ratio tends to when both are CPU-bound.

Targets from issue 2 ("Speed"): cold index at 80% or more of the floor, and 10 files/s or
more; an unchanged re-run of 10,000 files in under 3 s. From issue 13: visible at 100 files/s
or more, rendered at 1.0x the floor or more.

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/ingest.py --files 120
    .venv/bin/python bench/ingest.py --files 120 --unchanged-files 10000 --workdir /tmp/sbb
    .venv/bin/python bench/ingest.py --files 120 --repeat 3 --workdir /tmp/sbb

With --workdir the generated photos are kept in that folder (`photos-v<recipe>/`) and reused
by later runs, so only the first run pays for making them; without it everything goes in a
temporary folder that is removed at the end. The libraries, catalogs and caches of one run
are always made afresh (hard links to the generated files) and removed afterwards, unless
--keep is given (handy for profiling a run by hand).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import io
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image, ImageDraw, features

from shoebox.ingest import renditions
from shoebox.ingest.renditions import RenditionSpec
from shoebox.sample import Shot, exif_for

# Bump when the generated files change, so that cached ones are not reused.
RECIPE = 1
BIG = (4000, 3000)
SMALL = (64, 64)
QUALITY = 92
PER_FOLDER = 250  # files per folder, like a camera's DCIM/100XXXXX

# The renditions shoebox makes by default (config: [renditions]).
TILE = 256
PREVIEW = 1600
RENDITION_QUALITY = 85

CORES = os.cpu_count() or 1

TARGET_RATIO = 0.80
TARGET_FILES_PER_S = 10.0
TARGET_VISIBLE_FILES_PER_S = 100.0
TARGET_RENDERED_RATIO = 1.0
TARGET_UNCHANGED_S_PER_10K = 3.0

CAMERAS = (
    ("Apple", "iPhone 13"),
    ("Google", "Pixel 8"),
    ("samsung", "SM-S911B"),
    ("SONY", "ILCE-7M3"),
    ("Canon", "Canon EOS R6"),
)
OFFSETS = ("+01:00", "+02:00", "-04:00", "-07:00", "+09:00", "+05:30")


# --- making photos -------------------------------------------------------------------------


def shot_for(seed: int) -> Shot:
    """The EXIF of photo number `seed`: a date, a zone, a camera and a place of its own."""
    rng = np.random.default_rng(seed + 1_000_003)
    make, model = CAMERAS[seed % len(CAMERAS)]
    taken = dt.datetime(2019, 1, 1) + dt.timedelta(minutes=37 * seed, seconds=seed % 60)
    lat = float(rng.uniform(-60, 70))
    lng = float(rng.uniform(-180, 180))
    alt = float(rng.uniform(0, 2500))
    return Shot(taken, OFFSETS[seed % len(OFFSETS)], make, model, (lat, lng, round(alt, 1)))


def _field(
    rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int], amp: float
) -> npt.NDArray[np.float32]:
    """Smooth random colour variation: a grid of random values upsampled to `size`."""
    small = rng.standard_normal((cells[1], cells[0], 3), dtype=np.float32) * amp
    channels = [
        np.asarray(Image.fromarray(small[..., c], "F").resize(size, Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    return np.stack(channels, axis=-1)


def big_picture(seed: int) -> Image.Image:
    """A 12-megapixel picture that costs a JPEG codec what a camera photo costs it."""
    rng = np.random.default_rng(seed)
    width, height = BIG
    low_size = (width // 4, height // 4)
    low = (
        _field(rng, (4, 3), low_size, 50)  # light and sky
        + _field(rng, (40, 30), low_size, 25)  # objects
        + _field(rng, (333, 250), low_size, 15)  # texture
        + rng.uniform(50, 200, 3).astype(np.float32)
    )
    im = Image.fromarray(np.clip(low, 0, 255).astype(np.uint8), "RGB")
    im = im.resize(BIG, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(40):  # hard edges
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(20, 500))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        elif shape == 1:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
        else:
            end = (x + int(rng.integers(-900, 900)), y + int(rng.integers(-900, 900)))
            draw.line((x, y, *end), fill=colour, width=int(rng.integers(2, 14)))
    pixels = np.asarray(im).astype(np.int16)
    grain = rng.integers(-12, 13, (height // 2, width // 2), dtype=np.int16)
    pixels += np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[..., None]  # fine detail
    pixels += rng.integers(-14, 15, (height, width, 1), dtype=np.int16)  # luminance noise
    pixels += rng.integers(-5, 6, (height, width, 3), dtype=np.int16)  # colour noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def small_picture(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (SMALL[1], SMALL[0], 3), dtype=np.uint8), "RGB")


def _write_photo(job: tuple[str, int, bool]) -> int:
    """Write photo `seed` to `path` unless a finished one is there; return its size."""
    path, seed, big = job
    with contextlib.suppress(FileNotFoundError):
        return os.stat(path).st_size
    im = big_picture(seed) if big else small_picture(seed)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=QUALITY, exif=exif_for(shot_for(seed)))
    tmp = f"{path}.{os.getpid()}.part"
    with open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(tmp, path)  # a run stopped half-way never leaves half a photo in the cache
    return len(buf.getvalue())


def make_photos(folder: Path, count: int, *, big: bool, cores: int) -> list[Path]:
    """Photos 0..count-1 in `folder`, made (on every core) only when not already there."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:06d}.jpg" for i in range(count)]
    missing = [(str(p), i, big) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        what = f"{BIG[0]}x{BIG[1]}" if big else f"{SMALL[0]}x{SMALL[1]}"
        say(f"making {len(missing)} {what} JPEGs in {folder} on {cores} cores ...")
        started = time.perf_counter()
        chunk = 1 if big else 64
        with multiprocessing.Pool(cores) as pool:
            for done, _ in enumerate(pool.imap_unordered(_write_photo, missing, chunk), 1):
                if done % max(1, len(missing) // 10) == 0:
                    say(f"  {done}/{len(missing)}")
        say(f"  made in {time.perf_counter() - started:.0f}s")
    return paths


def build_library(files: Sequence[Path], root: Path) -> list[Path]:
    """A library root holding `files` in camera-like folders, as hard links (copies if the
    file system refuses)."""
    made = []
    for i, src in enumerate(files):
        folder = root / "DCIM" / f"{100 + i // PER_FOLDER}SHBOX"
        folder.mkdir(parents=True, exist_ok=True)
        dst = folder / f"IMG_{i:05d}.JPG"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        made.append(dst)
    return made


def warm(files: Iterable[Path]) -> None:
    """Read every file once, so that no measurement pays for the disk and all pay the same."""
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass


# --- other work on the machine ------------------------------------------------------------


def _foreign_ticks() -> dict[int, int]:
    """CPU clock ticks used so far by every process outside this benchmark's process group
    (the shoebox command, its workers and exiftool are in the group; kernel threads are not
    counted)."""
    mine = os.getpgrp()
    ticks = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # it has just exited
        pgrp = int(fields[2])
        if pgrp not in (0, mine):
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


class Others:
    """Counts the CPU seconds that other processes use while a measurement runs, sampling
    /proc twice a second (a process that ends between samples loses its last half second)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _watch(self) -> None:
        last = _foreign_ticks()
        while True:
            stopping = self._stop.wait(0.5)
            now = _foreign_ticks()
            used = sum(t - last.get(pid, 0) for pid, t in now.items() if t >= last.get(pid, 0))
            self.seconds += used / self._hz
            last = now
            if stopping:
                return

    def __enter__(self) -> Others:
        if Path("/proc/self/stat").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()


def settle(limit: float) -> None:
    """Wait until other processes use less than a tenth of a core, for at most `limit` s."""
    waited = 0.0
    while True:
        with Others() as others:
            time.sleep(1.0)
        if others.seconds < 0.1 or waited >= limit:
            return
        if waited == 0:
            share = others.seconds / CORES
            say(f"  waiting for other processes to go quiet (they use {share:.0%} of the CPU) ...")
        waited += 1.0


@dataclass
class Measured:
    seconds: float
    others: float  # CPU seconds that other processes used meanwhile
    cpu: float  # CPU seconds that the measured processes used, all of them together

    def share(self) -> float:
        """The share of the machine that other processes took while this was measured."""
        return self.others / (self.seconds * CORES) if self.seconds else 0.0


# --- CPU time of what is measured ---------------------------------------------------------


def adopt_orphans() -> None:
    """Become the reaper of orphaned descendants (Linux's PR_SET_CHILD_SUBREAPER). shoebox's
    forkserver, which forks its workers, outlives the command and would otherwise be reaped
    by init, taking the workers' CPU time with it; this way it lands in RUSAGE_CHILDREN."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def reap_orphans(timeout: float = 10.0) -> None:
    """Wait for every child left (adopted orphans included), for at most `timeout` seconds.
    Called only when no pool of ours is alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def children_cpu() -> float:
    """User and system CPU seconds of every child (and adopted orphan) waited for so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


# --- the floor -----------------------------------------------------------------------------


def _floor_one(job: tuple[str, str]) -> tuple[float, float]:
    """Decode one photo in draft mode and write its preview and tile with shoebox's own
    rendition recipe (`renditions.render`), and nothing else. Returns the seconds spent
    decoding and rendering."""
    path, out = job
    spec = RenditionSpec(
        cache=Path(out), tile_size=TILE, preview_size=PREVIEW, quality=RENDITION_QUALITY,
        max_pixels=250_000_000, ffmpeg="ffmpeg", video_timeout=60,
    )  # fmt: skip
    t0 = time.perf_counter()
    with Image.open(path) as im:
        scale = PREVIEW / max(im.size)
        if scale < 1:  # the smallest DCT scale that still covers the preview
            im.draft("RGB", (int(im.width * scale) + 1, int(im.height * scale) + 1))
        im.load()
        t1 = time.perf_counter()
        renditions.render(spec, Path(path).stem, im)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


@dataclass
class Floor(Measured):
    decode_ms: float = 0.0  # medians per file, on one core
    render_ms: float = 0.0  # resize and encode both renditions


def measure_floor(files: Sequence[Path], out: Path, cores: int) -> Floor:
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out / f"{i:06d}")) for i, p in enumerate(files)]
    os.sync()
    cpu = children_cpu()
    with Others() as others:
        started = time.perf_counter()
        with multiprocessing.Pool(cores) as pool:
            parts = pool.map(_floor_one, jobs, chunksize=1)
        seconds = time.perf_counter() - started
    cpu = children_cpu() - cpu  # the pool's workers have been waited for
    decode, render = (statistics.median(p[k] for p in parts) * 1000 for k in range(2))
    shutil.rmtree(out, ignore_errors=True)
    return Floor(seconds, others.seconds, cpu, decode, render)


# --- shoebox -------------------------------------------------------------------------------


@dataclass
class Run(Measured):
    inside: float = 0.0  # the seconds shoebox's own summaries report (both phases)
    counts: dict[str, int] = field(default_factory=dict)
    output: str = ""
    visible: float = 0.0  # wall-clock seconds from the start until the fast phase said it ended
    rendered: float = 0.0  # ... until the slow phase said it ended


_SUMMARY = re.compile(r"visible: (?P<body>.*) in (?P<seconds>[\d.]+)s")
_RENDERED = re.compile(r"renditions: (?P<body>.*) in (?P<seconds>[\d.]+)s")


def write_config(folder: Path, root: Path, workers: int, extra: str = "") -> Path:
    """A config whose catalog and rendition cache are new files in `folder`, with `extra`
    TOML sections after the usual ones."""
    folder.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(  # JSON strings are valid TOML basic strings
        "[library]\n"
        f"originals = [{json.dumps(str(root))}]\n"
        f"cache = {json.dumps(str(folder / 'cache'))}\n"
        "\n[database]\n"
        f"url = {json.dumps('sqlite:///' + str(folder / 'catalog.db'))}\n"
        "\n[ingest]\n"
        f"workers = {workers}\n"
        "\n[renditions]\n"
        f"tile_size = {TILE}\npreview_size = {PREVIEW}\nquality = {RENDITION_QUALITY}\n" + extra,
        encoding="utf-8",
    )
    return config


def shoebox_command() -> list[str]:
    script = Path(sys.executable).parent / "shoebox"
    return [str(script)] if script.exists() else [sys.executable, "-m", "shoebox"]


def run_index(config: Path) -> Run:
    """`shoebox --config CONFIG index --plain`, timed from start to the end of each phase (as
    its summary lines come) and to its exit."""
    cmd = [*shoebox_command(), "--config", str(config), "index", "--plain"]
    os.sync()
    cpu = children_cpu()
    said: dict[str, float] = {}
    lines: list[str] = []
    with Others() as others:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        err: list[str] = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr or ()), daemon=True)
        drain.start()
        for line in proc.stdout or ():
            lines.append(line)
            for name in ("visible", "renditions"):
                if line.startswith(f"{name}: "):
                    said[name] = time.perf_counter() - started
        proc.wait()
        drain.join()
        wall = time.perf_counter() - started
    reap_orphans()
    cpu = children_cpu() - cpu
    stdout = "".join(lines)
    output = stdout + "".join(err)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{output}")
    found, rendered = _SUMMARY.search(stdout), _RENDERED.search(stdout)
    if found is None or rendered is None:
        raise SystemExit(f"no summary lines in the output of {' '.join(cmd)}:\n{output}")
    counts = {}
    for part in found["body"].split(", ") + rendered["body"].split(", "):
        number, _, what = part.partition(" ")
        if number.isdigit():
            counts[what.split(" ")[0]] = counts.get(what.split(" ")[0], 0) + int(number)
    inside = float(found["seconds"]) + float(rendered["seconds"])
    return Run(wall, others.seconds, cpu, inside, counts, output, said["visible"],
               said["renditions"])  # fmt: skip


def check_counts(run: Run, what: str, **expected: int) -> None:
    if any(run.counts.get(k) != v for k, v in expected.items()):
        say(f"WARNING: {what}: expected {expected}, shoebox said {run.counts}")
        say(run.output[-3000:])


# --- reporting -----------------------------------------------------------------------------


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    exiftool = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        exiftool = subprocess.run(
            ["exiftool", "-ver"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    turbo = features.version("jpg") or "?"
    if features.check_feature("libjpeg_turbo"):
        turbo = f"libjpeg-turbo {features.version('libjpeg_turbo')}"
    return [
        ("cores", f"{os.cpu_count()} ({cpu})"),
        ("python", platform.python_version()),
        ("Pillow", f"{PIL.__version__} ({turbo})"),
        ("exiftool", exiftool),
        ("system", platform.platform()),
    ]


def each(values: Iterable[str]) -> str:
    return ", ".join(values)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    head = ("measure", "result", "target", "")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in (head, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def disturbed(what: str, measured: Measured) -> str | None:
    share = measured.share()
    if share < 0.05:
        return None
    return (
        f"  WARNING: other processes took {share:.0%} of the CPU during the {what}; "
        "its figure is lower than this machine can do"
    )


# --- the run -------------------------------------------------------------------------------


@contextlib.contextmanager
def folder_for(workdir: Path | None, keep: bool) -> Iterator[tuple[Path, Path]]:
    """(where generated photos are cached, where this run's libraries and catalogs go)."""
    base = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="shoebox-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    run = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    try:
        yield base / f"photos-v{RECIPE}", run
    finally:
        if keep:
            say(f"kept this run's libraries, catalogs and caches in {run}")
        elif workdir is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            shutil.rmtree(run, ignore_errors=True)


@dataclass
class Results:
    n: int
    sizes: list[int]
    floors: list[Floor]
    colds: list[Run]
    m: int = 0
    setup: Run | None = None
    rerun: Run | None = None


def measure(args: argparse.Namespace, photos: Path, run: Path) -> Results:
    cores = args.workers
    big = make_photos(photos / "12mp", args.files, big=True, cores=cores)
    small = make_photos(photos / "small", args.unchanged_files, big=False, cores=cores)
    big_lib = build_library(big, run / "big")
    warm(big_lib)
    results = Results(len(big), [p.stat().st_size for p in big], [], [], len(small))
    for k in range(1, args.repeat + 1):
        of = f" ({k}/{args.repeat})" if args.repeat > 1 else ""
        say(f"floor{of}: decoding {len(big)} files and writing two renditions on {cores} cores")
        settle(args.settle)
        results.floors.append(measure_floor(big_lib, run / "floor", cores))
        say(f"cold{of}: shoebox index of {len(big)} files, fresh catalog and cache")
        settle(args.settle)
        cold = run_index(write_config(run / f"cold-{k}", run / "big", cores))
        check_counts(cold, "cold index", new=len(big), rendered=len(big), failed=0)
        results.colds.append(cold)
    if small:
        small_lib = build_library(small, run / "small")
        warm(small_lib)
        config = write_config(run / "unchanged", run / "small", cores)
        say(f"unchanged: indexing {len(small)} small files once (set-up)")
        settle(args.settle)
        results.setup = run_index(config)
        check_counts(results.setup, "set-up index", new=len(small), failed=0)
        say("unchanged: running shoebox index again")
        settle(args.settle)
        results.rerun = run_index(config)
        check_counts(results.rerun, "unchanged re-run", new=0, changed=0, unchanged=len(small))
    return results


def report(r: Results, cores: int) -> None:
    floor = min(r.floors, key=lambda f: f.seconds)
    cold = min(r.colds, key=lambda c: c.seconds)
    floor_rate, cold_rate = r.n / floor.seconds, r.n / cold.seconds
    ratio = cold_rate / floor_rate
    visible_rate = r.n / min(c.visible for c in r.colds)
    rendered_rate = r.n / min(c.rendered for c in r.colds)
    best = f" (best of {len(r.floors)})" if len(r.floors) > 1 else ""
    rows = [
        (f"floor: Pillow draft decode + 2 renditions{best}", f"{floor_rate:.2f} files/s", "", ""),
        (
            f"visible: fast phase over (wall clock){best}",
            f"{visible_rate:.1f} files/s",
            f">= {TARGET_VISIBLE_FILES_PER_S:g} files/s",
            verdict(visible_rate >= TARGET_VISIBLE_FILES_PER_S),
        ),
        (
            f"rendered: slow phase over (wall clock){best}",
            f"{rendered_rate:.2f} files/s, {rendered_rate / floor_rate:.2f}x the floor",
            f">= {TARGET_RENDERED_RATIO:g}x",
            verdict(rendered_rate / floor_rate >= TARGET_RENDERED_RATIO),
        ),
        (
            f"cold shoebox index (wall clock){best}",
            f"{cold_rate:.2f} files/s",
            f">= {TARGET_FILES_PER_S:g} files/s",
            verdict(cold_rate >= TARGET_FILES_PER_S),
        ),
        ("cold / floor", f"{ratio:.0%}", f">= {TARGET_RATIO:.0%}", verdict(ratio >= TARGET_RATIO)),
    ]
    if r.setup is not None and r.rerun is not None:
        # The target is for 10,000 files; start-up is a fixed cost, so it only scales up.
        limit = TARGET_UNCHANGED_S_PER_10K * r.m / 10_000
        if r.m >= 10_000:
            target, judged = f"< {limit:g} s", verdict(r.rerun.seconds < limit)
        else:
            target, judged = f"(< {TARGET_UNCHANGED_S_PER_10K:g} s for 10000)", ""
        rows += [
            (f"cold index of {r.m} small files (set-up)", f"{r.m / r.setup.seconds:.1f} files/s",
             "", ""),
            (f"unchanged re-run, {r.m} files (wall clock)", f"{r.rerun.seconds:.2f} s", target,
             judged),
        ]  # fmt: skip
    mb = [s / 1e6 for s in r.sizes]
    print()
    print(
        f"shoebox ingest benchmark: {r.n} JPEGs of {BIG[0]}x{BIG[1]} at q{QUALITY}, "
        f"{statistics.mean(mb):.2f} MB mean ({min(mb):.2f}-{max(mb):.2f} MB), "
        f"{cores} worker processes, warm page cache"
    )
    print()
    print(table(rows))
    print()
    print("details")
    print(
        f"  floor: {floor.seconds:.1f} s for {r.n} files; per file on one core (median): "
        f"decode {floor.decode_ms:.0f} ms, render (resize, encode, write) {floor.render_ms:.0f} ms"
    )
    print(
        f"  cold index: {cold.seconds:.1f} s wall clock (visible after {cold.visible:.1f} s, "
        f"rendered after {cold.rendered:.1f} s), {cold.inside:.1f} s by its own summaries "
        f"({r.n / cold.inside:.2f} files/s without start-up and later stages)"
    )
    # CPU time is steadier than wall-clock time on a shared or virtual machine, and when
    # both are CPU-bound its ratio is what the throughput ratio tends to.
    floor_ms = [f.cpu / r.n * 1000 for f in r.floors]
    cold_ms = [c.cpu / r.n * 1000 for c in r.colds]
    print(
        f"  CPU time per file, all processes (least of each): floor {min(floor_ms):.0f} ms, "
        f"cold index {min(cold_ms):.0f} ms (+{min(cold_ms) - min(floor_ms):.0f} ms); "
        f"floor / cold {min(floor_ms) / min(cold_ms):.0%}"
    )
    if len(r.floors) > 1:
        print(
            f"  every floor: {each(f'{r.n / f.seconds:.2f}' for f in r.floors)} files/s, "
            f"{each(f'{ms:.0f}' for ms in floor_ms)} ms CPU/file, other processes took "
            f"{each(f'{f.share():.0%}' for f in r.floors)} of the CPU"
        )
        print(
            f"  every cold:  {each(f'{r.n / c.seconds:.2f}' for c in r.colds)} files/s, "
            f"{each(f'{ms:.0f}' for ms in cold_ms)} ms CPU/file, other processes took "
            f"{each(f'{c.share():.0%}' for c in r.colds)} of the CPU"
        )
        pairs = (f.seconds / c.seconds for f, c in zip(r.floors, r.colds, strict=True))
        print(f"  cold / floor of each repetition: {each(f'{x:.0%}' for x in pairs)}")
    if r.setup is not None and r.rerun is not None:
        print(
            f"  set-up index: {r.setup.seconds:.1f} s wall clock, "
            f"{r.setup.inside:.1f} s by its summary, {r.setup.cpu / r.m * 1000:.1f} ms CPU/file"
        )
        print(
            f"  unchanged re-run: {r.rerun.seconds:.2f} s wall clock, "
            f"{r.rerun.inside:.2f} s by its summary"
        )
    measured = [("floor", f) for f in r.floors] + [("cold index", c) for c in r.colds]
    measured += [(w, m) for w, m in (("set-up index", r.setup), ("unchanged re-run", r.rerun)) if m]
    print(
        "  other processes' share of the CPU while measuring: "
        + f"at most {max(m.share() for _, m in measured):.0%}"
    )
    for what, m in measured:
        if warning := disturbed(what, m):
            print(warning)
    print()
    print("machine")
    for name, value in machine():
        print(f"  {name:9} {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=120, help="12-MP JPEGs to index (N)")
    parser.add_argument(
        "--unchanged-files",
        type=int,
        default=10_000,
        help="small JPEGs for the unchanged re-run (M); 0 skips it",
    )
    parser.add_argument("--workdir", type=Path, help="keep generated photos here between runs")
    parser.add_argument(
        "--workers", type=int, default=CORES, help="processes (default: one per core)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure floor and cold index R times, keep the best"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds to wait at most for other processes to go quiet before each measurement",
    )
    parser.add_argument("--keep", action="store_true", help="keep this run's libraries")
    args = parser.parse_args(argv)
    if min(args.files, args.workers, args.repeat) < 1 or args.unchanged_files < 0:
        parser.error("--files, --workers and --repeat must be at least 1")
    workdir = args.workdir.resolve() if args.workdir else None
    adopt_orphans()
    with folder_for(workdir, args.keep) as (photos, run):
        results = measure(args, photos, run)
    report(results, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
