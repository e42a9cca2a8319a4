"""`shoebox daemon` as systemd runs it: a real process, real files, real signals.

Each test starts the daemon on a library and waits for conditions with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from conftest import Library, mysql_admin, status_text, wait_for, wait_rendered
from shoebox.catalog import pending
from shoebox.catalog.models import File, IngestError, Photo, Upload
from shoebox.enrich.runner import Enricher
from shoebox.ingest.identify import hash_file
from shoebox.ingest.renditions import rendition_path
from shoebox.ingest.run import Indexer
from shoebox.sample import Shot, write_jpeg
from shoebox.service import Daemon


class Running:
    """A daemon process with systemd's notify socket and its log."""

    def __init__(self, library: Library, tmp: Path, prefix: Sequence[str] = (), **env: str) -> None:
        self.library = library
        self.log = tmp / f"daemon-{time.monotonic_ns()}.log"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock_path = tmp / f"n{time.monotonic_ns() % 10**6}"
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "shoebox", "--config", str(library.settings.source),
                 "daemon"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "NOTIFY_SOCKET": str(self.sock_path), **env},
            )  # fmt: skip

    def notified(self, text: str) -> bool:
        if self.sock.fileno() != -1:
            try:
                while True:
                    self.messages += self.sock.recv(4096).decode().splitlines()
                    self.sock.settimeout(0)
            except (TimeoutError, BlockingIOError):
                pass
            finally:
                self.sock.settimeout(0.2)
        return any(text in m for m in self.messages)

    def logged(self, text: str) -> int:
        return self.log.read_text().count(text)

    def port(self) -> int | None:
        """The SFTP port it listens on, once it said so."""
        found = re.search(r"SFTP listening on port (\d+)", self.log.read_text())
        return int(found[1]) if found else None

    def worker(self) -> str:
        """The worker id its claims in the queue carry."""
        return str(
            wait_for(
                "its worker id", lambda: re.search(r"started as (\S+);", self.log.read_text())
            )[1]
        )

    def ready(self) -> None:
        # a fresh MariaDB catalog's migrations and scan took over 30 s at a load of 9
        wait_for("READY=1", lambda: self.notified("READY=1"), timeout=90)
        wait_for("the start-up scan", lambda: self.logged("start-up scan:"), timeout=90)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if sig == signal.SIGKILL:  # as systemd would: the daemon and every process it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
        elif self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=15)
        self.notified("")  # what it said on its way out
        self.sock.close()
        return code


@pytest.fixture
def daemon(library: Library, tmp_path: Path) -> Iterator[Callable[[], Running]]:
    started: list[Running] = []

    def start() -> Running:
        running = Running(library, tmp_path)
        started.append(running)
        running.ready()
        return running

    yield start
    for running in started:
        if running.proc.poll() is None or running.sock.fileno() != -1:
            running.stop(signal.SIGKILL)


def files_named(name: str) -> list[Any]:
    """Read to the end, so that SQLite ends the read transaction (a half-read LIMIT 1 cursor
    would keep this connection on an old snapshot while it polls)."""
    return list(File.select().where(File.rel_path.endswith(name)))


def test_a_copied_file_is_indexed_once_when_complete(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
    running = daemon()
    big = write_jpeg(tmp_path / "big.jpg", Shot(), size=(4000, 3000))
    shutil.copy(big, library.root / "big.jpg")  # created, modified..., closed
    (f,) = wait_for("the copy in the catalog", lambda: files_named("big.jpg"))
    assert f.hash == hash_file(os.fsencode(big))
    assert f.size == big.stat().st_size
    wait_for("the log line", lambda: running.logged("indexed 1 new"))
    assert running.logged(" new,") == 2  # the start-up scan and this one file, once
    assert running.stop() == 0
    assert running.notified("STOPPING=1")


def test_moved_keeps_its_photo_deleted_is_missing(
    library: Library, daemon: Callable[[], Running]
) -> None:
    write_jpeg(library.root / "inbox/a.jpg", Shot())
    write_jpeg(library.root / "inbox/b.jpg", Shot(), seed=2)
    daemon()
    (a,) = wait_for("a.jpg", lambda: files_named("a.jpg"))
    (library.root / "2024").mkdir()
    (library.root / "inbox/a.jpg").rename(library.root / "2024/a.jpg")
    (moved,) = wait_for("the move", lambda: files_named("2024/a.jpg"))
    assert (moved.id, moved.photo_id) == (a.id, a.photo_id)
    (library.root / "inbox/b.jpg").unlink()
    (b,) = wait_for(
        "b.jpg missing", lambda: [f for f in files_named("b.jpg") if f.status == "missing"]
    )
    (photo,) = Photo.select().where(Photo.id == b.photo_id)
    assert photo.missing


def test_a_folder_moved_in_is_walked(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
    outside = tmp_path / "card/DCIM"
    for i in range(3):
        write_jpeg(outside / f"IMG_{i}.jpg", Shot(), seed=i)
    daemon()
    shutil.move(str(tmp_path / "card"), str(library.root / "card"))  # one "created" event
    wait_for("three photos", lambda: Photo.select().count() == 3)


def test_sync_tool_temp_names_wait_for_the_rename(
    library: Library, daemon: Callable[[], Running]
) -> None:
    running = daemon()
    partial = write_jpeg(library.root / ".syncthing.IMG_9.jpg.tmp", Shot())
    also = write_jpeg(library.root / "IMG_8.jpg.partial", Shot(), seed=3)
    partial.rename(library.root / "IMG_9.jpg")
    also.rename(library.root / "IMG_8.jpg")
    wait_for("both photos", lambda: Photo.select().count() == 2)
    assert {f.rel_path for f in File.select()} == {"IMG_9.jpg", "IMG_8.jpg"}
    assert running.logged(" failed") == running.logged(" 0 failed")


def test_kill_9_mid_ingest_loses_nothing(library: Library, daemon: Callable[[], Running]) -> None:
    first = daemon()
    for i in range(24):
        write_jpeg(library.root / f"burst/IMG_{i:02d}.jpg", Shot(), size=(1600, 1200), seed=i)
    wait_for("work under way", lambda: first.logged("indexed ") or Photo.select().exists())
    first.stop(signal.SIGKILL)
    second = daemon()
    wait_for("all 24 photos", lambda: Photo.select().count() == 24, timeout=60)
    assert File.select().count() == 24
    wait_for("an empty queue", lambda: second.notified("STATUS=0 paths in the queue"))


def test_systemd_hears_ready_status_and_watchdog(library: Library, tmp_path: Path) -> None:
    running = Running(library, tmp_path, WATCHDOG_USEC="1000000")
    try:
        running.ready()
        wait_for("STATUS", lambda: running.notified("STATUS=0 paths in the queue"))
        running.messages.clear()
        wait_for("a first WATCHDOG=1", lambda: running.notified("WATCHDOG=1"))
        running.messages.clear()
        wait_for("another WATCHDOG=1", lambda: running.notified("WATCHDOG=1"), timeout=3)
    finally:
        assert running.stop() == 0


def test_sighup_reloads_and_a_bad_file_is_refused(
    library: Library, daemon: Callable[[], Running]
) -> None:
    running = daemon()
    cfg = library.settings.source
    good = cfg.read_text()
    cfg.write_text(good + "[watch]\nquiet_seconds = 0\n")
    running.proc.send_signal(signal.SIGHUP)
    wait_for("the reload", lambda: running.logged(f"reloaded {cfg}"))
    write_jpeg(library.root / "now.jpg", Shot())  # indexed without waiting: quiet is 0 now
    wait_for("now.jpg", lambda: files_named("now.jpg"))
    cfg.write_text(good + "[watch]\nquiet_seconds = -1\n")
    running.proc.send_signal(signal.SIGHUP)
    wait_for("the refusal", lambda: running.logged("reload refused, keeping the running settings"))
    assert running.proc.poll() is None
    assert running.stop() == 0


def test_sigterm_stops_within_seconds(library: Library, daemon: Callable[[], Running]) -> None:
    running = daemon()
    started = time.monotonic()
    assert running.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert running.logged("SIGTERM: stopping")


needs_sftp = pytest.mark.skipif(
    shutil.which("sftp") is None, reason="OpenSSH's sftp client is not installed"
)


def add_alice(library: Library, tmp_path: Path) -> Path:
    """An account `alice` with a new key; returns the private key's path."""
    key = tmp_path / "phone_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(key)
    key.chmod(0o600)
    asyncssh.read_private_key(key).write_public_key(tmp_path / "phone_key.pub")
    cfg = str(library.settings.source)
    added = subprocess.run(
        [sys.executable, "-m", "shoebox", "--config", cfg, "user", "add", "alice",
         "--key", str(tmp_path / "phone_key.pub")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return key


def sftp_command(running: Running, key: Path, *options: str) -> list[str]:
    port = int(wait_for("the port", lambda: re.search(r"SFTP listening on port (\d+)",
                                                      running.log.read_text()))[1])  # fmt: skip
    return ["sftp", "-b", "-", "-i", str(key), "-P", str(port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", *options, "alice@127.0.0.1"]  # fmt: skip


def sftp(running: Running, key: Path, batch: str) -> None:
    done = subprocess.run(
        sftp_command(running, key), input=batch, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@needs_sftp
def test_an_sftp_upload_is_indexed_once_even_into_two_albums(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
    key = add_alice(library, tmp_path)
    running = daemon()
    photo = write_jpeg(tmp_path / "IMG_0001.jpg", Shot())
    sftp(running, key, f"mkdir Holiday\nmkdir Family\nput {photo} Holiday/\nput {photo} Family/\n")
    wait_for("both copies", lambda: len(files_named("IMG_0001.jpg")) == 2)
    (only,) = Photo.select()  # the same bytes in two album folders: one photo
    assert {f.rel_path for f in files_named("IMG_0001.jpg")} == {
        "alice/Holiday/IMG_0001.jpg",
        "alice/Family/IMG_0001.jpg",
    }
    assert {f.photo_id for f in files_named("IMG_0001.jpg")} == {only.id}


@needs_sftp
def test_an_upload_goes_before_the_renditions_backlog(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
    """A library indexed by the fast phase only: 200 files wait for their renditions, which
    the daemon renders at the lowest priority. An upload meanwhile is in the catalog while
    the backlog still waits, rendered before the older files (newest first), and the backlog
    is finished afterwards; `shoebox status` tells how many wait."""
    for i in range(200):
        write_jpeg(library.root / f"old/IMG_{i:04d}.jpg", Shot(), size=(1600, 1200), seed=i)
    Indexer(library.settings, library.catalog, interactive=False).index()
    assert "200 indexed, 200 waiting for renditions" in status_text(library.settings)
    key = add_alice(library, tmp_path)
    running = daemon()
    renditions = library.settings.library.cache / "renditions"
    wait_for("the backlog under way", lambda: any(renditions.rglob("*-tile.jpg")), timeout=60)
    photo = write_jpeg(tmp_path / "new.jpg", Shot(), seed=1000)
    sftp(running, key, f"put {photo}\n")
    (new,) = wait_for("the upload in the catalog", lambda: files_named("new.jpg"))
    assert pending.count() > 0  # the backlog waits, the upload did not
    tile = rendition_path(library.settings.library.cache, new.hash, "tile")
    wait_for("the upload rendered", tile.exists)
    assert pending.count() > 0  # before the older files still waiting
    wait_rendered(180)
    assert File.select().where(File.rendered == False).count() == 0  # noqa: E712
    assert IngestError.select().count() == 0
    assert "201 indexed, 0 waiting for renditions" in status_text(library.settings)


def test_a_dropped_catalog_connection_is_survived(
    library: Library, daemon: Callable[[], Running]
) -> None:
    """The server drops every connection of the daemon (as a MariaDB restart would); the
    daemon reconnects and goes on indexing."""
    if not library.settings.database.url.startswith("mysql"):
        pytest.skip("MariaDB only: SQLite has no connection to lose")
    running = daemon()
    (mine,) = library.catalog.db.execute_sql("SELECT CONNECTION_ID()").fetchone()
    name = library.catalog.db.database
    admin = mysql_admin()
    with admin.cursor() as cur:
        cur.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id != %s",
            (name, mine),
        )
        victims = [row[0] for row in cur.fetchall()]
        assert victims
        for victim in victims:
            cur.execute(f"KILL {int(victim)}")
    admin.close()
    write_jpeg(library.root / "after.jpg", Shot())
    wait_for("after.jpg", lambda: files_named("after.jpg"))
    assert running.proc.poll() is None


def test_unmounted_root_is_left_alone_at_start(
    library: Library, daemon: Callable[[], Running]
) -> None:
    write_jpeg(library.root / "a.jpg", Shot())
    library.index()
    (library.root / "a.jpg").unlink()  # the root is now empty, like a disk not mounted
    running = daemon()
    assert running.logged("not mounted?")
    assert [f.status for f in File.select()] == ["present"]


@needs_sftp
def test_a_cut_off_upload_stays_unindexed_across_a_restart_until_resumed(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
    """The client dies mid-upload; the daemon stops and starts again, and its start-up scan
    finds the partial file on disk: it is left alone until `put -a` completes it."""
    key = add_alice(library, tmp_path)
    first = daemon()
    source = tmp_path / "big.jpg"  # a real JPEG, made big with bytes after its end
    source.write_bytes(
        write_jpeg(tmp_path / "small.jpg", Shot()).read_bytes() + os.urandom(6 << 20)
    )
    target = library.root / "alice" / "big.jpg"
    client = subprocess.Popen(
        sftp_command(first, key, "-l", "8000"),  # about 1 MB/s
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: sftp and the ssh it runs
    )  # fmt: skip
    assert client.stdin is not None
    client.stdin.write(f"put {source} big.jpg\n".encode())
    client.stdin.close()
    wait_for("some bytes", lambda: target.exists() and target.stat().st_size > 256 << 10)
    os.killpg(client.pid, signal.SIGKILL)
    client.wait(timeout=10)
    wait_for("the cut-off upload", lambda: first.logged("was cut off"))
    assert 0 < target.stat().st_size < source.stat().st_size
    assert [(u.account, bytes(u.rel_path_raw)) for u in Upload.select()] == [
        ("alice", b"alice/big.jpg")
    ]
    assert first.stop() == 0

    second = daemon()  # ready: its start-up scan is done
    assert second.logged("1 partial SFTP uploads wait for their clients")
    assert second.logged("alice/big.jpg: an SFTP upload not finished yet; left alone")
    assert second.logged("1 partial uploads left alone")
    assert files_named("big.jpg") == []

    sftp(second, key, f"put -a {source} big.jpg\n")
    expected = hash_file(os.fsencode(source))
    (f,) = wait_for("the resumed upload", lambda: files_named("big.jpg"))
    assert (f.hash, f.size, f.status) == (expected, source.stat().st_size, "present")
    assert target.read_bytes() == source.read_bytes()
    # The row is stored before the batch's line is logged (and the start-up scan already
    # said "0 paths in the queue"): wait for the line itself.
    wait_for("the batch's line", lambda: second.logged("indexed "))
    assert second.logged("indexed ") == second.logged("indexed 1 new, 0 changed") == 1
    assert Upload.select().count() == 0
    assert len(files_named("big.jpg")) == 1


def _limited_inotify(watches: int) -> list[str]:
    """A command prefix that runs a program in a user namespace of its own whose inotify
    watch limit is `watches`: real ENOSPC from the kernel, without touching the system's
    fs.inotify.max_user_watches (other processes share it). Skips where that cannot be done."""
    prefix = ["unshare", "--user", "--map-root-user", "sh", "-c",
              f'echo {watches} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"']  # fmt: skip
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a user namespace with its own inotify limit: {probe.stderr}")
    return prefix


# Five folders: the root, a, a/b, c and d. watchdog 7 on Linux 6.x raises (and watches
# nothing) when any of them cannot be watched; older releases passed over deeper folders
# silently, which the watcher finds out with one watch more ("not all").
@pytest.mark.parametrize("watches", [0, 2, 4])
def test_out_of_inotify_watches_is_said_and_the_daemon_goes_on(
    library: Library, tmp_path: Path, watches: int
) -> None:
    """With too few watches for the library's folders, the daemon logs which sysctl to
    raise and goes on: the start-up scan indexes, the queue runs, SIGTERM stops it."""
    for seed, folder in enumerate(("a", "a/b", "c", "d")):
        write_jpeg(library.root / folder / "IMG.jpg", Shot(), seed=seed)
    running = Running(library, tmp_path, _limited_inotify(watches))
    try:
        running.ready()
        assert running.logged("the system ran out of inotify watches: none of the library's")
        assert running.logged("sysctl fs.inotify.max_user_watches=")
        assert running.logged("start-up scan: 4 new")
        wait_for("STATUS", lambda: running.notified("STATUS=0 paths in the queue"))
        assert running.proc.poll() is None
    finally:
        assert running.stop() == 0
    assert Photo.select().count() == 4


def test_enough_inotify_watches_say_nothing(library: Library, tmp_path: Path) -> None:
    """The same folders with watches to spare: no such error (the check above can fail)."""
    for seed, folder in enumerate(("a", "a/b", "c", "d")):
        write_jpeg(library.root / folder / "IMG.jpg", Shot(), seed=seed)
    running = Running(library, tmp_path, _limited_inotify(64))
    try:
        running.ready()
        write_jpeg(library.root / "a/b/new.jpg", Shot(), seed=9)  # seen: its folder is watched
        wait_for("new.jpg", lambda: files_named("new.jpg"))
        assert not running.logged("inotify")
    finally:
        assert running.stop() == 0


def test_the_daemon_verifies_slowly_and_reports_rot(
    library: Library, daemon: Callable[[], Running]
) -> None:
    for n in range(3):
        write_jpeg(library.root / f"v/IMG_{n}.jpg", Shot(), seed=n)
    library.index()
    rotten = library.root / "v/IMG_1.jpg"
    st = rotten.stat()
    data = bytearray(rotten.read_bytes())
    data[len(data) // 2] ^= 0x01
    rotten.write_bytes(bytes(data))
    os.utime(rotten, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as indexed: rot
    hashes = sorted(str(f.hash) for f in File.select())
    with library.settings.source.open("a") as cfg:
        cfg.write("[daemon]\nverify_days = 0.00002\n")  # a pass in about two seconds
    running = daemon()
    wait_for("a verify pass", lambda: running.logged("verify: 3 files checked"))
    assert running.logged("verify: 3 files checked (0 MB): 1 rotten, 0 gone, 0 unknown") >= 1
    assert running.logged(f"verify: rotten (content changed, size and time did not): {rotten}")

    def reported() -> str | None:
        out = status_text(library.settings)
        return out if f"rotten: {rotten}" in out else None

    status = wait_for("the pass in shoebox status", reported)
    assert "verify, pass ended" in status and "1 rotten" in status
    assert sorted(str(f.hash) for f in File.select()) == hashes  # nothing changed
    assert running.stop() == 0


class Stuck:
    """A later stage that holds its batch until the test lets it go (the daemon is what is
    under test here, not a model: a real stage cannot be held at will)."""

    name, version = "stuck", 1

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def wants(self) -> Any:
        return Photo.id.is_null(False)

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        self.entered.set()
        self.release.wait(60)
        return {}

    def close(self) -> None:
        pass


def test_a_new_file_is_indexed_while_a_later_stage_is_busy(library: Library) -> None:
    """The later stages have a thread of their own: a file that comes while one of them
    works on a batch (a model loading, a slow face search) is indexed meanwhile. In this
    process, so that the stage can be held."""
    write_jpeg(library.root / "first.jpg", Shot())
    stage = Stuck()

    async def run() -> None:
        daemon = Daemon(library.settings, library.catalog)
        daemon.enricher = Enricher([stage])
        running = asyncio.create_task(daemon.run())
        try:
            assert await asyncio.to_thread(stage.entered.wait, 30), "the stage never ran"
            write_jpeg(library.root / "second.jpg", Shot(iso=200))
            await asyncio.to_thread(wait_for, "second.jpg", lambda: files_named("second.jpg"))
            assert not stage.release.is_set()  # indexed while the stage still held its batch
        finally:
            stage.release.set()
            daemon._stop(signal.SIGTERM)
            await asyncio.wait_for(running, 15)

    asyncio.run(run())
