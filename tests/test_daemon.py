"""`shoebox daemon` as systemd runs it: a real process, real files, real signals.

Each test starts the daemon on a library and waits for conditions with deadlines."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from conftest import Library, mysql_admin, wait_for
from shoebox.catalog.models import File, Photo
from shoebox.ingest.identify import hash_file
from shoebox.sample import Shot, write_jpeg


class Running:
    """A daemon process with systemd's notify socket and its log."""

    def __init__(self, library: Library, tmp: Path, **env: str) -> None:
        self.library = library
        self.log = tmp / f"daemon-{time.monotonic_ns()}.log"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock_path = tmp / f"n{time.monotonic_ns() % 10**6}"
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shoebox", "--config", str(library.settings.source), "daemon"],
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

    def ready(self) -> None:
        wait_for("READY=1", lambda: self.notified("READY=1"))
        wait_for("the start-up scan", lambda: self.logged("start-up scan:"))

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


@pytest.mark.skipif(shutil.which("sftp") is None, reason="OpenSSH's sftp client is not installed")
def test_an_sftp_upload_is_indexed_once_even_into_two_albums(
    library: Library, daemon: Callable[[], Running], tmp_path: Path
) -> None:
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
    running = daemon()
    port = int(wait_for("the port", lambda: re.search(r"SFTP listening on port (\d+)",
                                                      running.log.read_text()))[1])  # fmt: skip
    photo = write_jpeg(tmp_path / "IMG_0001.jpg", Shot())
    batch = tmp_path / "batch"
    batch.write_text(f"mkdir Holiday\nmkdir Family\nput {photo} Holiday/\nput {photo} Family/\n")
    upload = subprocess.run(
        ["sftp", "-b", str(batch), "-i", str(key), "-P", str(port), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "alice@127.0.0.1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr
    wait_for("both copies", lambda: len(files_named("IMG_0001.jpg")) == 2)
    (only,) = Photo.select()  # the same bytes in two album folders: one photo
    assert {f.rel_path for f in files_named("IMG_0001.jpg")} == {
        "alice/Holiday/IMG_0001.jpg",
        "alice/Family/IMG_0001.jpg",
    }
    assert {f.photo_id for f in files_named("IMG_0001.jpg")} == {only.id}


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
