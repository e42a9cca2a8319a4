"""Per-IP back-off after failed logins, and the `failed login for NAME from IP` log lines that
fail2ban matches. Used by the SFTP endpoint and the viewer, each with its own logger."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last: float


class LoginGuard:
    """After `free` failures from one address, each further attempt must wait `base` seconds,
    doubling per failure up to `cap`; an address quiet for `forget` seconds starts afresh."""

    def __init__(
        self,
        *,
        free: int = 3,
        base: float = 1.0,
        cap: float = 300.0,
        forget: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self.free, self.base, self.cap, self.forget = free, base, cap, forget
        self._clock = clock
        self._log = logger or logging.getLogger("shoebox")
        self._records: dict[str, _Record] = {}

    def failed(self, name: str, ip: str) -> None:
        self._log.warning("failed login for %s from %s", name, ip)
        now = self._clock()
        record = self._live(ip, now)
        if record is None:
            self._records[ip] = _Record(1, now)
        else:
            record.failures += 1
            record.last = now

    def succeeded(self, ip: str) -> None:
        self._records.pop(ip, None)

    def wait(self, ip: str) -> float:
        """Seconds until `ip` may try again (0 when it may try now)."""
        now = self._clock()
        record = self._live(ip, now)
        if record is None or record.failures < self.free:
            return 0.0
        delay = min(self.base * 2.0 ** (record.failures - self.free), self.cap)
        return max(0.0, record.last + delay - now)

    def failures(self, ip: str) -> int:
        record = self._live(ip, self._clock())
        return record.failures if record else 0

    def _live(self, ip: str, now: float) -> _Record | None:
        record = self._records.get(ip)
        if record is not None and now - record.last > self.forget:
            del self._records[ip]
            return None
        return record
