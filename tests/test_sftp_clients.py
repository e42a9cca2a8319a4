"""Real SFTP clients against a real `shoebox daemon` on loopback, as a household's phones and
sync tools reach it: OpenSSH's sftp and scp, rclone, lftp, curl (libssh2), paramiko and
asyncssh's client each upload photos (real ones from ../shared/corpus, made-up JPEGs where it
is absent), must exit 0, and every file must be in the catalog exactly once with the right
hash. Then every way a client can go away mid-upload: the partial file stays out of the
catalog, and its resume is indexed once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from conftest import CORPUS, Library, wait_for
from shoebox.catalog.models import File, Photo, QueuedPath, Upload
from shoebox.ingest.identify import hash_file
from shoebox.sample import Shot, write_jpeg
from test_daemon import Running, add_alice, sftp_command

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]  # fmt: skip


def _needs(program: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} is not installed")


@functools.cache
def corpus_jpegs() -> list[Path]:
    """The corpus's JPEGs, each content once, in a stable order (none when it is absent)."""
    found: dict[str, Path] = {}
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg") and path.is_file():
                found.setdefault(hash_file(os.fsencode(path)), path)
    return list(found.values())


@dataclass
class Door:
    """A running daemon (keepalive 1 s) with the account `alice`, and photos to send it."""

    library: Library
    tmp: Path
    key: Path
    running: Running

    @property
    def folder(self) -> Path:
        return self.library.root / "alice"

    @property
    def port(self) -> int:
        command = sftp_command(self.running, self.key)  # waits for the port in the log
        return int(command[command.index("-P") + 1])

    def photos(self, folder: str, count: int, first: int = 0) -> list[Path]:
        """`count` photos as IMG_nnn.jpg in tmp/folder: corpus JPEGs from the `first`th on,
        then made-up ones."""
        target = self.tmp / folder
        target.mkdir(parents=True, exist_ok=True)
        real = corpus_jpegs()[first : first + count]
        made = []
        for i in range(count):
            path = target / f"IMG_{i:03d}.jpg"
            if i < len(real):
                path.write_bytes(real[i].read_bytes())
            else:
                write_jpeg(path, Shot(), size=(640, 480), seed=first + i)
            made.append(path)
        return made

    def sftp(
        self, batch: str, *options: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            sftp_command(self.running, self.key, *options), input=batch, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def restart(self) -> None:
        self.running = Running(self.library, self.tmp)
        self.running.ready()

    def indexed(self, expected: dict[str, Path]) -> None:
        """Wait until each of alice's files (relative path -> the source it must equal) is
        in the catalog with the source's hash and the queue is empty; then alice's folder
        must hold exactly these files, each once in the catalog."""
        for rel, source in expected.items():
            want = hash_file(os.fsencode(source))

            def found(rel: str = rel, want: str = want) -> bool:
                rows = list(File.select().where(File.rel_path == f"alice/{rel}"))
                return any(f.hash == want and f.status == "present" for f in rows)

            wait_for(f"alice/{rel} in the catalog", found)
        wait_for("an empty queue", lambda: QueuedPath.select().count() == 0)
        for rel, source in expected.items():
            assert (self.folder / rel).read_bytes() == source.read_bytes(), rel
        rows = list(File.select().where(File.rel_path.startswith("alice/")))
        assert sorted(f.rel_path for f in rows if f.status == "present") == sorted(
            f"alice/{rel}" for rel in expected
        )
        assert len({f.rel_path for f in rows}) == len(rows)  # each path once


@pytest.fixture
def door(library: Library, tmp_path: Path) -> Iterator[Door]:
    cfg = library.settings.source
    cfg.write_text(cfg.read_text().replace("[sftp]\n", "[sftp]\nkeepalive_seconds = 1\n"))
    key = add_alice(library, tmp_path)
    made = Door(library, tmp_path, key, Running(library, tmp_path))
    try:
        made.running.ready()
        yield made
    finally:
        with contextlib.suppress(ProcessLookupError, OSError):
            made.running.stop(signal.SIGKILL)


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{command[0]} exited {done.returncode}:\n{done.stderr}"
    return done


# -- the client matrix ------------------------------------------------------------------------


def openssh_sftp(door: Door) -> dict[str, Path]:
    """put, put -a and reput (each resuming a file half sent before), rename, mkdir, rm."""
    a, b, c, d, e = door.photos("sftp", 5)
    halves = []
    for whole in (d, e):
        half = door.tmp / f"half-{whole.name}"
        half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        halves.append(half)
    door.sftp(
        f"mkdir album\nput {a} album/\nput {b}\nrename {b.name} renamed.jpg\nput {c}\n"
        f"rm {c.name}\nput {halves[0]} {d.name}\nput -a {d}\nput {halves[1]} {e.name}\n"
        f"reput {e}\n"
    )
    return {f"album/{a.name}": a, "renamed.jpg": b, d.name: d, e.name: e}


def openssh_scp(door: Door) -> dict[str, Path]:
    """Files, a folder with -r, and a longer photo overwritten by a shorter one (scp writes
    over it in place and then sets the size: the result must be the shorter one exactly)."""
    photos = door.photos("scp", 4)
    longer, shorter = sorted(photos[2:], key=lambda p: -p.stat().st_size)
    folder = door.tmp / "scp-album"
    folder.mkdir()
    album = shutil.copy(photos[1], folder / "in-album.jpg")
    target = "alice@127.0.0.1:"
    scp = ["scp", "-i", door.key, "-P", str(door.port), *SSH_OPTIONS]
    _run(*scp, photos[0], target)
    _run(*scp, "-r", folder, target)
    _run(*scp, longer, f"{target}same.jpg")
    _run(*scp, shorter, f"{target}same.jpg")
    return {photos[0].name: photos[0], "scp-album/in-album.jpg": Path(album), "same.jpg": shorter}


def readme_rclone_config(door: Door) -> list[str]:
    """The README's `rclone config create` command, for this daemon's port and alice's key."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.strip().startswith("rclone config")]
    words = line.split()
    assert words[:3] == ["rclone", "config", "create"]
    given = {"SERVER": "127.0.0.1", "2222": str(door.port), "~/.ssh/id_ed25519": str(door.key)}
    assert set(given) <= set(words), f"the README's recipe changed: {line}"
    return [given.get(word, word) for word in words[3:]]


def _rclone(
    door: Door, *arguments: str, shell_type: bool = True
) -> subprocess.CompletedProcess[str]:
    """rclone, configured as the README says; with `shell_type=False`, without its shell_type
    (an advanced option `rclone config` does not ask for), so rclone tries shell commands."""
    config = door.tmp / "rclone.conf"
    if not config.exists():  # rclone may write what it learns about the server into it
        _run("rclone", "--config", config, "config", "create", *readme_rclone_config(door))
        if not shell_type:
            text = config.read_text()
            assert "shell_type = none\n" in text
            config.write_text(text.replace("shell_type = none\n", ""))
    return _run("rclone", "--config", config, "-v", *arguments)


def rclone_default(door: Door) -> dict[str, Path]:
    photos = door.photos("rclone", 8)  # Go's pkg/sftp sends WRITEs longer than their data
    _rclone(door, "copy", str(door.tmp / "rclone"), "shoebox:rclone")
    return {f"rclone/{p.name}": p for p in photos}


def rclone_without_shell_type(door: Door) -> dict[str, Path]:
    """The README's promise: it works without `shell_type none` too."""
    photos = door.photos("rclone", 3)
    _rclone(door, "copy", str(door.tmp / "rclone"), "shoebox:rclone", shell_type=False)
    return {f"rclone/{p.name}": p for p in photos}


def rclone_one_write_at_a_time(door: Door) -> dict[str, Path]:
    photos = door.photos("rclone", 8)
    _rclone(door, "copy", "--sftp-disable-concurrent-writes", str(door.tmp / "rclone"),
            "shoebox:rclone")  # fmt: skip
    return {f"rclone/{p.name}": p for p in photos}


def rclone_sync_twice(door: Door) -> dict[str, Path]:
    """`rclone sync` of 50 photos, run twice: the second run uploads nothing (sizes and
    modification times match, so the times set through setstat are kept)."""
    photos = door.photos("phone", 50)
    first = _rclone(door, "sync", str(door.tmp / "phone"), "shoebox:phone")
    assert first.stderr.count(": Copied (new)") == 50
    second = _rclone(door, "sync", str(door.tmp / "phone"), "shoebox:phone")
    assert "Copied" not in second.stderr
    assert "There was nothing to transfer" in second.stderr
    return {f"phone/{p.name}": p for p in photos}


def lftp_mirror(door: Door) -> dict[str, Path]:
    photos = door.photos("lftp/trip", 4)
    connect = " ".join(["ssh", "-a", "-x", "-i", str(door.key), *SSH_OPTIONS])
    _run("lftp", "-c", f"set sftp:connect-program '{connect}'; set net:max-retries 1; "
         f"open -u alice, -p {door.port} sftp://127.0.0.1; mirror -R {door.tmp / 'lftp'} lftp")  # fmt: skip
    return {f"lftp/trip/{p.name}": p for p in photos}


def curl_libssh2(door: Door) -> dict[str, Path]:
    photos = door.photos("curl", 3)
    files = "{" + ",".join(str(p) for p in photos) + "}"
    _run("curl", "-sS", "--insecure", "--user", "alice:", "--key", door.key, "--pubkey",
         f"{door.key}.pub", "--ftp-create-dirs", "-T", files,
         f"sftp://127.0.0.1:{door.port}/curl/")  # fmt: skip
    return {f"curl/{p.name}": p for p in photos}


def paramiko_client(door: Door) -> dict[str, Path]:
    paramiko = pytest.importorskip("paramiko")
    photos = door.photos("paramiko", 3)
    with paramiko.SSHClient() as client:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a test's own server
        client.connect("127.0.0.1", door.port, "alice", key_filename=str(door.key),
                       look_for_keys=False, allow_agent=False)  # fmt: skip
        with client.open_sftp() as sftp:
            sftp.mkdir("paramiko")
            for photo in photos:
                sftp.put(str(photo), f"paramiko/{photo.name}.partial")
                sftp.posix_rename(f"paramiko/{photo.name}.partial", f"paramiko/{photo.name}")
    return {f"paramiko/{p.name}": p for p in photos}


def asyncssh_client(door: Door) -> dict[str, Path]:
    photos = door.photos("asyncssh", 3)

    async def send() -> None:
        async with asyncssh.connect(
            "127.0.0.1", door.port, username="alice", client_keys=[str(door.key)],
            known_hosts=None, agent_path=None,
        ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
            await sftp.mkdir("asyncssh")
            await sftp.mput([str(p) for p in photos], "asyncssh", preserve=True)

    asyncio.run(send())
    return {f"asyncssh/{p.name}": p for p in photos}


CLIENTS: list[tuple[Callable[[Door], dict[str, Path]], str]] = [
    (openssh_sftp, "sftp"),
    (openssh_scp, "scp"),
    (rclone_default, "rclone"),
    (rclone_without_shell_type, "rclone"),
    (rclone_one_write_at_a_time, "rclone"),
    (rclone_sync_twice, "rclone"),
    (lftp_mirror, "lftp"),
    (curl_libssh2, "curl"),
    (paramiko_client, "ssh"),
    (asyncssh_client, "ssh"),
]


@pytest.mark.parametrize(
    "client",
    [pytest.param(fn, marks=_needs(program), id=fn.__name__) for fn, program in CLIENTS],
)
def test_a_client_uploads_and_every_file_is_indexed_once(
    door: Door, client: Callable[[Door], dict[str, Path]]
) -> None:
    expected = client(door)
    door.indexed(expected)
    assert Upload.select().count() == 0
    assert not door.running.logged("was cut off")


@_needs("sftp")
def test_a_rename_keeps_the_photo_and_a_removal_marks_it_missing(door: Door) -> None:
    """The watcher's word on an account's folder is not taken, so the endpoint tells the
    daemon of renames and removals itself."""
    a, b = door.photos("names", 2)
    door.sftp(f"mkdir trip\nput {a} trip/\nput {b}\n")
    door.indexed({f"trip/{a.name}": a, b.name: b})
    (before,) = File.select().where(File.rel_path == f"alice/trip/{a.name}")
    door.sftp(f"rename trip holiday\nrename holiday/{a.name} holiday/kept.jpg\nrm {b.name}\n")
    door.indexed({"holiday/kept.jpg": a})
    (after,) = File.select().where(File.rel_path == "alice/holiday/kept.jpg")
    assert (after.id, after.photo_id) == (before.id, before.photo_id)
    (gone,) = File.select().where(File.rel_path == f"alice/{b.name}")
    assert gone.status == "missing"


# -- going away mid-upload --------------------------------------------------------------------


class Relay:
    """A TCP relay on loopback to the daemon, which can stop forwarding without closing
    anything: to both ends, the network has vanished."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self.frozen.is_set():
                data = source.recv(1 << 16)
                if not data or self.frozen.is_set():
                    return  # frozen: the bytes in hand are never delivered
                sink.sendall(data)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _big_photo(door: Door) -> Path:
    """A real JPEG made long (6 MiB of bytes after its end), sent at about 1 MB/s."""
    (first,) = door.photos("big", 1)
    big = door.tmp / "big.jpg"
    big.write_bytes(first.read_bytes() + os.urandom(6 << 20))
    return big


def _start_upload(door: Door, source: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    command = sftp_command(door.running, door.key, "-l", "8000")
    if port is not None:
        command[command.index("-P") + 1] = str(port)
    client = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: sftp and the ssh it runs
    )  # fmt: skip
    assert client.stdin is not None
    client.stdin.write(f"put {source} {source.name}\n".encode())
    client.stdin.close()
    target = door.folder / source.name
    wait_for("some bytes", lambda: target.exists() and target.stat().st_size > 256 << 10)
    return client


def _end(client: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(client.pid, signal.SIGKILL)
    client.wait(timeout=10)


WAYS = ["sftp killed", "sftp and ssh killed", "network gone", "daemon stopped", "daemon killed"]


@_needs("sftp")
@pytest.mark.parametrize("way", WAYS)
def test_a_client_gone_mid_upload_leaves_no_photo_until_resumed(door: Door, way: str) -> None:
    source = _big_photo(door)
    relay = Relay(door.port) if way == "network gone" else None
    client = _start_upload(door, source, relay.port if relay else None)
    try:
        if way == "sftp killed":  # its ssh ends the channel in order, without SSH_FXP_CLOSE
            os.kill(client.pid, signal.SIGKILL)
        elif way == "sftp and ssh killed":
            os.killpg(client.pid, signal.SIGKILL)
        elif way == "network gone":
            assert relay is not None
            relay.frozen.set()  # the keepalive (1 s, 3 missed) must end the connection
        if way.startswith("daemon"):
            stop = signal.SIGTERM if way == "daemon stopped" else signal.SIGKILL
            code = door.running.stop(stop)
            if stop == signal.SIGTERM:
                assert code == 0
                assert door.running.logged(f"upload of {door.folder / source.name} was cut off")
            door.restart()
            assert door.running.logged("1 partial SFTP uploads wait for their clients")
        else:
            wait_for("the cut-off", lambda: door.running.logged("was cut off"), timeout=20)
    finally:
        _end(client)
        if relay is not None:
            relay.close()
    other = _left_unindexed(door, source)
    door.sftp(f"{'put -a' if 'killed' in way else 'reput'} {source} {source.name}\n")
    _indexed_once(door, source, other)


def _left_unindexed(door: Door, source: Path) -> Path:
    """Check that the partial upload of `source` is shorter than it and not in the catalog
    once another upload, sent after it, has been indexed; returns that other photo."""
    partial = (door.folder / source.name).stat().st_size
    assert 0 < partial < source.stat().st_size

    # another upload after it is indexed: the daemon has worked; the partial file is not a photo
    (other,) = door.photos("other", 1, first=1)
    door.sftp(f"put {other}\n")
    door.indexed({other.name: other})
    assert not list(File.select().where(File.rel_path == f"alice/{source.name}"))
    assert [bytes(u.rel_path_raw) for u in Upload.select()] == [f"alice/{source.name}".encode()]
    return other


def _indexed_once(door: Door, source: Path, other: Path) -> None:
    """The resumed upload of `source` is in the catalog once, as one photo, with its hash."""
    door.indexed({other.name: other, source.name: source})
    want = hash_file(os.fsencode(source))
    (only,) = File.select().where(File.hash == want)
    assert (only.rel_path, only.size) == (f"alice/{source.name}", source.stat().st_size)
    assert Photo.select().count() == 2  # this one and the other: none from the partial file
    assert Upload.select().count() == 0
    assert not door.running.logged(" failed: ")  # no stage met a truncated file


def sftp_put(door: Door, source: Path) -> None:
    """OpenSSH's `put` without -a: opened with truncation, the whole file written."""
    door.sftp(f"put {source} {source.name}\n")


def rclone_retry(door: Door, source: Path) -> None:
    """rclone's retry: the sizes differ, so it copies the whole file again."""
    done = _rclone(door, "copyto", str(source), f"shoebox:{source.name}")
    assert ": Copied (replaced existing)" in done.stderr


RESUMES: list[tuple[Callable[[Door, Path], None], str]] = [
    (sftp_put, "sftp"),
    (rclone_retry, "rclone"),
]


@_needs("sftp")
@pytest.mark.parametrize(
    "resume",
    [pytest.param(fn, marks=_needs(program), id=fn.__name__) for fn, program in RESUMES],
)
def test_a_cut_off_upload_sent_again_whole_is_indexed_once(
    door: Door, resume: Callable[[Door, Path], None]
) -> None:
    """Clients that do not resume send the whole file again over the partial one (OpenSSH's
    `put` without -a, an rclone retry): it is indexed once, as one photo, when complete."""
    source = _big_photo(door)
    client = _start_upload(door, source)
    try:
        os.killpg(client.pid, signal.SIGKILL)
        wait_for("the cut-off", lambda: door.running.logged("was cut off"), timeout=20)
    finally:
        _end(client)
    other = _left_unindexed(door, source)
    resume(door, source)
    _indexed_once(door, source, other)
