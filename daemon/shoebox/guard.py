"""Back-off after wrong passwords, for SFTP and viewer logins and for share-link passwords, and
the log lines fail2ban matches, one per wrong or refused attempt:

    failed login for NAME from IP
    failed share unlock for link ID from IP

The rules:
- Attempts are counted per address and per account (logins), or per address and per link
  (share passwords), in the catalog (`shoebox.catalog.failures`), so every viewer process and
  the SFTP endpoint see the same counts. Logins and share passwords are counted apart:
  unlocking a share never touches a login's count. An IPv6 address counts as its /64.
- A record that counts `free` failures (`ADDRESS`: 3; `SUBJECT`, an account or a link: 10)
  lets the next attempt through only `base` seconds after the last, doubling per failure up
  to `cap`; a record quiet for `forget` seconds starts afresh.
- Counting and checking are one step: an attempt is counted *before* its password is checked,
  in one transaction that refuses it if any of its records must still wait. A right password
  then gives the address's count back and clears the account's (or link's) record: only a
  successful login of an account clears that account's failures. Thirty parallel guesses
  from one address get `free` checks, not thirty.
- In one process, the attempts of one address are checked one at a time (a phone opening four
  connections with the right password gets in four times), and at most `max_waiting` of them
  may be under way at once; more are refused at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from shoebox.catalog import failures
from shoebox.catalog.failures import Key
from shoebox.printable import shorten

BUSY_RETRY = 1.0  # seconds a client refused for too many attempts at once is told to wait
TURN_TIMEOUT = 30.0  # seconds an attempt waits for its address's turn before it is refused


@dataclass(frozen=True)
class Policy:
    """After `free` failures, wait `base` seconds after the last, doubling up to `cap`."""

    free: int
    base: float = 1.0
    cap: float = 300.0

    def wait(self, failures: int, last: float, now: float) -> float:
        if failures < self.free:
            return 0.0
        delay = min(self.base * 2.0 ** min(failures - self.free, 32), self.cap)
        return max(0.0, last + delay - now)


ADDRESS = Policy(free=3)
SUBJECT = Policy(free=10)  # an account or a share link, from whatever address


@dataclass(frozen=True)
class Verdict:
    """What became of an attempt: `ok` when the password was right; `retry_after` > 0 when it
    was not checked (backing off, or too many at once) and may be tried after that many s."""

    ok: bool
    retry_after: float = 0.0


class _Busy(Exception):
    """Too many attempts of one address under way in this process."""


@dataclass
class _Turn:
    lock: threading.Lock = field(default_factory=threading.Lock)
    holders: int = 0  # attempts checking or waiting


class Guard:
    """The back-off for one process (see the module's docstring); thread-safe. The catalog must
    be open. Its methods block (on the catalog, and while the address's earlier attempts are
    checked): call them from a thread, never on an event loop. `clock` gives seconds since the
    epoch (every process of a catalog shares it)."""

    def __init__(
        self,
        *,
        address: Policy = ADDRESS,
        subject: Policy = SUBJECT,
        forget: float = 900.0,
        max_waiting: int = 4,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
    ) -> None:
        self.address, self.subject = address, subject
        self.forget, self.max_waiting = forget, max_waiting
        self._clock = clock
        self._log = logger or logging.getLogger("shoebox")
        self._mutex = threading.Lock()
        self._turns: dict[str, _Turn] = {}

    def login(self, name: str, ip: str, check: Callable[[], bool]) -> Verdict:
        """Run `check` (the password check of account `name` from `ip`) if the back-off allows,
        counting it; a failure or a refusal is logged as `failed login for NAME from IP`."""
        what = f"failed login for {shorten(name, 64)} from {ip}"
        return self._attempt(
            ("login-address", _network(ip)), ("login-account", name.strip().casefold()), check, what
        )

    def unlock(self, link_id: int, ip: str, check: Callable[[], bool]) -> Verdict:
        """The same for the password of share link `link_id`, counted apart from logins; logged
        as `failed share unlock for link ID from IP`."""
        what = f"failed share unlock for link {link_id} from {ip}"
        return self._attempt(
            ("share-address", _network(ip)), ("share-link", str(link_id)), check, what
        )

    def failed_login(self, name: str, ip: str) -> None:
        """A login that failed without a password check (SFTP: keys offered, none accepted):
        counted, and logged as `failed login for NAME from IP`."""
        self._attempt(
            ("login-address", _network(ip)),
            ("login-account", name.strip().casefold()),
            lambda: False,
            f"failed login for {shorten(name, 64)} from {ip}",
        )

    def bad_token(self, ip: str) -> Verdict:
        """An access token the catalog does not know (or no longer): counted against the
        address as a failed login is, and logged as `failed token from IP`."""
        net = _network(ip)
        return self._attempt(
            ("login-address", net), ("login-token", net), lambda: False, f"failed token from {ip}"
        )

    def _attempt(self, address: Key, subject: Key, check: Callable[[], bool], what: str) -> Verdict:
        try:
            with self._turn(address[1]):
                now = self._clock()
                policies = {address: self.address, subject: self.subject}
                wait = failures.reserve(
                    (address, subject),
                    now,
                    fresh_after=now - self.forget,
                    wait=lambda key, count, last: policies[key].wait(count, last, now),
                )
                if wait > 0:
                    self._log.warning(what)
                    return Verdict(ok=False, retry_after=wait)
                if check():
                    failures.give_back(address)
                    failures.clear(subject)
                    return Verdict(ok=True)
                self._log.warning(what)
                failures.prune(now - self.forget)
                return Verdict(ok=False)
        except _Busy:
            self._log.warning(what)
            return Verdict(ok=False, retry_after=BUSY_RETRY)

    @contextlib.contextmanager
    def _turn(self, address: str) -> Iterator[None]:
        """Wait until the attempts of `address` before this one are done (raises _Busy when
        `max_waiting` are already under way, or the wait is too long)."""
        with self._mutex:
            turn = self._turns.setdefault(address, _Turn())
            if turn.holders >= self.max_waiting:
                raise _Busy
            turn.holders += 1
        try:
            if not turn.lock.acquire(timeout=TURN_TIMEOUT):
                raise _Busy
            try:
                yield
            finally:
                turn.lock.release()
        finally:
            with self._mutex:
                turn.holders -= 1
                if not turn.holders:
                    del self._turns[address]


def _network(ip: str) -> str:
    """What an address is counted as: itself, or for IPv6 its /64 (one subscriber's)."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
