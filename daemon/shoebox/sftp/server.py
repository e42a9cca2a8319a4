"""`SFTPEndpoint`: the asyncssh server on the daemon's event loop. It checks logins against the
accounts (read fresh at each login), applies the login guard and the per-account connection
limit, and hands each session a `ConfinedSFTPServer` on the account's folder, run by
`compat.SFTPHandler` (asyncssh made to answer as OpenSSH's sftp-server). No shell, exec, scp
or forwarding is offered. What sessions do to files is told to an `UploadListener`, on the
event loop, each call awaited before the client hears the answer."""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import asyncssh
import peewee

from shoebox import config
from shoebox.config import SftpSettings
from shoebox.errors import ConfigError
from shoebox.guard import Guard
from shoebox.passwords import verify_password
from shoebox.sftp import accounts, compat, hostkey
from shoebox.sftp.accounts import AccountLookup, AccountRecord
from shoebox.sftp.files import ConfinedSFTPServer, Limits, MiB

log = logging.getLogger("shoebox.sftp")

_ACCOUNT = "shoebox_account"  # extra-info key under which a connection keeps its account
PASSWORD_CHECKS = 4  # password hashes checked at the same time
MAX_UNAUTHENTICATED = 32  # connections not yet logged in (like sshd's MaxStartups)
MAX_UNAUTHENTICATED_PER_ADDRESS = 8  # of those, from one address (a phone opens a few)
STOP_SECONDS = 5  # how long `stop` waits for the sessions to end and tell their cut-offs


class UploadListener(Protocol):
    """What the endpoint tells about uploads; every call is awaited on the event loop."""

    async def opening(self, path: Path, account: str) -> None:
        """Before a file (not a sync tool's temporary name) is opened for writing, on the
        event loop; the client waits for it. Raising shoebox.errors.ShoeboxError (or any
        Exception) refuses the open: the client gets SSH_FX_FAILURE with the error's message
        and nothing is written."""

    async def completed(self, path: Path) -> None:
        """The client's own SSH_FXP_CLOSE of a handle it wrote through, every write
        accepted (or a sync tool's temporary name renamed to a final name). Awaited BEFORE
        the close (or rename) status is sent: the client hears OK only once this returned.
        Raising sends SSH_FX_FAILURE ("the upload could not be recorded; send it again").

        Also told, the same way, of a final name that appeared, changed or went without a
        write handle (a rename, a hard link, a truncation by name, a removal): `path` may
        be gone; whatever is there now is what counts."""

    async def cut_off(self, path: Path) -> None:
        """A write handle closed by the server because the session ended: a partial file."""


class SFTPEndpoint:
    """The SFTP server, run on the caller's event loop between `await start()` and
    `await stop()`.

    - `settings`: the `[sftp]` section as `config.load` returns it.
    - `listener`: hears of uploads opening, completed and cut off (see `UploadListener`).
    - `lookup(name)`: the account, read afresh at each login (default: the catalog's Account
      table, so a `Catalog` must be open; the query runs on the loop's thread).
    - `guard`: the back-off after wrong passwords (default: a `Guard` counting in the
      catalog, so a `Catalog` must be open).
    - `max_unauthenticated`: connections still logging in beyond this are dropped at once, and
      so are those beyond `MAX_UNAUTHENTICATED_PER_ADDRESS` from one address.
    """

    def __init__(
        self,
        settings: SftpSettings,
        listener: UploadListener,
        *,
        lookup: AccountLookup = accounts.lookup,
        guard: Guard | None = None,
        max_unauthenticated: int = MAX_UNAUTHENTICATED,
    ) -> None:
        self.settings = settings
        self.listener = listener
        self.lookup = lookup
        self.guard = guard or Guard(logger=log)
        self.max_unauthenticated = max_unauthenticated
        self.limits = Limits(
            max_file_size=settings.max_file_size_mb * MiB, min_free=settings.min_free_mb * MiB
        )
        self._server: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._sessions: weakref.WeakSet[ConfinedSFTPServer] = weakref.WeakSet()  # live ones
        self._per_account: Counter[str] = Counter()
        self._hashing = asyncio.Semaphore(PASSWORD_CHECKS)
        self._writing: Counter[Path] = Counter()  # paths open for writing, by all sessions

    def is_uploading(self, path: Path) -> bool:
        """Whether an SFTP client has `path` (absolute, resolved) open for writing now; a
        watcher can leave such files to the listener."""
        return path in self._writing

    @property
    def connections(self) -> int:
        """SSH connections open now (logged in or not)."""
        return len(self._connections)

    @property
    def port(self) -> int:
        """The port listened on (useful with `listen = "127.0.0.1:0"`)."""
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        host, port = config.parse_listen(self.settings.listen)
        key = hostkey.load_or_create(self.settings.host_key)
        keepalive = self.settings.keepalive_seconds
        compat.install()
        try:
            self._server = await asyncssh.create_server(
                lambda: _Session(self),
                host,
                port,
                server_host_keys=[key],
                sftp_factory=self._sftp_session,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
                kbdint_auth=False,
                encryption_algs=encryption_algs(_cpuinfo()),
                keepalive_interval=keepalive,
                keepalive_count_max=3,
                login_timeout=60,
                encoding=None,
            )
        except OSError as exc:
            raise ConfigError(f"SFTP cannot listen on {self.settings.listen}: {exc}") from None
        log.info(
            "SFTP listening on port %d (address %s, host key %s)",
            self.port, host or "*", hostkey.fingerprint(key),
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop listening and drop every connection; the handles they left open are cut off,
        and the listener has heard so when this returns."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in list(self._connections):
            conn.close()
        waits: list[asyncio.Future[object]] = [
            asyncio.ensure_future(c.wait_closed()) for c in self._connections
        ]
        waits += [asyncio.ensure_future(s.ended.wait()) for s in self._sessions]
        if waits:
            _, late = await asyncio.wait(waits, timeout=STOP_SECONDS)
            for wait in late:
                wait.cancel()

    def _sftp_session(self, chan: asyncssh.SSHServerChannel[bytes]) -> ConfinedSFTPServer:
        account: AccountRecord = chan.get_extra_info(_ACCOUNT)
        session = ConfinedSFTPServer(
            chan, account.folder, account.name, self.limits, self.listener, self._writing
        )
        self._sessions.add(session)
        return session


def encryption_algs(cpuinfo: str) -> list[str]:
    """The ciphers offered: asyncssh's, less ChaCha20-Poly1305 on a CPU with AES instructions.
    OpenSSH's clients pick ChaCha20 first when offered, and asyncssh spends three cipher objects
    a packet on it: about a third more CPU per byte than on AES-CTR (which those clients pick
    next) or AES-GCM, and the CPU is an upload's ceiling. Without AES instructions (a Raspberry
    Pi 4), AES is slow and asyncssh's own order stands."""
    algs = [alg.decode("ascii") for alg in asyncssh.encryption.get_default_encryption_algs()]
    if any(
        name.strip() in ("flags", "Features") and "aes" in value.split()
        for name, _, value in (line.partition(":") for line in cpuinfo.splitlines())
    ):
        algs = [alg for alg in algs if not alg.startswith("chacha20")]
    return algs


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def _logged(fn: Callable[..., object], *args: object) -> None:
    """Run a call whose caller does not wait for it; its failure is logged, not lost."""
    try:
        fn(*args)
    except Exception:
        log.exception("%s failed", getattr(fn, "__name__", fn))


def _address(conn: asyncssh.SSHServerConnection) -> str:
    peer = conn.get_extra_info("peername")
    return str(peer[0]) if peer else "?"


class _Session(asyncssh.SSHServer):
    """One SSH connection: authentication and bookkeeping."""

    def __init__(self, endpoint: SFTPEndpoint) -> None:
        self.endpoint = endpoint
        self.conn: asyncssh.SSHServerConnection | None = None
        self.ip = "?"
        self.account: AccountRecord | None = None
        self.authenticated = False
        self.username: str | None = None
        self.keys_offered = False
        self.password_tried = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.ip = _address(conn)
        waiting = len(self.endpoint._connections) - sum(self.endpoint._per_account.values())
        here = sum(
            1
            for c in self.endpoint._connections
            if c.get_extra_info(_ACCOUNT) is None and _address(c) == self.ip
        )
        if waiting >= self.endpoint.max_unauthenticated or here >= MAX_UNAUTHENTICATED_PER_ADDRESS:
            log.warning(
                "dropping a connection from %s: %d others (%d from there) are logging in",
                self.ip, waiting, here,
            )  # fmt: skip
            conn.abort()
            return
        self.endpoint._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.endpoint._connections.discard(self.conn)
        if self.authenticated and self.account is not None:
            self.endpoint._per_account[self.account.name] -= 1
            if self.endpoint._per_account[self.account.name] <= 0:
                del self.endpoint._per_account[self.account.name]
        elif self.keys_offered and not self.password_tried and self.username is not None:
            # keys tried, none accepted: counted too, in a thread (it writes to the catalog)
            asyncio.get_running_loop().run_in_executor(
                None, _logged, self.endpoint.guard.failed_login, self.username, self.ip
            )
        self.conn = None

    def begin_auth(self, username: str) -> bool:
        # Called again if the client changes user name mid-way: forget the previous account
        # and its keys first, or they would let the new name in.
        self.username, self.account = username, None
        if self.conn is not None:
            self.conn.set_authorized_keys(None)
        try:
            self.account = self.endpoint.lookup(username)
        except (peewee.PeeweeException, OSError) as exc:
            log.error("cannot read the accounts for %s from %s: %s", username, self.ip, exc)
            if self.conn is not None:
                self.conn.disconnect(
                    asyncssh.DISC_SERVICE_NOT_AVAILABLE, "the server cannot check logins now"
                )
            return True
        if self.account is not None and self._over_limit():  # say so before any password
            return True
        if self.account is not None and not self.account.folder.is_dir():
            log.error(
                "account %s cannot log in: its folder %s is missing (is the disk mounted?)",
                username,
                self.account.folder,
            )
            self.account = None
        if self.account is not None and self.account.authorized_keys and self.conn is not None:
            try:
                keys = asyncssh.import_authorized_keys(self.account.authorized_keys)
            except (asyncssh.KeyImportError, ValueError) as exc:
                log.error("account %s: its stored keys cannot be read (%s)", username, exc)
            else:
                self.conn.set_authorized_keys(keys)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        self.keys_offered = True  # reached only for keys not in the account's list
        return False

    async def validate_password(self, username: str, password: str) -> bool:
        """The guard counts the attempt and checks the password in one step (`shoebox.guard`);
        a client told to back off is disconnected with the reason, so that it shows it."""
        self.password_tried = True
        stored = self.account.password_hash if self.account else None

        def check() -> bool:
            return verify_password(stored, password)

        try:
            async with self.endpoint._hashing:  # argon2 takes 64 MiB a check: a few at a time
                verdict = await asyncio.to_thread(
                    self.endpoint.guard.login, username, self.ip, check
                )
        except (peewee.PeeweeException, OSError) as exc:
            log.error("cannot count the login of %s from %s: %s", username, self.ip, exc)
            if self.conn is not None:
                self.conn.disconnect(
                    asyncssh.DISC_SERVICE_NOT_AVAILABLE, "the server cannot check logins now"
                )
            return False
        if verdict.retry_after > 0 and self.conn is not None:
            self.conn.disconnect(
                asyncssh.DISC_HOST_NOT_ALLOWED_TO_CONNECT,
                f"too many failed logins from {self.ip}; try again in "
                f"{math.ceil(verdict.retry_after)} s",
            )
        return verdict.ok

    def auth_completed(self) -> None:
        assert self.conn is not None and self.account is not None
        if self._over_limit():  # others logged in while this one authenticated
            return
        name = self.account.name
        self.authenticated = True
        self.endpoint._per_account[name] += 1
        self.conn.set_extra_info(**{_ACCOUNT: self.account})
        log.info("%s logged in from %s", name, self.ip)

    def _over_limit(self) -> bool:
        """Whether the account has its fill of connections; if so, this one is dropped."""
        assert self.conn is not None and self.account is not None
        name = self.account.name
        limit = self.endpoint.settings.max_connections_per_account
        if self.endpoint._per_account[name] < limit:
            return False
        log.warning("refusing %s from %s: already %d connections", name, self.ip, limit)
        self.conn.disconnect(
            asyncssh.DISC_TOO_MANY_CONNECTIONS,
            f"too many connections for {name} (at most {limit})",
        )
        return True
