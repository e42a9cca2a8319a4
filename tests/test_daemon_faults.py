"""The daemon when things go wrong: a disk that is unmounted under it, a catalog whose disk
is full, `kill -9` in the middle of an SFTP burst, two daemons on one MariaDB queue, clocks
in the future. Real processes, real mounts (as root; skipped elsewhere), real clients."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest

from conftest import Library, status_text, wait_for, write_config
from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import File, Photo, QueuedPath, Root, Upload, utcnow
from shoebox.ingest import scan
from shoebox.ingest.identify import hash_file
from shoebox.ingest.run import root_row
from shoebox.sample import Shot, write_jpeg
from test_daemon import Running, add_alice, files_named

# -- mounts --------------------------------------------------------------------------------------


def _can_mount(tmp: Path) -> bool:
    probe = tmp / "probe"
    probe.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(probe)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        return False
    subprocess.run(["umount", str(probe)], check=True)
    return True


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Callable[[list[str]], None]]:
    """`disk(args)` runs mount/umount with these arguments; everything mounted is unmounted
    at the end. Skips where this process cannot mount (not root, no CAP_SYS_ADMIN)."""
    if not _can_mount(tmp_path):
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[str] = []

    def run(args: list[str]) -> None:
        subprocess.run(args, check=True, capture_output=True)
        if args[0] == "mount":
            mounted.append(args[-1])

    yield run
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def _ext4(tmp_path: Path) -> Path:
    """A small ext4 filesystem in a file: a disk whose identity survives being unmounted."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 (e2fsprogs) is not installed")
    image = tmp_path / "disk.img"
    with image.open("wb") as fh:
        fh.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    return image


def test_a_disk_unmounted_under_the_daemon_is_left_alone_and_back_when_mounted(
    library: Library, tmp_path: Path, disk: Callable[[list[str]], None]
) -> None:
    """The library root is a disk (an ext4 image, loop-mounted). Unmounted while the daemon
    runs, with a stray photo, a hidden file and a folder of a known name appearing in the
    empty mount point: not one photo is marked missing, status says why. Mounted again:
    watched and reconciled at once, without a restart."""
    image = _ext4(tmp_path)
    disk(["mount", "-o", "loop", str(image), str(library.root)])
    for i in range(30):
        write_jpeg(library.root / "2024" / f"IMG_{i:03d}.jpg", Shot(), size=(64, 48), seed=i)
    running = Running(library, tmp_path)
    try:
        running.ready()
        assert running.logged("start-up scan: 30 new")
        subprocess.run(["umount", str(library.root)], check=True)
        wait_for("the unmount noticed", lambda: running.logged("is on another filesystem"))
        (library.root / ".directory").write_text("[Desktop Entry]\n")
        write_jpeg(library.root / "stray.jpg", Shot(), size=(64, 48), seed=99)
        (library.root / "2024").mkdir()  # a folder of a known name
        write_jpeg(library.root / "2024" / "IMG_000.jpg", Shot(), size=(64, 48), seed=77)
        cfg = str(library.settings.source)
        by_hand = subprocess.run(
            [sys.executable, "-m", "shoebox", "--config", cfg, "index", "--plain"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert "left alone: library root" in by_hand.stdout
        assert "0 missing" in by_hand.stdout
        assert File.select().where(File.status == "missing").count() == 0
        assert Photo.select().where(Photo.missing == True).count() == 0  # noqa: E712
        assert files_named("stray.jpg") == []
        assert "left alone" in status_text(library.settings)

        shutil.rmtree(library.root / "2024")
        for stray in ("stray.jpg", ".directory"):
            (library.root / stray).unlink()
        disk(["mount", "-o", "loop", str(image), str(library.root)])
        wait_for("the root back", lambda: running.logged("is there: watching and reconciling"))
        wait_for("reconciled", lambda: running.logged("reconciled: 0 new"))
        write_jpeg(library.root / "2024" / "new.jpg", Shot(), size=(64, 48), seed=31)
        wait_for("new.jpg, seen by the watch made again", lambda: files_named("new.jpg"))
        assert Root.get().left_alone is None
        assert File.select().where(File.status == "missing").count() == 0
        assert running.stop() == 0
    finally:
        if running.proc.poll() is None:
            running.stop(signal.SIGKILL)


def test_a_disk_not_mounted_at_start_is_left_alone(
    library: Library, tmp_path: Path, disk: Callable[[list[str]], None]
) -> None:
    disk(["mount", "-o", "loop", str(_ext4(tmp_path)), str(library.root)])
    for i in range(5):
        write_jpeg(library.root / f"IMG_{i}.jpg", Shot(), size=(64, 48), seed=i)
    library.index()
    subprocess.run(["umount", str(library.root)], check=True)
    (library.root / ".not-mounted").write_text("")
    write_jpeg(library.root / "IMG_0.jpg", Shot(), size=(64, 48), seed=50)  # a name it knows
    running = Running(library, tmp_path)
    try:
        running.ready()
        assert running.logged("is on another filesystem than before")
        assert running.logged("1 roots left alone") or running.logged("left alone")
        assert File.select().where(File.status == "present").count() == 5
        assert {f.hash for f in files_named("IMG_0.jpg")} != {
            hash_file(os.fsencode(library.root / "IMG_0.jpg"))
        }
        assert running.stop() == 0
    finally:
        if running.proc.poll() is None:
            running.stop(signal.SIGKILL)


def test_most_files_vanishing_at_once_are_not_marked_missing_unless_told(
    library: Library,
) -> None:
    for i in range(20):
        write_jpeg(library.root / f"IMG_{i:02d}.jpg", Shot(), size=(32, 24), seed=i)
    library.index()
    for i in range(15):
        (library.root / f"IMG_{i:02d}.jpg").unlink()
    cfg = str(library.settings.source)
    run = [sys.executable, "-m", "shoebox", "--config", cfg, "index", "--plain"]
    spared = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    assert "0 missing" in spared.stdout
    assert "most files of library root" in spared.stdout
    assert "--mark-missing" in spared.stdout
    assert File.select().where(File.status == "missing").count() == 0
    told = subprocess.run(
        [*run, "--mark-missing"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "15 missing" in told.stdout
    assert File.select().where(File.status == "missing").count() == 15


# -- the catalog's disk is full --------------------------------------------------------------------


def test_a_full_catalog_disk_is_said_waited_out_without_spinning_and_nothing_is_lost(
    tmp_path: Path, disk: Callable[[list[str]], None]
) -> None:
    """The SQLite catalog's disk fills up under a running daemon; photos copied in meanwhile
    wait, the log says what is wrong a few times (not hundreds) and the daemon idles; once
    space is freed they are indexed."""
    catdisk = tmp_path / "catdisk"
    catdisk.mkdir()
    disk(["mount", "-t", "tmpfs", "-o", "size=24m", "none", str(catdisk)])
    root = tmp_path / "originals"
    root.mkdir()
    cfg = write_config(
        tmp_path / "etc" / "config.toml",
        f'[library]\noriginals = ["{root}"]\ncache = "{tmp_path / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{catdisk / "catalog.db"}"\n[ingest]\nworkers = 1\n'
        '[sftp]\nlisten = "127.0.0.1:0"\n[watch]\nquiet_seconds = 0\n',
    )
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    try:
        library = Library(root, settings, catalog)
        running = Running(library, tmp_path)
        running.ready()
        filler = catdisk / "filler"
        with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\1" * (1 << 20))
        for i in range(3):
            write_jpeg(root / f"during_{i}.jpg", Shot(), size=(64, 48), seed=i)
        wait_for("the disk-full message", lambda: running.logged("the catalog's disk is full"))
        pid = running.proc.pid
        cpu_before, lines_before = _cpu_seconds(pid), running.logged("trying again in")
        time.sleep(3)  # a span of time to measure the daemon over, not a synchronisation
        assert _cpu_seconds(pid) - cpu_before < 0.6
        assert running.logged("trying again in") - lines_before <= 4
        filler.unlink()
        wait_for("the photos copied meanwhile", lambda: Photo.select().count() == 3, timeout=90)
        assert running.logged("the catalog can be written again")
        assert running.stop() == 0
    finally:
        catalog.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- clocks --------------------------------------------------------------------------------------


def test_a_file_from_the_future_is_indexed_once(library: Library, tmp_path: Path) -> None:
    running = Running(library, tmp_path)
    try:
        running.ready()
        wait_for("the first STATUS", lambda: running.notified("STATUS=0 paths in the queue"))
        running.messages.clear()
        future = write_jpeg(tmp_path / "future.jpg", Shot())
        os.utime(future, (4_102_444_800, 4_102_444_800))  # 2100-01-01
        shutil.copy2(future, library.root / "future.jpg")
        wait_for("future.jpg", lambda: files_named("future.jpg"))
        wait_for("an empty queue", lambda: running.notified("STATUS=0 paths in the queue"))
        assert QueuedPath.select().count() == 0
        assert running.logged("indexed 1 new") == 1
    finally:
        running.stop()


# -- kill -9 in an SFTP burst ----------------------------------------------------------------------


def test_kill_9_in_an_sftp_burst_keeps_every_acknowledged_upload_and_no_partial_one(
    library: Library, tmp_path: Path
) -> None:
    """Three clients upload 30 photos each while the daemon is killed (`kill -9`, the whole
    process group) five times at random moments and started again. Every upload whose
    client heard OK for its close is in the catalog once, whole; every upload cut off before
    its close is not; one whose close was sent but not answered may be either, whole."""
    key = add_alice(library, tmp_path)
    sources = []
    for i in range(90):
        path = tmp_path / "phone" / f"IMG_{i:03d}.jpg"
        data = write_jpeg(tmp_path / "small.jpg", Shot(), size=(96, 72), seed=i).read_bytes()
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data + os.urandom(random.randint(200_000, 900_000)))
        sources.append(path)
    running = [Running(library, tmp_path)]
    running[0].ready()
    outcome: dict[str, str] = {}  # name: acked, unanswered, cut

    async def client(mine: list[Path]) -> None:
        for source in mine:
            await _upload(running, key, source, outcome)

    async def killer() -> None:
        for _ in range(5):
            await asyncio.sleep(random.uniform(0.4, 1.5))
            await asyncio.to_thread(running[-1].stop, signal.SIGKILL)
            fresh = Running(library, tmp_path)
            running.append(fresh)
            await asyncio.to_thread(fresh.ready)

    async def burst() -> None:
        kill = asyncio.create_task(killer())
        await asyncio.gather(*(client(sources[i::3]) for i in range(3)))
        await kill

    try:
        asyncio.run(burst())
        last = running[-1]
        wait_for("an empty queue", lambda: QueuedPath.select().count() == 0, timeout=120)
        catalogued = {f.rel_path: f for f in File.select()}
        for source in sources:
            name, state = f"alice/{source.name}", outcome.get(source.name, "cut")
            f = catalogued.get(name)
            if state == "acked":
                assert f is not None, f"{name}: acknowledged but not in the catalog"
                assert f.hash == hash_file(os.fsencode(source)), f"{name}: not whole"
            elif state == "cut":
                assert f is None, f"{name}: cut off before its close, yet catalogued"
            elif f is not None:
                assert f.hash == hash_file(os.fsencode(source))
        assert len({f.hash for f in catalogued.values()}) == len(catalogued)
        assert "acked" in outcome.values() and "cut" in outcome.values()
        assert last.stop() == 0
    finally:
        for each in running:
            if each.proc.poll() is None:
                each.stop(signal.SIGKILL)


async def _upload(running: list[Running], key: Path, source: Path, outcome: dict[str, str]) -> None:
    """Upload one file with asyncssh's client, noting how far it got: `cut` until the close is
    sent, `unanswered` while it waits for the answer, `acked` once the server said OK."""
    for _ in range(50):  # the daemon may be down: try again until it is up
        port = running[-1].port()
        if port is None:
            await asyncio.sleep(0.1)
            continue
        try:
            async with (
                asyncssh.connect(
                    "127.0.0.1", port, username="alice", client_keys=[str(key)], known_hosts=None
                ) as conn,
                conn.start_sftp_client() as sftp,
            ):
                outcome[source.name] = "cut"
                handle = await sftp.open(source.name, "wb")
                data = source.read_bytes()
                for start in range(0, len(data), 64 << 10):  # as a phone on Wi-Fi: a while
                    await handle.write(data[start : start + (64 << 10)], start)
                    await asyncio.sleep(0.01)
                outcome[source.name] = "unanswered"
                await handle.close()
                outcome[source.name] = "acked"
                return
        except (OSError, asyncssh.Error):
            if source.name in outcome:  # it got under way: one try, as a phone would count it
                return
            await asyncio.sleep(0.1)


# -- two daemons, one MariaDB queue -------------------------------------------------------------


def test_two_daemons_share_one_queue_and_take_over_a_dead_ones_claims(
    library: Library, tmp_path: Path
) -> None:
    if not library.settings.database.url.startswith("mysql"):
        pytest.skip("several daemons share a MariaDB queue")
    cfg = library.settings.source
    cfg.write_text(
        cfg.read_text() + "[daemon]\nstale_claim_seconds = 10\n[watch]\nquiet_seconds = 0\n"
    )
    first, second = Running(library, tmp_path), Running(library, tmp_path)
    try:
        first.ready()
        second.ready()
        staging = tmp_path / "staging"
        for i in range(300):
            write_jpeg(
                staging / f"batch{i % 3}" / f"IMG_{i:03d}.jpg", Shot(), size=(48, 36), seed=i
            )
        for folder in sorted(staging.iterdir()):
            shutil.move(str(folder), str(library.root / folder.name))
        wait_for("300 photos", lambda: Photo.select().count() == 300, timeout=180)
        wait_for("an empty queue", lambda: QueuedPath.select().count() == 0, timeout=60)
        _each_file_once(300)
        assert _new_in(first) > 0 and _new_in(second) > 0  # the work was shared

        for i in range(100):
            write_jpeg(staging / "late" / f"LATE_{i:03d}.jpg", Shot(), size=(48, 36), seed=1000 + i)
        shutil.move(str(staging / "late"), str(library.root / "late"))
        mine = first.worker()
        wait_for(
            "claims of the first daemon",
            lambda: QueuedPath.select().where(QueuedPath.claimed_by == mine).exists(),
        )
        first.stop(signal.SIGKILL)
        wait_for("400 photos", lambda: Photo.select().count() == 400, timeout=120)
        wait_for("an empty queue", lambda: QueuedPath.select().count() == 0, timeout=60)
        _each_file_once(400)
        assert second.stop() == 0
    finally:
        for each in (first, second):
            if each.proc.poll() is None:
                each.stop(signal.SIGKILL)


def _each_file_once(count: int) -> None:
    """`count` files, each in the catalog once, each its own photo (no copy made twice)."""
    files = list(File.select())
    assert len(files) == len({f.rel_path for f in files}) == count
    assert len({f.photo_id for f in files}) == count == Photo.select().count()


def _new_in(running: Running) -> int:
    import re

    return sum(int(n) for n in re.findall(r"indexed (\d+) new", running.log.read_text()))


# -- partial uploads that nobody resumes -----------------------------------------------------------


def test_a_partial_upload_nobody_resumes_is_reported_never_deleted(
    library: Library, tmp_path: Path
) -> None:
    folder = library.root / "alice"
    folder.mkdir()
    (folder / "half.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(5000))
    (folder / "fresh.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(5000))
    row = root_row(library.root)
    for name, days in (("half.jpg", 9), ("fresh.jpg", 1)):
        Upload.create(
            root=row, rel_path_raw=f"alice/{name}".encode(), account="alice",
            path_key=scan.key(f"alice/{name}".encode()),
            started_at=utcnow() - dt.timedelta(days=days),
        )  # fmt: skip
    status = status_text(library.settings)
    assert (
        "uploads:  2 partial, waiting for their clients to resume them (1 for more than 7 days)"
        in status
    )
    assert "alice/half.jpg: by alice since" in status and "complete it, or delete it" in status
    running = Running(library, tmp_path)
    try:
        running.ready()
        assert running.logged("2 partial SFTP uploads wait for their clients")
        assert (
            running.logged("alice/half.jpg: a partial SFTP upload by alice, not resumed since") == 1
        )
        assert not running.logged("alice/fresh.jpg: a partial SFTP upload")
        assert files_named("half.jpg") == files_named("fresh.jpg") == []
    finally:
        assert running.stop() == 0
    assert (folder / "half.jpg").exists() and Upload.select().count() == 2
