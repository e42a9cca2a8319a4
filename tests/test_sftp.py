"""The SFTP endpoint against real clients (OpenSSH sftp, lftp, asyncssh) on a loopback port:
uploads are reported once complete and never when cut off, each account stays in its folder,
and logins, limits and back-off behave."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, ClassVar

import asyncssh
import pytest
from asyncssh.constants import (
    FILEXFER_ATTR_SIZE,
    FX_BAD_MESSAGE,
    FX_OK,
    FXF_CREAT,
    FXF_TRUNC,
    FXF_WRITE,
    FXP_ATTRS,
    FXP_CLOSE,
    FXP_FSTAT,
    FXP_HANDLE,
    FXP_INIT,
    FXP_OPEN,
    FXP_STATUS,
    FXP_VERSION,
    FXP_WRITE,
)
from asyncssh.packet import Byte, SSHPacket, String, UInt32, UInt64

from conftest import wait_for, write_config
from shoebox import cli, config
from shoebox.catalog.database import Catalog
from shoebox.config import SftpSettings
from shoebox.errors import ConfigError, ShoeboxError
from shoebox.guard import Guard, Policy
from shoebox.passwords import hash_password
from shoebox.sftp import SFTPEndpoint, accounts, compat, hostkey
from shoebox.sftp.accounts import AccountRecord
from shoebox.sftp.server import encryption_algs

SFTP = shutil.which("sftp")
LFTP = shutil.which("lftp")
needs_sftp = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")
SSH_OPTS = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
]


class Recorder:
    """An UploadListener that notes what it hears, in order. A file named in `refuse` makes
    the call named there raise."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []  # (call, file name), in order
        self.opened: list[tuple[str, str, bool]] = []  # (file name, account, existed)
        self.uploads: list[Path] = []
        self.cut: list[Path] = []
        self.refuse: dict[str, str] = {}  # file name -> "opening" or "completed"

    def _hear(self, call: str, path: Path) -> None:
        self.heard.append((call, path.name))
        if self.refuse.get(path.name) == call:
            raise ShoeboxError(f"{call} refused for {path.name}")

    async def opening(self, path: Path, account: str) -> None:
        self.opened.append((path.name, account, path.exists()))
        self._hear("opening", path)

    async def completed(self, path: Path) -> None:
        self._hear("completed", path)
        self.uploads.append(path)

    async def cut_off(self, path: Path) -> None:
        self._hear("cut_off", path)
        self.cut.append(path)


class Server:
    """An SFTPEndpoint on 127.0.0.1 in its own event-loop thread, recording what it tells."""

    def __init__(
        self,
        settings: SftpSettings,
        lookup: Callable[[str], AccountRecord | None],
        guard: Guard | None = None,
        **options: Any,
    ) -> None:
        self.listener = Recorder()
        self.uploads = self.listener.uploads
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = SFTPEndpoint(settings, self.listener, lookup=lookup, guard=guard, **options)
        self.call(self.endpoint.start())
        self.port = self.endpoint.port

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self, cleanup: Callable[[], None] | None = None) -> None:
        self.call(self.endpoint.stop())
        if cleanup is not None:
            self.call(_run(cleanup))  # in the loop's thread: its own DB connection
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def sftp(
        self, user: str, key: Path, batch: str, *, extra: tuple[str, ...] = (), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run OpenSSH sftp in batch mode (one command a line; stops at the first failure,
        unless the command starts with `-`)."""
        assert SFTP is not None
        done = subprocess.run(
            [
                SFTP,
                *("-b", "-", "-i", str(key), "-P", str(self.port), *SSH_OPTS),
                *("-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no", *extra),
                f"{user}@127.0.0.1",
            ],
            input=batch,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done


async def _run(fn: Callable[[], None]) -> None:
    fn()


@dataclasses.dataclass
class Setup:
    root: Path  # the library root = upload root
    settings: SftpSettings
    key: Path  # the client's private key; key.with_suffix(".pub") the public one
    accounts: dict[str, AccountRecord]

    def account(self, name: str, *, password: str | None = None, key: bool = True) -> Path:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        self.accounts[name] = AccountRecord(
            name=name,
            password_hash=hash_password(password) if password else None,
            authorized_keys=self.key.with_suffix(".pub").read_text() if key else "",
            folder=folder,
            role="member",
        )
        return folder

    def server(self, guard: Guard | None = None, **changes: Any) -> Server:
        options = {k: changes.pop(k) for k in ("max_unauthenticated",) if k in changes}
        settings = dataclasses.replace(self.settings, **changes)
        return Server(settings, self.accounts.get, guard, **options)


def _client_key(path: Path) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(path)
    path.chmod(0o600)
    key.write_public_key(path.with_suffix(".pub"))
    return path


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    root = tmp_path / "originals"
    root.mkdir()
    settings = SftpSettings(
        listen="127.0.0.1:0",
        host_key=tmp_path / "state" / "host_key",
        upload_root=root,
        min_free_mb=0,
        keepalive_seconds=5,
    )
    with Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path):  # the guard counts in it
        yield Setup(root, settings, _client_key(tmp_path / "id_ed25519"), {})


@pytest.fixture
def server(setup: Setup) -> Iterator[Server]:
    setup.account("alice")
    srv = setup.server()
    try:
        yield srv
    finally:
        srv.close()


def _file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _outside(tmp_path: Path, root: Path) -> set[Path]:
    """Every file under tmp_path but outside the library root."""
    return {p for p in tmp_path.rglob("*") if root not in p.parents and p != root}


# -- uploads ---------------------------------------------------------------------------------


@needs_sftp
def test_put_mkdir_rename_and_preserve(setup: Setup, server: Server, tmp_path: Path) -> None:
    folder = setup.root / "alice"
    photo = _file(tmp_path / "IMG_0001.jpg", 300_000)
    os.utime(photo, (1_600_000_000, 1_600_000_000))
    photo.chmod(0o751)
    server.sftp(
        "alice",
        setup.key,
        f"put {photo}\nmkdir album\nput -p {photo} album/kept.jpg\n"
        f"put {photo} album/IMG_2.jpg.partial\nrename album/IMG_2.jpg.partial album/IMG_2.jpg\n"
        f"put {photo} .syncthing.x.jpg.tmp\n",
    )
    expected = [folder / "IMG_0001.jpg", folder / "album/kept.jpg", folder / "album/IMG_2.jpg"]
    wait_for("three uploads", lambda: len(server.uploads) >= 3)
    assert server.uploads == expected
    for path in expected:
        assert path.read_bytes() == photo.read_bytes()
    kept = (folder / "album/kept.jpg").stat()
    assert kept.st_mtime == 1_600_000_000  # put -p: the times are honoured ...
    assert kept.st_mode & 0o777 != 0o751  # ... the permissions are not
    assert (folder / ".syncthing.x.jpg.tmp").exists()  # written, but a temp name: not reported


@needs_sftp
def test_the_listener_hears_in_order_and_may_refuse(setup: Setup, tmp_path: Path) -> None:
    """`opening` is heard (and awaited) before the file is opened, never for a temporary name;
    a refusal there fails the open with its message and writes nothing; a refusal by
    `completed` fails the client's close ("send it again")."""
    folder = setup.account("alice")
    srv = setup.server()
    srv.listener.refuse = {"no.jpg": "opening", "lost.jpg": "completed"}
    try:
        photo = _file(tmp_path / "IMG_1.jpg", 100_000)
        done = srv.sftp("alice", setup.key, f"put {photo} a.jpg\nput {photo} .a.jpg.tmp\n"
                        f"put {photo} a.jpg\n-put {photo} no.jpg\n-put {photo} lost.jpg\n")  # fmt: skip
    finally:
        srv.close()
    assert srv.listener.opened == [
        ("a.jpg", "alice", False),
        ("a.jpg", "alice", True),
        ("no.jpg", "alice", False),
        ("lost.jpg", "alice", False),
    ]
    assert srv.listener.heard == [
        ("opening", "a.jpg"), ("completed", "a.jpg"),
        ("opening", "a.jpg"), ("completed", "a.jpg"),
        ("opening", "no.jpg"),
        ("opening", "lost.jpg"), ("completed", "lost.jpg"),
    ]  # fmt: skip
    assert 'dest open "/no.jpg": Failure' in done.stderr
    assert not (folder / "no.jpg").exists()
    assert "close remote: Failure" in done.stderr  # lost.jpg's
    assert srv.uploads == [folder / "a.jpg", folder / "a.jpg"]
    assert srv.listener.cut == []


def test_a_refusal_reaches_the_client_with_its_reason(setup: Setup, server: Server) -> None:
    server.listener.refuse = {"no.jpg": "opening", "lost.jpg": "completed"}

    async def session() -> list[str]:
        reasons = []
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            with pytest.raises(asyncssh.SFTPFailure) as refused:
                await sftp.open("no.jpg", "wb")
            reasons.append(refused.value.reason)
            fh = await sftp.open("lost.jpg", "wb")
            await fh.write(b"bytes")
            with pytest.raises(asyncssh.SFTPFailure) as lost:
                await fh.close()
            reasons.append(lost.value.reason)
        return reasons

    assert asyncio.run(session()) == [
        "opening refused for no.jpg",
        "the upload could not be recorded; send it again",
    ]


def _slow_upload(server: Server, key: Path, source: Path, target: Path) -> subprocess.Popen[bytes]:
    """Start `sftp put` at about 1 MB/s and wait until some bytes have arrived."""
    assert SFTP is not None
    proc = subprocess.Popen(
        [
            SFTP,
            *("-b", "-", "-l", "8000", "-i", str(key), "-P", str(server.port), *SSH_OPTS),
            *("-o", "IdentitiesOnly=yes", "alice@127.0.0.1"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: sftp and the ssh it runs
    )
    assert proc.stdin is not None
    proc.stdin.write(f"put {source}\n".encode())
    proc.stdin.close()
    wait_for("some bytes", lambda: target.exists() and target.stat().st_size > 256 << 10)
    return proc


@needs_sftp
@pytest.mark.parametrize("who", ["sftp", "sftp and ssh"])
def test_killed_client_is_not_an_upload_and_put_a_resumes(
    setup: Setup, server: Server, tmp_path: Path, who: str
) -> None:
    """SIGKILL of `sftp` alone leaves its `ssh` to end the channel in an orderly way (EOF,
    close) without SSH_FXP_CLOSE; SIGKILL of both drops the connection. Either way the
    handle is cut off, not an upload; `put -a` then completes it."""
    video = _file(tmp_path / "clip.mp4", 8 << 20)
    target = setup.root / "alice" / "clip.mp4"
    proc = _slow_upload(server, setup.key, video, target)
    assert server.endpoint.is_uploading(target)
    if who == "sftp":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for("the cut-off", lambda: server.listener.cut)
    assert server.listener.cut == [target]
    assert server.uploads == []
    assert not server.endpoint.is_uploading(target)
    partial = target.stat().st_size
    assert 0 < partial < video.stat().st_size
    wait_for("the connection to go", lambda: not server.endpoint.connections)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # ssh, if it is still there

    server.sftp("alice", setup.key, f"put -a {video}\n")
    assert server.uploads == [target]
    assert target.read_bytes() == video.read_bytes()


@needs_sftp
def test_keepalive_releases_a_vanished_client(setup: Setup, tmp_path: Path) -> None:
    setup.account("alice")
    srv = setup.server(keepalive_seconds=1)
    video = _file(tmp_path / "clip.mp4", 8 << 20)
    target = setup.root / "alice" / "clip.mp4"
    proc = _slow_upload(srv, setup.key, video, target)
    try:
        os.killpg(proc.pid, signal.SIGSTOP)  # the phone left the Wi-Fi: no FIN, no answers
        wait_for("the keepalive", lambda: not srv.endpoint.connections, timeout=15)
        wait_for("the cut-off", lambda: srv.listener.cut)
        assert srv.listener.cut == [target]
        assert srv.uploads == []
        assert target.stat().st_size < video.stat().st_size
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        srv.close()


def _connect(server: Server, user: str, key: Path) -> Any:
    return asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=user,
        client_keys=[str(key)],
        known_hosts=None,
        agent_path=None,
    )


def test_sync_tool_temp_names_count_once_renamed(setup: Setup, server: Server) -> None:
    folder = setup.root / "alice"
    temp_names = ["a.jpg.partial", ".in.b.jpg.", "c.jpg.tacitpart", ".syncthing.d.jpg.tmp"]
    temp_names.append("e.jpg.!Sync")

    async def session() -> None:
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            for i, name in enumerate(temp_names):
                async with sftp.open(name, "wb") as fh:
                    await fh.write(b"x" * 1000)
                await (sftp.posix_rename if i % 2 else sftp.rename)(name, f"final{i}.jpg")
            # renamed while still open: reported once, at the close, under the new name
            fh = await sftp.open("late.jpg.partial", "wb")
            await fh.write(b"first half ")
            await sftp.rename("late.jpg.partial", "late.jpg")
            await fh.write(b"second half")
            assert server.uploads == [folder / f"final{i}.jpg" for i in range(5)]
            await fh.close()

    asyncio.run(session())
    expected = [folder / f"final{i}.jpg" for i in range(5)] + [folder / "late.jpg"]
    assert server.uploads == expected
    assert (folder / "late.jpg").read_bytes() == b"first half second half"
    assert server.listener.opened == []  # only temporary names were opened


def test_names_changed_without_a_write_handle_are_told(setup: Setup, server: Server) -> None:
    """A rename, a removal, a hard link, a folder renamed: the listener hears every final name
    that appeared or went (it indexes what is there now); temporary names are not told."""
    folder = setup.root / "alice"
    (folder / "trip").mkdir()
    for name in ("a.jpg", "b.jpg", "trip/c.jpg", "trip/.d.jpg.tmp"):
        (folder / name).write_bytes(name.encode())

    async def session() -> None:
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            await sftp.rename("a.jpg", "a2.jpg")
            await sftp.posix_rename("a2.jpg", "b.jpg")  # over an existing photo
            await sftp.remove("b.jpg")
            await sftp.rename("trip", "holiday")
            await sftp.link("holiday/c.jpg", "c-again.jpg")

    asyncio.run(session())
    assert server.uploads == [
        folder / "a.jpg", folder / "a2.jpg",
        folder / "a2.jpg", folder / "b.jpg",
        folder / "b.jpg",
        folder / "holiday/c.jpg",
        folder / "c-again.jpg",
    ]  # fmt: skip
    assert (folder / "c-again.jpg").read_bytes() == b"trip/c.jpg"
    assert server.listener.opened == []


def test_too_many_connections_logging_in_are_dropped(setup: Setup) -> None:
    srv = setup.server(max_unauthenticated=2)
    socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(3)]
    try:
        assert socks[0].recv(100).startswith(b"SSH-2.0-")  # the server greets the first two
        assert socks[1].recv(100).startswith(b"SSH-2.0-")
        with contextlib.suppress(ConnectionResetError):  # and hangs up on the third
            assert socks[2].recv(100) == b""
    finally:
        for sock in socks:
            sock.close()
        srv.close()


def test_setstat_honours_size_and_times_and_ignores_the_rest(setup: Setup, tmp_path: Path) -> None:
    """As OpenSSH's sftp-server does, a size set is a truncation (by name: the listener hears
    the file changed; through a write handle: its close tells); ownership and permissions are
    accepted and left as the server made them; a size over the limit is refused."""
    folder = setup.account("alice")
    srv = setup.server(max_file_size_mb=1)
    photo = folder / "p.jpg"
    photo.write_bytes(b"0123456789")
    photo.chmod(0o644)

    async def session() -> None:
        async with _connect(srv, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            attrs = asyncssh.SFTPAttrs(size=5, permissions=0o777, uid=0, gid=0)
            await sftp.setstat("p.jpg", attrs)
            await sftp.chmod("p.jpg", 0o600)
            await sftp.chown("p.jpg", 0, 0)
            assert srv.uploads == [photo]
            async with sftp.open("p.jpg", "r+b") as fh:
                await fh.write(b"ab")
                await fh.truncate(2)
                await fh.chmod(0o600)
                assert srv.uploads == [photo]  # the close tells
            await sftp.utime("p.jpg", (1_500_000_000, 1_500_000_000))
            with pytest.raises(asyncssh.SFTPFailure, match="file too large"):
                await sftp.truncate("p.jpg", 2 << 20)

    try:
        asyncio.run(session())
    finally:
        srv.close()
    st = photo.stat()
    assert (photo.read_bytes(), st.st_mode & 0o777, st.st_mtime) == (b"ab", 0o644, 1_500_000_000)
    assert srv.uploads == [photo, photo]


def test_wrong_key_and_missing_folder_are_refused(
    setup: Setup, server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shoebox.sftp")
    stranger = _client_key(tmp_path / "stranger")

    async def login(user: str, key: Path) -> None:
        async with _connect(server, user, key):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(login("alice", stranger))
    wait_for("the log line", lambda: "failed login for alice from 127.0.0.1" in caplog.text)
    (setup.root / "alice").rename(setup.root / "elsewhere")  # as if its disk were unmounted
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(login("alice", setup.key))
    assert "its folder" in caplog.text and "is missing" in caplog.text
    assert not (setup.root / "alice").exists()  # not made again on the mount point


@pytest.mark.skipif(LFTP is None, reason="lftp is not installed")
def test_lftp_with_a_password(setup: Setup, tmp_path: Path) -> None:
    setup.account("carol", password="correct horse", key=False)  # noqa: S106
    srv = setup.server()
    try:
        photo = _file(tmp_path / "from-lftp.jpg", 123_456)
        connect = "ssh -a -x " + " ".join(SSH_OPTS) + " -o PubkeyAuthentication=no"
        script = (
            f"set sftp:connect-program '{connect}'; set net:max-retries 1; "
            f"open -u carol,'correct horse' -p {srv.port} sftp://127.0.0.1; "
            f"mkdir trip; put {photo} -o trip/from-lftp.jpg"
        )
        assert LFTP is not None
        done = subprocess.run(
            [LFTP, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        target = setup.root / "carol" / "trip" / "from-lftp.jpg"
        wait_for("lftp's upload", lambda: srv.uploads)
        assert srv.uploads == [target]
        assert target.read_bytes() == photo.read_bytes()
    finally:
        srv.close()


# -- asyncssh as shoebox.sftp.compat changes it ------------------------------------------------
# Each test runs asyncssh's own handler (compat.STOCK) beside compat.SFTPHandler over a real
# connection: the stock half fails when a new asyncssh no longer does what is patched (then
# drop the patch), the patched half when it changes what the patch relies on.


class _NotingServer(asyncssh.SFTPServer):
    """asyncssh's plain SFTP server in a folder, noting which close it is asked for."""

    noted: ClassVar[list[tuple[str, str]]] = []
    folder: ClassVar[bytes] = b""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        super().__init__(chan, chroot=self.folder)

    def close(self, file_obj: Any) -> None:
        self.noted.append(("close", os.fsdecode(os.path.basename(file_obj.name))))
        super().close(file_obj)

    def client_close(self, file_obj: Any) -> None:
        self.noted.append(("client_close", os.fsdecode(os.path.basename(file_obj.name))))
        super().close(file_obj)


class _HoldingServer(_NotingServer):
    """Holds each write until its `settle()` (as shoebox's endpoint does), noting how many
    writes each settle put on disk."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        super().__init__(chan)
        self.held: list[tuple[Any, int, bytes]] = []

    def write(self, file_obj: Any, offset: int, data: bytes) -> int:
        self.held.append((file_obj, offset, data))
        return len(data)

    def settle(self) -> None:
        if self.held:
            self.noted.append(("settle", str(len(self.held))))
        for file_obj, offset, data in self.held:
            super().write(file_obj, offset, data)
        self.held = []


class _Open(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False  # no authentication: a test's own server on loopback


class _RawSFTP:
    """An SFTP version 3 client that sends packets as given, over an SSH session."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.next_id = 0

    async def request(self, kind: int, *fields: bytes, tail: bytes = b"") -> tuple[int, Any]:
        """Send a request (its fields, then `tail`); the reply's type and the rest of it."""
        self.next_id += 1
        payload = Byte(kind) + UInt32(self.next_id) + b"".join(fields) + tail
        self.process.stdin.write(UInt32(len(payload)) + payload)
        kind, packet = await self.reply()
        assert packet.get_uint32() == self.next_id
        return kind, packet

    async def reply(self) -> tuple[int, Any]:
        size = int.from_bytes(await self.process.stdout.readexactly(4), "big")
        packet = SSHPacket(await self.process.stdout.readexactly(size))
        return packet.get_byte(), packet

    async def start(self) -> None:
        self.process.stdin.write(UInt32(5) + Byte(FXP_INIT) + UInt32(3))
        kind, _ = await self.reply()
        assert kind == FXP_VERSION

    async def open_for_writing(self, name: bytes) -> bytes:
        kind, packet = await self.request(
            FXP_OPEN, String(name), UInt32(FXF_WRITE | FXF_CREAT | FXF_TRUNC), UInt32(0)
        )
        assert kind == FXP_HANDLE
        return bytes(packet.get_string())

    async def status(self, kind: int, *fields: bytes, tail: bytes = b"") -> tuple[int, str]:
        reply, packet = await self.request(kind, *fields, tail=tail)
        assert reply == FXP_STATUS
        return packet.get_uint32(), packet.get_string().decode()


async def _bare_server(
    tmp_path: Path, handler: type, session: Any, factory: type = _NotingServer
) -> Any:
    """Run `session(raw)` against a bare asyncssh SFTP server (`factory`) in tmp_path/files
    that uses `handler`; returns what `session` returned and the process's exit status."""
    (tmp_path / "files").mkdir(exist_ok=True)
    _NotingServer.folder = os.fsencode(tmp_path / "files")
    _NotingServer.noted = []
    server = await asyncssh.create_server(
        _Open, "127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        sftp_factory=factory, encoding=None,
    )  # fmt: skip
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncssh.connect(
            "127.0.0.1", port, username="t", known_hosts=None, agent_path=None, client_keys=None
        ) as conn:
            process = await conn.create_process(subsystem="sftp", encoding=None)
            raw = _RawSFTP(process)
            await raw.start()
            result = await session(raw)
            process.stdin.write_eof()
            done = await process.wait()
            return result, done.exit_status
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("handler", [compat.STOCK, compat.SFTPHandler], ids=["stock", "patched"])
def test_compat_a_write_longer_than_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: type
) -> None:
    """Go's pkg/sftp sends WRITE packets longer than their data; OpenSSH writes the declared
    bytes and skips the rest; asyncssh's own handler calls the request bad."""
    monkeypatch.setattr(asyncssh.sftp, "SFTPServerHandler", handler)

    async def session(raw: _RawSFTP) -> tuple[int, str]:
        handle = await raw.open_for_writing(b"w.jpg")
        fields = (String(handle), UInt64(0), String(b"declared"))
        answer = await raw.status(FXP_WRITE, *fields, tail=os.urandom(28_000))
        assert await raw.status(FXP_CLOSE, String(handle)) == (FX_OK, "")
        return answer

    answer, _ = asyncio.run(_bare_server(tmp_path, handler, session))
    if handler is compat.STOCK:
        assert answer == (FX_BAD_MESSAGE, "Unexpected data at end of packet")
        assert (tmp_path / "files/w.jpg").read_bytes() == b""
    else:
        assert answer == (FX_OK, "")
        assert (tmp_path / "files/w.jpg").read_bytes() == b"declared"


@pytest.mark.parametrize("handler", [compat.STOCK, compat.SFTPHandler], ids=["stock", "patched"])
def test_compat_the_clients_close_is_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: type
) -> None:
    """asyncssh calls `close` for the client's SSH_FXP_CLOSE and for the handles it closes
    itself when the session ends; patched, the client's own calls `client_close`."""
    monkeypatch.setattr(asyncssh.sftp, "SFTPServerHandler", handler)

    async def session(raw: _RawSFTP) -> None:
        closed = await raw.open_for_writing(b"closed.jpg")
        await raw.open_for_writing(b"left-open.jpg")
        assert await raw.status(FXP_CLOSE, String(closed)) == (FX_OK, "")
        assert await raw.status(FXP_CLOSE, String(b"nonsense")) == (4, "Invalid file handle")

    asyncio.run(_bare_server(tmp_path, handler, session))
    first = "close" if handler is compat.STOCK else "client_close"
    assert _NotingServer.noted == [(first, "closed.jpg"), ("close", "left-open.jpg")]


@pytest.mark.parametrize("handler", [compat.STOCK, compat.SFTPHandler], ids=["stock", "patched"])
def test_compat_the_server_settles_before_any_request_but_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: type
) -> None:
    """A server that holds writes is asked to `settle()` them before every request but a
    write; asyncssh's own handler never asks, so a stat after two writes sees none of them
    and the close leaves them unwritten."""
    monkeypatch.setattr(asyncssh.sftp, "SFTPServerHandler", handler)

    async def session(raw: _RawSFTP) -> int:
        handle = await raw.open_for_writing(b"held.jpg")
        for offset, data in ((0, b"declared"), (8, b"-written")):
            fields = (String(handle), UInt64(offset), String(data))
            assert await raw.status(FXP_WRITE, *fields) == (FX_OK, "")
        kind, attrs = await raw.request(FXP_FSTAT, String(handle))
        assert kind == FXP_ATTRS
        assert attrs.get_uint32() & FILEXFER_ATTR_SIZE
        size: int = attrs.get_uint64()
        assert await raw.status(FXP_CLOSE, String(handle)) == (FX_OK, "")
        return size

    size, _ = asyncio.run(_bare_server(tmp_path, handler, session, _HoldingServer))
    settled = [note for note in _NotingServer.noted if note[0] == "settle"]
    if handler is compat.STOCK:
        assert (size, settled) == (0, [])
        assert (tmp_path / "files/held.jpg").read_bytes() == b""
    else:
        assert (size, settled) == (16, [("settle", "2")])  # both writes, at the stat
        assert (tmp_path / "files/held.jpg").read_bytes() == b"declared-written"


def test_compat_held_writes_are_on_disk_before_any_other_answer(
    setup: Setup, server: Server
) -> None:
    """Consecutive writes are held and put on disk together (fewer system calls, fewer
    watcher events); any request but a write finds them there, as the size and the times set
    after the writes show."""
    target = setup.root / "alice" / "held.jpg"

    async def session() -> None:
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            async with sftp.open("held.jpg", "wb") as fh:
                await fh.write(b"a" * 1000)
                await fh.write(b"b" * 1000, 1000)
                assert target.stat().st_size == 0  # held
                assert (await fh.stat()).size == 2000
                assert target.stat().st_size == 2000
                await fh.write(b"c" * 1000, 2000)
                await fh.utime((1_500_000_000, 1_500_000_000))
            assert (await sftp.stat("held.jpg")).mtime == 1_500_000_000

    asyncio.run(session())
    assert target.read_bytes() == b"a" * 1000 + b"b" * 1000 + b"c" * 1000
    assert target.stat().st_mtime == 1_500_000_000
    assert server.uploads == [target]


def test_a_write_that_fails_on_disk_fails_the_upload(
    setup: Setup, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes held and put on disk later: a failure then (the disk full under the free-space
    margin; faked here, as no test may fill a disk) fails the handle's next write and its
    close, and the listener hears no upload."""

    def full(fd: int, buffers: list[bytes], offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwritev", full)

    async def session() -> list[str]:
        reasons = []
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            fh = await sftp.open("full.jpg", "wb")
            await fh.write(b"x" * 1000)  # held
            await sftp.stat("/")  # put on disk: fails, noted
            with pytest.raises(asyncssh.SFTPFailure) as refused:
                await fh.write(b"y" * 1000, 1000)
            reasons.append(refused.value.reason)
            with pytest.raises(asyncssh.SFTPFailure) as closed:
                await fh.close()
            reasons.append(closed.value.reason)
        return reasons

    reason = "the file could not be written: No space left on device"
    assert asyncio.run(session()) == [reason, reason]
    assert server.uploads == []
    assert server.listener.heard == [("opening", "full.jpg")]


def test_a_session_ended_by_the_client_exits_0(setup: Setup, server: Server) -> None:
    """OpenSSH's sftp-server exits 0 when its client ends the session, and sshd passes that
    on; OpenSSH's scp reports a failed copy without it (asyncssh sends none)."""

    async def session() -> int | None:
        async with _connect(server, "alice", setup.key) as conn:
            process = await conn.create_process(subsystem="sftp", encoding=None)
            await _RawSFTP(process).start()
            process.stdin.write_eof()
            return (await process.wait()).exit_status

    assert asyncio.run(session()) == 0


# -- confinement -----------------------------------------------------------------------------


@needs_sftp
def test_paths_never_leave_the_folder(setup: Setup, server: Server, tmp_path: Path) -> None:
    folder = setup.root / "alice"
    (setup.root / "bob").mkdir()
    (setup.root / "bob" / "private.jpg").write_bytes(b"bob's")
    (folder / "etc").symlink_to("/etc")
    (folder / "bobs").symlink_to(setup.root / "bob")
    x = _file(tmp_path / "x.jpg", 1000)
    before = _outside(tmp_path, setup.root)

    done = server.sftp("alice", setup.key, f"put {x} ../../evil.jpg\ncd /\npwd\nls -1\n")
    assert "Remote working directory: /\n" in done.stdout
    assert (folder / "evil.jpg").exists()  # `..` above / stays at /
    for batch in (
        f"put {x} /etc/evil.jpg\n",  # / is the folder: its etc is the symlink below
        f"put {x} etc/evil.jpg\n",  # a symlink already on disk that leads out
        "get etc/passwd\n",
        "ls etc\n",
        "get bobs/private.jpg\n",
        f"put {x} bobs/evil.jpg\n",
        "ln -s /etc mylink\n",  # client-made symbolic links are refused
        "ln etc/passwd hard\n",  # a hard link, of a file outside
        "ln bobs/private.jpg hard\n",
    ):
        done = server.sftp("alice", setup.key, batch, check=False)
        assert done.returncode != 0, batch
    assert not (folder / "mylink").exists()
    assert not (folder / "hard").exists()
    assert not Path("/etc/evil.jpg").exists()
    assert sorted(p.name for p in (setup.root / "bob").iterdir()) == ["private.jpg"]
    assert _outside(tmp_path, setup.root) == before
    assert server.uploads == [folder / "evil.jpg"]


@needs_sftp
def test_openssh_extensions_are_answered_inside_the_folder(
    setup: Setup, server: Server, tmp_path: Path
) -> None:
    """statvfs@openssh.com (`df`), limits@openssh.com, fsync@openssh.com (`put -f`) and
    hardlink@openssh.com (`ln`), as OpenSSH's sftp uses them; a hard link is made only
    between names in the folder, of a file not being uploaded."""
    folder = setup.root / "alice"
    photo = _file(tmp_path / "IMG_1.jpg", 70_000)
    done = server.sftp("alice", setup.key, f"df /\nput -f {photo}\nln IMG_1.jpg again.jpg\n")
    df = done.stdout.splitlines()
    assert df[1].split()[0] == "Size" and len(df[2].split()) == 5  # Size Used Avail (Root) %Cap
    assert (folder / "again.jpg").samefile(folder / "IMG_1.jpg")
    assert server.uploads == [folder / "IMG_1.jpg", folder / "again.jpg"]

    async def session() -> None:
        async with _connect(server, "alice", setup.key) as conn, conn.start_sftp_client() as sftp:
            vfs = await sftp.statvfs("/")
            assert (vfs.bsize, vfs.blocks) == (
                os.statvfs(folder).f_bsize,
                os.statvfs(folder).f_blocks,
            )
            assert sftp.limits.max_write_len >= 255 * 1024  # asked for at the start
            async with sftp.open("open.jpg", "wb") as fh:
                await fh.write(b"half")
                await fh.fsync()
                with pytest.raises(asyncssh.SFTPFailure, match="still being uploaded"):
                    await sftp.link("open.jpg", "copy.jpg")
            with pytest.raises(asyncssh.SFTPError):
                await sftp.link("/", "folder-link")

    asyncio.run(session())
    assert not (folder / "copy.jpg").exists()
    assert not (folder / "folder-link").exists()


def test_no_exec_shell_or_forwarding(setup: Setup, server: Server) -> None:
    async def attempt() -> None:
        async with asyncssh.connect(
            "127.0.0.1",
            server.port,
            username="alice",
            client_keys=[str(setup.key)],
            known_hosts=None,
            agent_path=None,
        ) as conn:
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.run("id", check=True)
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_connection("127.0.0.1", server.port)
            async with conn.start_sftp_client() as sftp:  # what is offered
                assert await sftp.realpath(".") == "/"

    asyncio.run(attempt())


# -- logins and limits -----------------------------------------------------------------------


def _password_login(port: int, user: str, password: str) -> str:
    async def attempt() -> str:
        try:
            async with asyncssh.connect(
                "127.0.0.1",
                port,
                username=user,
                password=password,
                client_keys=None,
                known_hosts=None,
                agent_path=None,
                preferred_auth="password",
            ):
                return "ok"
        except asyncssh.PermissionDenied:
            return "denied"
        except (asyncssh.DisconnectError, ConnectionError) as exc:
            return f"refused: {exc}"

    return asyncio.run(attempt())


def test_wrong_passwords_back_off_and_are_logged(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shoebox.sftp")
    setup.account("dave", password="right", key=False)  # noqa: S106
    now = [1000.0]
    srv = setup.server(guard=Guard(address=Policy(free=3, base=30), clock=lambda: now[0]))
    try:
        results = [_password_login(srv.port, "dave", "wrong") for _ in range(5)]
        assert results[:3] == ["denied"] * 3
        assert all(r.startswith("refused") and "try again in 30 s" in r for r in results[3:])
        assert _password_login(srv.port, "dave", "right").startswith("refused")  # backing off
        failed = [
            r.getMessage() for r in caplog.records if r.getMessage().startswith("failed login")
        ]
        assert failed == ["failed login for dave from 127.0.0.1"] * 6  # wrong or refused
        now[0] += 31  # the back-off has passed
        assert _password_login(srv.port, "dave", "right") == "ok"
        # dave's success clears dave's count, not the address's (it gives back its own try)
        assert _password_login(srv.port, "nobody", "x").startswith("refused")
        now[0] += 31
        assert _password_login(srv.port, "nobody", "x") == "denied"
        assert "failed login for nobody from 127.0.0.1" in caplog.text
    finally:
        srv.close()


def test_connections_per_account_are_limited(setup: Setup) -> None:
    setup.account("erin")
    srv = setup.server(max_connections_per_account=1)

    async def two() -> None:
        opts: dict[str, Any] = {
            "username": "erin",
            "client_keys": [str(setup.key)],
            "known_hosts": None,
            "agent_path": None,
        }
        async with asyncssh.connect("127.0.0.1", srv.port, **opts) as first:
            with pytest.raises(asyncssh.DisconnectError, match="too many connections"):
                async with asyncssh.connect("127.0.0.1", srv.port, **opts) as second:
                    await second.start_sftp_client()
            async with first.start_sftp_client() as sftp:
                assert sorted(await sftp.listdir(".")) == [".", ".."]

    try:
        asyncio.run(two())
    finally:
        srv.close()


@needs_sftp
def test_size_limit_and_disk_full_refuse_uploads(setup: Setup, tmp_path: Path) -> None:
    folder = setup.account("fred")
    big = _file(tmp_path / "big.mov", (2 << 20) + 1)
    small = _file(tmp_path / "small.jpg", 1000)
    srv = setup.server(max_file_size_mb=2)
    try:
        done = srv.sftp("fred", setup.key, f"put {small}\nput {big}\n", check=False)
        assert done.returncode != 0
        wait_for("the small upload", lambda: srv.uploads)
        assert srv.uploads == [folder / "small.jpg"]  # the refused one is not reported
    finally:
        srv.close()

    srv = setup.server(min_free_mb=1 << 40)  # more than any disk has free

    async def refused() -> str:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                srv.port,
                username="fred",
                client_keys=[str(setup.key)],
                known_hosts=None,
                agent_path=None,
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            with pytest.raises(asyncssh.SFTPError) as info:
                await sftp.put(str(small), "full.jpg")
            return str(info.value.reason)

    try:
        assert "disk full" in asyncio.run(refused())
        assert srv.sftp("fred", setup.key, f"put {small} full.jpg\n", check=False).returncode != 0
        assert not (folder / "full.jpg").exists()
        assert srv.uploads == []
    finally:
        srv.close()


X86 = "processor\t: 0\nflags\t\t: fpu vme sse2 aes avx2\n"
PI4 = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
PI5 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"


@pytest.mark.parametrize(
    ("cpuinfo", "chacha"), [(X86, False), (PI5, False), (PI4, True), ("", True)]
)
def test_chacha20_is_offered_only_without_aes_instructions(cpuinfo: str, chacha: bool) -> None:
    offered = encryption_algs(cpuinfo)
    assert ("chacha20-poly1305@openssh.com" in offered) == chacha
    assert "aes128-ctr" in offered and "aes128-gcm@openssh.com" in offered


def test_a_client_that_prefers_chacha20_gets_aes_where_the_cpu_has_it(
    setup: Setup, server: Server
) -> None:
    async def cipher() -> str:
        async with _connect(server, "alice", setup.key) as conn:  # asyncssh: ChaCha20 first
            return str(conn.get_extra_info("send_cipher"))

    offered = encryption_algs(Path("/proc/cpuinfo").read_text())
    aes = "chacha20-poly1305@openssh.com" not in offered
    assert asyncio.run(cipher()) == (
        "aes256-gcm@openssh.com" if aes else "chacha20-poly1305@openssh.com"
    )


def test_host_key_is_made_once_and_private(setup: Setup, server: Server) -> None:
    path = setup.settings.host_key
    assert path.stat().st_mode & 0o777 == 0o600
    first = hostkey.fingerprint(hostkey.load_or_create(path))
    assert first.startswith("SHA256:")
    assert hostkey.fingerprint(hostkey.load_or_create(path)) == first


# -- accounts in the catalog, through the command line ----------------------------------------


@needs_sftp
def test_user_commands_and_login_from_the_catalog(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "originals"
    root.mkdir()
    cfg = write_config(
        tmp_path / "etc" / "config.toml",
        f'[library]\noriginals = ["{root}"]\ncache = "{tmp_path / "cache"}"\n'
        f'[database]\nurl = "{db_url}"\n'
        f'[sftp]\nlisten = "127.0.0.1:0"\nupload_root = "{root / "phones"}"\nmin_free_mb = 0\n',
    )
    key = _client_key(tmp_path / "id_ed25519")
    run = ["--config", str(cfg)]
    assert cli.main([*run, "user", "add", "alice", "--key", str(key.with_suffix(".pub"))]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert cli.main([*run, "user", "add", "bob", "--password-stdin"]) == 0
    assert cli.main([*run, "user", "add", "Bad/Name", "--password-stdin"]) == 2
    assert cli.main([*run, "user", "add", "alice", "--key", str(key)]) == 2  # exists already
    assert (root / "phones" / "alice").is_dir()
    capsys.readouterr()
    assert cli.main([*run, "user", "add", "gone", "--key", str(key.with_suffix(".pub"))]) == 0
    assert cli.main([*run, "user", "remove", "gone"]) == 0
    assert cli.main([*run, "user", "remove", "gone"]) == 2
    capsys.readouterr()
    assert cli.main([*run, "user", "list"]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "1 key" in listing and "bob" in listing and "password" in listing
    assert "gone" not in listing
    assert cli.main([*run, "sftp", "info"]) == 0
    assert "host key: none yet" in capsys.readouterr().out  # info does not make it
    settings = config.load(cfg)
    assert not settings.sftp.host_key.exists()

    srv = Server(settings.sftp, accounts.lookup)  # makes the host key
    catalog: Catalog | None = None
    try:
        assert cli.main([*run, "sftp", "info"]) == 0
        info = capsys.readouterr().out
        fingerprint = hostkey.fingerprint(hostkey.load_or_create(settings.sftp.host_key))
        assert f"host key: {fingerprint}" in info
        assert "address:  sftp://alice@" in info and ":0/" in info
        catalog = Catalog(settings.database.url, settings.source.parent)  # the daemon's
        photo = _file(tmp_path / "p.jpg", 5000)
        srv.sftp("alice", key, f"put {photo}\n")
        wait_for("alice's upload", lambda: srv.uploads)
        assert srv.uploads == [root / "phones" / "alice" / "p.jpg"]
        assert _password_login(srv.port, "bob", "s3cret") == "ok"
        assert _password_login(srv.port, "bob", "wrong") == "denied"
        accounts.remove("alice")  # as `shoebox user remove alice` does
        # read afresh at each login: removed is refused at once, the folder stays
        assert srv.sftp("alice", key, "ls\n", check=False).returncode != 0
        assert (root / "phones" / "alice" / "p.jpg").exists()
    finally:
        if catalog is not None:
            srv.close(catalog.close)
            catalog.close()
        else:
            srv.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[sftp]\nupload_root = "/elsewhere"\n', r"\[sftp\] upload_root .* not inside any"),
        ('[sftp]\nlisten = "2222"\n', r"\[sftp\] listen must be HOST:PORT"),
    ],
)
def test_bad_sftp_config(tmp_path: Path, text: str, expected: str) -> None:
    cfg = write_config(tmp_path / "config.toml", '[library]\noriginals = ["/p"]\n' + text)
    with pytest.raises(ConfigError, match=expected):
        config.load(cfg)


def test_upload_root_defaults_to_the_first_root(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", '[library]\noriginals = ["/p", "/q"]\n')
    settings = config.load(cfg)
    assert settings.sftp.upload_root == Path("/p")
    assert settings.sftp.host_key == tmp_path / "ssh_host_ed25519_key"
