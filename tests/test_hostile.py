"""Hostile input through every way in: `shoebox index` (a real subprocess), a running daemon's
watcher (files copied in) and its SFTP endpoint (OpenSSH's `sftp` uploads them).

One table of files, made once: names that would be exiftool arguments if a name were ever
written into its argument stream (newlines before `-if`, `-execute`, `-@`, `-stay_open False`,
tag assignments), control characters, bytes that are not UTF-8, very long names, names that
start with `-`; contents that make a helper misbehave (`conftest.misbehaving_helpers`: exiftool
killed mid-request or never answering, ffmpeg that hangs, a worker process stopped or killed
while it works), a file that needs more memory than a worker may have, decompression bombs in
five formats, a sparse 2 GiB "video" of zeros, and a photo whose mtime is in 2100.

Every route checks the same things: no injected command ran (each would make a marker file),
nothing hangs (every wait has a deadline, the processes end, no helper is left running), nothing
under the root was written, every good file is indexed with its own title, and each bad file has
one error row saying why (and is still catalogued when only its renditions failed).
"""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (
    EXIFTOOL_DIES,
    EXIFTOOL_HANGS,
    FFMPEG_HANGS,
    WORKER_DIES,
    WORKER_HANGS,
    Library,
    left_running,
    misbehaving_helpers,
    wait_for,
    wait_rendered,
    write_config,
)
from shoebox import config
from shoebox.catalog.models import File, IngestError
from shoebox.ingest import scan
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.run import Indexer
from shoebox.sample import Shot, write_jpeg, write_tags, write_video
from test_bad_input import snapshot
from test_daemon import Running, add_alice, needs_sftp, sftp_command

MARKERS = ("injected", "injected-argfile", "injected-shell")  # what the attacks would create
SPARSE = 2 << 30
FUTURE = 4102444800  # 2100-01-01T00:00:00Z

# --- the files -----------------------------------------------------------------------------


def perl_text(text: str) -> str:
    """A Perl string for `text` without a slash in it (a file name cannot hold one)."""
    return "'" + text.replace("/", "'.chr(47).'") + "'"


def jpeg(marker: bytes = b"") -> Callable[[Path, str], None]:
    def make(path: Path, title: str) -> None:
        write_jpeg(path, Shot(), size=(320, 240), seed=len(title) + sum(map(ord, title)))
        write_tags(path, f"-XMP:Title={title}")
        if marker:
            with path.open("ab") as fh:  # after the end of the picture: decoders ignore it
                fh.write(marker)

    return make


def video(marker: bytes = b"") -> Callable[[Path, str], None]:
    def make(path: Path, title: str) -> None:
        tags = ["-metadata", f"title={title}", "-metadata", f"comment={marker.decode()}"]
        write_video(path, seconds=1, size=(160, 120), extra=tuple(tags))

    return make


def future(path: Path, title: str) -> None:
    jpeg()(path, title)
    os.utime(path, (FUTURE, FUTURE))


def sparse(path: Path, title: str) -> None:
    with path.open("wb") as fh:
        fh.truncate(SPARSE)


def memory_eater(path: Path, title: str) -> None:
    """10000x10000 RGB (300 MB decoded) in 1.4 MB (every row alike but for its first pixel,
    so not flat enough to pass for a bomb): more than the workers may use."""
    rng = np.random.default_rng(7)
    rows = np.tile(rng.integers(0, 256, (1, 1000, 3), dtype=np.uint8), (10000, 10, 1))
    rows[:, :1, :] = rng.integers(0, 256, (10000, 1, 3), dtype=np.uint8)
    Image.fromarray(rows).save(path, "PNG", compress_level=1)
    write_tags(path, f"-XMP:Title={title}")


# Bombs: a small picture, tagged, whose header then claims 16000x15000 (under max_pixels).
W, H = 16000, 15000


def bomb(fmt: str) -> Callable[[Path, str], None]:
    def make(path: Path, title: str) -> None:
        Image.new("RGB", (64, 48), (20, 120, 220)).save(path, fmt)
        write_tags(path, f"-XMP:Title={title}")
        data = bytearray(path.read_bytes())
        PATCH[fmt](data)
        path.write_bytes(bytes(data))

    return make


def _jpeg_size(data: bytearray) -> None:
    at = data.index(b"\xff\xc0")  # baseline start of frame: length, precision, height, width
    data[at + 5 : at + 9] = struct.pack(">HH", H, W)


def _png_size(data: bytearray) -> None:
    ihdr = struct.pack(">II", W, H) + data[24:29]
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)


def _gif_size(data: bytearray) -> None:
    data[6:10] = struct.pack("<HH", W, H)  # the logical screen
    at = data.index(b"\x2c\x00\x00\x00\x00")  # the first image descriptor, at 0,0
    data[at + 5 : at + 9] = struct.pack("<HH", W, H)


def _webp_size(data: bytearray) -> None:
    if data[12:16] == b"VP8X":  # the canvas, less one, in 24 bits each
        data[24:30] = (W - 1).to_bytes(3, "little") + (H - 1).to_bytes(3, "little")
    at = data.index(b"VP8 ") + 8 + 6  # past the frame tag and the start code
    data[at : at + 4] = struct.pack("<HH", W, H)


def _tiff_size(data: bytearray) -> None:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    for n in range(count):
        entry = ifd + 2 + 12 * n
        tag, kind = struct.unpack_from(order + "HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = W if tag == 256 else H
            fmt = order + ("H" if kind == 3 else "I")
            struct.pack_into(fmt, data, entry + 8, value)


PATCH = {"JPEG": _jpeg_size, "PNG": _png_size, "GIF": _gif_size, "WEBP": _webp_size,
         "TIFF": _tiff_size}  # fmt: skip

# --- the table -----------------------------------------------------------------------------

ROUTES = ("index", "watcher", "sftp")


@dataclass(frozen=True)
class Case:
    name: bytes  # under the root (or the SFTP account's folder)
    make: Callable[[Path, str], None]
    error: tuple[str, str] | None = None  # its error row: the stage and words of the message
    titled: bool = True  # exiftool read it: its own title is stored
    routes: tuple[str, ...] = ROUTES


def cases(tmp: Path) -> list[Case]:
    touch = perl_text(f"touch {tmp}/injected")
    # fmt: off
    return [
        Case(b"x\n-if\nsystem(" + touch.encode() + b")||1\ny.jpg", jpeg()),  # next to "x"
        Case(b"c\n-stay_open\nFalse\n.jpg", jpeg()),
        Case(b"\n-stay_open\nFalse\n-execute\nnext.jpg", jpeg()),
        Case(b"a\n-execute\nb.jpg", jpeg()),
        Case(b"x\n-@\nevil.args\ny.jpg", jpeg()),  # an argument file in the working folder
        Case(b"x\n-XMP:Title=pwned\n-overwrite_original\nx.jpg", jpeg()),  # would write "x"
        Case(b"x\n-o\nout%d%f.jpg\nz.jpg", jpeg()),
        Case(b"$(touch injected-shell);`touch injected-shell`.jpg", jpeg()),
        Case(b"bell\x07tab\tesc\x1b[31mred\rcr\x7fdel.jpg", jpeg()),
        Case(b"caf\xe9-latin1-\xff\xfe.jpg", jpeg()),
        Case(b"\xe2\x80\xaegpj.jpg", jpeg()),  # right-to-left override
        Case(b"L" * 251 + b".jpg", jpeg()),  # 255 bytes, the longest name
        Case(b"/".join([b"d" * 200] * 15) + b"/deep.jpg", jpeg()),  # a 3 KB path
        Case(b"-if.jpg", jpeg()),
        Case(b"-stay_open.jpg", jpeg()),
        Case(b"-@.jpg", jpeg()),
        Case(b"--.jpg", jpeg()),
        Case(b"#comment.jpg", jpeg()),
        Case(b"#[CSTR]\\n-if.jpg", jpeg()),
        Case(b"  leading spaces.jpg", jpeg()),
        Case(b"future.jpg", future),
        Case(b"exiftool-dies.jpg", jpeg(EXIFTOOL_DIES), ("metadata", "exiftool died (killed by SIGKILL), twice"), titled=False),
        Case(b"exiftool-hangs.jpg", jpeg(EXIFTOOL_HANGS), ("metadata", "exiftool took longer than 5 s, twice"), titled=False),
        Case(b"ffmpeg-hangs.mp4", video(FFMPEG_HANGS), ("renditions", "ffmpeg took longer than 3 s")),
        Case(b"worker-hangs.mp4", video(WORKER_HANGS), ("renditions", "the worker took longer than 8 s, twice")),
        Case(b"worker-dies.mp4", video(WORKER_DIES), ("renditions", "the worker died (killed by SIGKILL), twice")),
        Case(b"memory-eater.png", memory_eater, ("renditions", "out of memory")),
        *[
            Case(f"bomb.{fmt.lower()}".encode(), bomb(fmt), ("renditions", f"{W}x{H} pixels cannot be held in"))
            for fmt in PATCH
        ],
        Case(b"sparse.mp4", sparse, ("identify", "not a photo or video"), False, ("index", "watcher")),
    ]
    # fmt: on


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    """The table's files, made once (in `stage/files`), with what the attacks need around them
    (`x` for a name to point at, `evil.args` in the working folder)."""
    tmp = tmp_path_factory.mktemp("hostile")
    files = tmp / "files"
    files.mkdir()
    table = cases(tmp)
    for n, case in enumerate(table):
        made = files / f"made{n}{os.path.splitext(os.fsdecode(case.name))[1]}"
        case.make(made, f"own-{n}")
        target = os.path.join(os.fsencode(files), case.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(made, target)
    jpeg()(files / "x", "the other file")  # no extension: never indexed itself
    (tmp / "evil.args").write_text(
        f"-if\nsystem({perl_text(f'touch {tmp}/injected-argfile')})||1\n"
    )
    return tmp, table


def copy_in(source: Path, target: Path) -> None:
    """Copy a folder's content as `cp -a` does (times kept, the sparse file kept sparse)."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["cp", "-a", "--sparse=always", f"{source}/.", str(target)], capture_output=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def hostile_library(library: Library, tmp: Path) -> Library:
    """The library with misbehaving helpers, short deadlines and a small memory limit."""
    exiftool, ffmpeg = misbehaving_helpers(tmp / "helpers")
    cfg = write_config(
        tmp / "etc" / "hostile.toml",
        f'[library]\noriginals = ["{library.root}"]\ncache = "{tmp / "cache"}"\n'
        f'[database]\nurl = "{library.settings.database.url}"\n'
        f'[ingest]\nworkers = 2\nexiftool = "{exiftool}"\nffmpeg = "{ffmpeg}"\n'
        "exiftool_timeout = 5\nvideo_timeout = 3\nfile_timeout = 8\nmemory_limit_mb = 320\n"
        '[sftp]\nlisten = "127.0.0.1:0"\nmin_free_mb = 0\n'
        "[places]\nenabled = false\n[faces]\nenabled = false\n[labels]\nenabled = false\n",
    )
    return Library(library.root, config.load(cfg), library.catalog)


def check(staged: Path, helpers: Path, table: list[Case], route: str, prefix: bytes = b"") -> None:
    for marker in MARKERS:  # relative ones would land in a working folder
        for folder in (staged, Path.cwd()):
            assert not (folder / marker).exists(), f"an injected command ran: {marker}"
    assert left_running(helpers) == []
    for n, case in enumerate(table):
        if route not in case.routes:
            continue
        key = scan.key(prefix + case.name)
        (f,) = File.select().where(File.path_key == key)
        rows = [(e.stage, e.message) for e in IngestError.select().where(IngestError.path_key == key)]  # fmt: skip
        if case.error is None:
            assert rows == [], case.name
            assert f.status == "present" and f.photo_id is not None, case.name
        else:
            ((stage, message),) = rows
            assert stage == case.error[0] and case.error[1] in message, (case.name, message)
        meta = json.loads(f.meta)
        assert meta.get("title") == (f"own-{n}" if case.titled else None), case.name


# --- the routes ----------------------------------------------------------------------------


def test_through_shoebox_index(
    library: Library, stage: tuple[Path, list[Case]], tmp_path: Path
) -> None:
    staged, table = stage
    hostile = hostile_library(library, tmp_path)
    copy_in(staged / "files", library.root)
    before = snapshot(library.root)
    done = subprocess.run(
        [sys.executable, "-m", "shoebox", "--config", str(hostile.settings.source), "index",
         "--plain"],
        capture_output=True, text=True, timeout=300, check=False, cwd=staged,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = [c for c in table if "index" in c.routes]
    errors = sum(c.error is not None for c in expected)
    assert f"visible: {len(expected)} new, 0 changed, 0 moved" in done.stdout
    # a file fails in one phase or the other: identify and tags, or its renditions
    failed = [int(n) for n in re.findall(r" (\d+) failed in ", done.stdout)]
    assert len(failed) == 2 and sum(failed) == errors, done.stdout
    assert snapshot(library.root) == before, "indexing wrote under the library root"
    check(staged, tmp_path / "helpers", table, "index")
    assert done.stderr.count("exiftool-dies.jpg: metadata failed") == 1  # one line a file


def test_through_the_watcher(
    library: Library, stage: tuple[Path, list[Case]], tmp_path: Path
) -> None:
    staged, table = stage
    hostile = hostile_library(library, tmp_path)
    expected = [c for c in table if "watcher" in c.routes]
    running = Running(hostile, tmp_path)
    try:
        running.ready()
        copy_in(staged / "files", library.root)
        wait_for(
            "every file in the catalog",
            lambda: File.select().where(File.path_key.in_([scan.key(c.name) for c in expected])).count()
            == len(expected),
            timeout=180,
        )  # fmt: skip
        wait_for("an empty queue", lambda: running.notified("STATUS=0 paths in the queue"), 60)
        wait_rendered()
    finally:
        assert running.stop() == 0
    check(staged, tmp_path / "helpers", table, "watcher")


@needs_sftp
def test_through_sftp(library: Library, stage: tuple[Path, list[Case]], tmp_path: Path) -> None:
    """Each file is put with its own name (from a glob: OpenSSH's sftp reads no name from its
    batch lines). The 2 GiB sparse file is left out: a client sends every zero."""
    staged, table = stage
    hostile = hostile_library(library, tmp_path)
    expected = [c for c in table if "sftp" in c.routes]
    key = add_alice(hostile, tmp_path)
    source = tmp_path / "upload"
    copy_in(staged / "files", source)
    (source / "sparse.mp4").unlink()
    (source / "x").unlink()
    running = Running(hostile, tmp_path)
    try:
        running.ready()
        sent = subprocess.run(
            sftp_command(running, key), input=f"put -pR {source}/*\n", capture_output=True,
            text=True, timeout=180, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        keys = [scan.key(b"alice/" + c.name) for c in expected]
        wait_for(
            "every upload in the catalog",
            lambda: File.select().where(File.path_key.in_(keys)).count() == len(expected),
            timeout=180,
        )
        wait_for("an empty queue", lambda: running.notified("STATUS=0 paths in the queue"), 60)
        wait_rendered()
    finally:
        assert running.stop() == 0
    check(staged, tmp_path / "helpers", table, "sftp", b"alice/")


# --- stopping while helpers hang -------------------------------------------------------------


@pytest.fixture(params=["visible", "renditions"])
def stuck(request: pytest.FixtureRequest, library: Library, tmp_path: Path) -> Iterator[Library]:
    """A library whose exiftool hangs on a file (in the fast phase, "visible") or whose worker
    hangs on a file (in the slow phase, "renditions"), with deadlines far away."""
    exiftool, ffmpeg = misbehaving_helpers(tmp_path / "helpers")
    cfg = write_config(
        tmp_path / "etc" / "stuck.toml",
        f'[library]\noriginals = ["{library.root}"]\ncache = "{tmp_path / "cache"}"\n'
        f'[database]\nurl = "{library.settings.database.url}"\n'
        f'[ingest]\nworkers = 2\nexiftool = "{exiftool}"\nffmpeg = "{ffmpeg}"\n'
        "exiftool_timeout = 600\nfile_timeout = 600\n"
        '[sftp]\nlisten = "127.0.0.1:0"\n'
        "[places]\nenabled = false\n[faces]\nenabled = false\n[labels]\nenabled = false\n",
    )
    if request.param == "visible":
        jpeg(EXIFTOOL_HANGS)(library.root / "exiftool-hangs.jpg", "own-1")
    else:
        video(WORKER_HANGS)(library.root / "worker-hangs.mp4", "own-2")
    jpeg()(library.root / "fine.jpg", "own-3")
    yield Library(library.root, config.load(cfg), library.catalog)


def helpers_stuck(stuck: Library, tmp_path: Path) -> None:
    """Wait until the helper of the phase `stuck` tests is at work: the "exiftool" notes its
    own and the real exiftool's ids as it starts, a worker stopped by "ffmpeg" a third."""
    pids = tmp_path / "helpers" / "pids"
    want = 2 if any(stuck.root.glob("exiftool-hangs.jpg")) else 3
    wait_for("the helper stuck", lambda: pids.exists() and len(pids.read_text().split()) >= want)


def test_ctrl_c_stops_shoebox_index_at_once(stuck: Library, tmp_path: Path) -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "shoebox", "--config", str(stuck.settings.source), "index",
         "--plain"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    helpers_stuck(stuck, tmp_path)
    os.killpg(cli.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole foreground group
    started = time.monotonic()
    _, err = cli.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert cli.returncode == 130, err
    assert b"shoebox: interrupted" in err
    wait_for("no helper left", lambda: left_running(tmp_path / "helpers") == [], timeout=10)


def test_sigterm_stops_the_daemon_whatever_its_helpers_do(stuck: Library, tmp_path: Path) -> None:
    running = Running(stuck, tmp_path)
    try:
        wait_for("READY=1", lambda: running.notified("READY=1"))
        helpers_stuck(stuck, tmp_path)
    finally:
        started = time.monotonic()
        assert running.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert running.logged("stopped: ")
    wait_for("no helper left", lambda: left_running(tmp_path / "helpers") == [], timeout=10)


def test_health_tells_what_went_wrong(library: Library, tmp_path: Path) -> None:
    """`Indexer.health`, which `shoebox status` shows: deaths, overruns and restarts by
    helper, the last problem, and a helper busy past its deadline."""
    hostile = hostile_library(library, tmp_path)
    jpeg(EXIFTOOL_DIES)(library.root / "exiftool-dies.jpg", "own-1")
    video(WORKER_HANGS)(library.root / "worker-hangs.mp4", "own-2")
    video(FFMPEG_HANGS)(library.root / "ffmpeg-hangs.mp4", "own-3")
    jpeg()(library.root / "fine.jpg", "own-4")
    indexer = Indexer(hostile.settings, hostile.catalog, interactive=False)
    summary = indexer.index()
    assert (summary.new, summary.failed) == (4, 1)  # exiftool; the others when rendered
    backlog = Backlog(hostile.settings, hostile.catalog, interactive=False, health=indexer.health)
    assert backlog.run().failed == 2
    health = indexer.health.snapshot()
    exiftool, workers, ffmpeg = health["exiftool"], health["worker"], health["ffmpeg"]
    assert (exiftool["deaths"], exiftool["restarts"], exiftool["timeouts"]) == (2, 2, 0)
    assert exiftool["last_problem"] == "died (killed by SIGKILL) reading " + str(
        library.root / "exiftool-dies.jpg"
    )
    assert (workers["timeouts"], workers["deaths"]) == (2, 0)
    # a lost worker is replaced only when one is wanted (the slow phase had few files left)
    assert workers["restarts"] <= 2
    assert workers["last_problem"].startswith("took longer than 8 s on ")
    assert (ffmpeg["timeouts"], ffmpeg["deaths"]) == (2, 0)
    assert all(h["busy"] == [] and h["stuck"] == 0 for h in health.values())
    said = indexer.health.lines()
    assert [line.split(":")[0] for line in said] == ["exiftool", "worker", "ffmpeg"]
    assert said[0].startswith("exiftool: 2 died, 0 overran, 2 restarts; last at 20")
    # A worker that the main process has not looked at for a while (it was waiting for
    # exiftool, say) shows as stuck once it is past its deadline.
    indexer.health.workers.begin(1, "slow.mp4", 8.0, since=time.monotonic() - 60)
    assert indexer.health.snapshot()["worker"]["stuck"] == 1
    assert indexer.health.lines()[0].startswith("worker stuck: 60 s on slow.mp4 (its deadline")
