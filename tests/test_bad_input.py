"""Bad input never stops a run and never loses data: each bad file gets an error row and one
log line, the good files around it are indexed, and nothing under a root is written."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import Library
from shoebox.catalog.models import File, IngestError
from shoebox.errors import StageError
from shoebox.ingest import renditions
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.identify import hash_file
from shoebox.ingest.run import Indexer
from shoebox.sample import Shot, write_jpeg, write_video


def snapshot(root: Path) -> dict[bytes, tuple[int, int, str]]:
    """Every file under a root: size, mtime and content hash."""
    found = {}
    for folder, _dirs, files in os.walk(os.fsencode(root)):
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            found[path] = (st.st_size, st.st_mtime_ns, digest)
    return found


def png_bomb(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims a huge canvas."""
    Image.new("L", (1, 1)).save(path, "PNG")
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", width, height) + data[24:29]
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def errors() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for row in IngestError.select():
        found.setdefault(row.rel_path, []).append((row.stage, row.message))
    return found


def test_bad_files_are_recorded_and_the_run_goes_on(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    root = library.root
    good = write_jpeg(root / "good.jpg", Shot())
    (root / "empty.jpg").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(good.read_bytes()[:3000])
    (root / "noise.jpg").write_bytes(os.urandom(5000))
    Image.new("RGB", (40, 30), (0, 128, 255)).save(root / "really-a-png.jpg", "PNG")
    png_bomb(root / "bomb.png", 30000, 30000)
    shutil.copy(good, os.fsencode(root) + b"/caf\xe9-latin1.jpg")
    before = snapshot(root)

    summary = library.index()

    assert snapshot(root) == before, "indexing wrote under the library root"
    assert summary.new == 7
    found = errors()
    assert set(found) == {"empty.jpg", "truncated.jpg", "noise.jpg", "bomb.png"}
    assert found["empty.jpg"] == [("identify", "the file is empty")]
    assert found["noise.jpg"][0][0] == "identify"
    assert found["truncated.jpg"][0][0] == "renditions"
    assert "refused" in found["bomb.png"][0][1] and "max_pixels" in found["bomb.png"][0][1]
    assert summary.failed == 4
    for name in found:  # one clear log line each, naming the file
        assert sum(name in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1

    # The truncated JPEG and the bomb are still photos (nothing is lost), without renditions.
    assert library.photo_of("truncated.jpg")["thumb_hash"] is None
    assert library.photo_of("bomb.png")["width"] == 30000
    # Content, not the extension, decides the type.
    png = library.photo_of("really-a-png.jpg")
    assert png["files"][0]["mime"] == "image/png"
    assert png["thumb_hash"] is not None
    # A file name that is not UTF-8 is indexed, shown with U+FFFD, and kept exactly.
    latin = library.photo_of("caf\ufffd-latin1.jpg")
    assert latin["files"][0]["hash"] == library.photo_of("good.jpg")["files"][0]["hash"]
    raw = File.get(File.rel_path == "caf\ufffd-latin1.jpg").rel_path_raw
    assert bytes(raw) == b"caf\xe9-latin1.jpg"
    assert File.select().where(File.status == "error").count() == 2  # empty and noise

    # A second run reads none of them again and keeps the errors.
    again = library.index()
    assert (again.unchanged, again.new, again.failed) == (7, 0, 0)
    assert set(errors()) == set(found)


def test_a_crashing_decoder_is_retried_then_recorded(library: Library, tmp_path: Path) -> None:
    """An "ffmpeg" that kills the worker process that runs it: a real crash of a real worker.
    The file is tried once more, then recorded (it is catalogued in the fast phase, which
    decodes nothing); the others are unharmed."""
    killer = tmp_path / "ffmpeg-that-crashes"
    killer.write_text("#!/bin/sh\nkill -9 $PPID\n")
    killer.chmod(0o755)
    ingest = dataclasses.replace(library.settings.ingest, ffmpeg=str(killer))
    settings = dataclasses.replace(library.settings, ingest=ingest)
    write_video(library.root / "clip.mp4", seconds=1)
    for i in range(6):
        write_jpeg(library.root / f"IMG_{i}.jpg", Shot(), seed=i)

    summary = Indexer(settings, library.catalog, interactive=False).index()
    rendered = Backlog(settings, library.catalog, interactive=False).run()

    assert (summary.new, summary.failed, rendered.rendered, rendered.failed) == (7, 0, 6, 1)
    assert errors() == {"clip.mp4": [("renditions", "the worker died (killed by SIGKILL), twice")]}
    clip = library.photo_of("clip.mp4")
    assert (clip["type"], clip["thumb_hash"], clip["duration"] is not None) == ("video", None, True)
    for i in range(6):
        assert library.photo_of(f"IMG_{i}.jpg")["thumb_hash"] is not None


def test_unreadable_file_is_recorded(library: Library, tmp_path: Path) -> None:
    """Runs the real CLI without CAP_DAC_OVERRIDE, since the tests run as root and root reads
    every file whatever its mode."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    write_jpeg(library.root / "fine.jpg", Shot())
    locked = write_jpeg(library.root / "locked.jpg", Shot(), seed=9)
    locked.chmod(0)
    shoebox = [sys.executable, "-m", "shoebox"]
    if os.geteuid() == 0:
        shoebox = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *shoebox]
    proc = subprocess.run(
        [*shoebox, "--config", str(library.settings.source), "index", "--plain"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 failed" in proc.stdout
    assert "locked.jpg: identify failed: cannot read the file (Permission denied)" in proc.stderr
    assert errors() == {"locked.jpg": [("identify", "cannot read the file (Permission denied)")]}
    assert library.photo_of("fine.jpg")["thumb_hash"] is not None


# Flat pictures of 18 MP (above renditions.ALWAYS_PIXELS, so the size check applies), as
# screenshots and blank scans are: each must pass the check that refuses bombs.
FLAT = (6000, 3000)
FLAT_FILES = [
    ("uniform-baseline.jpg", "RGB", {"quality": 95}),
    ("uniform-grey.jpg", "L", {"quality": 75, "optimize": True}),
    ("uniform-progressive.jpg", "L", {"quality": 75, "progressive": True, "optimize": True}),
    ("screenshot.png", "RGB", {"optimize": True}),
    ("screenshot-palette.png", "P", {"optimize": True}),
    ("blank-1bit.png", "1", {"optimize": True}),
    ("flat.gif", "P", {}),
    ("flat-lossy.webp", "RGB", {"quality": 75}),
    ("flat-lossless.webp", "RGB", {"lossless": True}),
    ("scan-g4.tif", "1", {"compression": "group4"}),
    ("scan-deflate.tif", "RGB", {"compression": "tiff_adobe_deflate"}),
    ("scan-packbits.tif", "1", {"compression": "packbits"}),
    ("scan-raw.tif", "1", {}),
    ("flat.heic", "RGB", {"quality": 75}),
    ("flat.avif", "RGB", {"quality": 75}),
]


@pytest.mark.parametrize(("name", "mode", "options"), FLAT_FILES)
def test_flat_pictures_are_not_taken_for_bombs(
    tmp_path: Path, name: str, mode: str, options: dict[str, object]
) -> None:
    path = tmp_path / name
    Image.new(mode, FLAT, 255 if mode in ("L", "1", "P") else (250, 250, 250)).save(path, **options)
    data = path.read_bytes()
    claimed = renditions.webp_size(data[:64])
    with Image.open(path) as im:
        assert im.size == FLAT == (claimed or FLAT)
        renditions.check_claim(
            im.format or "", im.size, len(data), data[:64], im.info.get("compression"), im.mode
        )


@pytest.mark.parametrize(("name", "mode", "options"), FLAT_FILES)
def test_the_same_pictures_claiming_twenty_times_the_pixels_are_refused(
    tmp_path: Path, name: str, mode: str, options: dict[str, object]
) -> None:
    """The bounds are not loose: the flattest pictures the usual encoders make are within
    twenty times of them."""
    path = tmp_path / name
    Image.new(mode, FLAT, 255 if mode in ("L", "1", "P") else (250, 250, 250)).save(path, **options)
    data = path.read_bytes()
    with Image.open(path) as im:
        wide = (im.size[0] * 10, im.size[1])
        with pytest.raises(StageError, match="cannot be held in"):
            renditions.check_claim(
                im.format or "", wide, len(data), data[:64], im.info.get("compression"), im.mode
            )


def test_a_sparse_2_gib_video_is_sniffed_then_hashed_in_little_memory(tmp_path: Path) -> None:
    """A real clip made 2 GiB long with a hole, and 2 GiB of nothing but a hole: the worker
    (in a process of its own, whose peak memory is read) hashes the first in fixed chunks and
    does not read the second at all (its kind is known from its first bytes)."""
    clip = write_video(tmp_path / "clip.mp4", seconds=1)
    with clip.open("r+b") as fh:
        fh.truncate(2 << 30)
    with (tmp_path / "zeros.mp4").open("wb") as fh:
        fh.truncate(2 << 30)
    code = (
        "import sys\n"
        "from shoebox.ingest import worker\n"
        "for path in sys.argv[1:]:\n"
        "    out = worker.run(None, worker.Task(path.encode(), '.mp4', False, False))\n"
        "    print(out.kind, out.hash, out.errors)\n"
        "status = open('/proc/self/status').read()\n"  # the peak since exec (getrusage's
        "print(int(status.split('VmHWM:')[1].split()[0]) // 1024)\n"  # includes the fork's)
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(clip), str(tmp_path / "zeros.mp4")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    video, zeros, peak_mb = done.stdout.splitlines()
    assert video == f"video {hash_file(os.fsencode(clip))} []"
    assert (
        zeros == "unknown None [('identify', 'the content is not a photo or video shoebox knows')]"
    )
    assert int(peak_mb) < 300  # a memory map would show the 2 GiB
