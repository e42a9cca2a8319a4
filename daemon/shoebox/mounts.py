"""Hearing that a filesystem was mounted or unmounted, without polling: the kernel marks
`/proc/self/mountinfo` with POLLPRI whenever the mount table changes. A thread of its own
blocks in poll() on it (and on a pipe that says stop) and tells `on_change` each time.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

MOUNTINFO = "/proc/self/mountinfo"


class MountWatcher:
    """Calls `on_change()` (in its own thread) after each change of the mount table."""

    def __init__(self, on_change: Callable[[], None], mountinfo: str = MOUNTINFO) -> None:
        self.on_change = on_change
        self.mountinfo = mountinfo
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    def start(self) -> bool:
        """Start listening; False when this system cannot tell (then roots that come back are
        noticed at the next start or `systemctl reload`)."""
        try:
            fd = os.open(self.mountinfo, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("cannot follow the mount table (%s): a disk mounted again is noticed at "
                        "the next start or reload", exc)  # fmt: skip
            return False
        self._thread = threading.Thread(target=self._run, args=(fd,), name="mounts", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _run(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        poller.register(self._wake_r, select.POLLIN)
        try:
            os.read(fd, 1 << 16)  # the table as it is now: only changes after this wake us
            while True:
                events = dict(poller.poll())
                if self._wake_r in events:
                    return
                if events.get(fd, 0) & (select.POLLPRI | select.POLLERR):
                    os.lseek(fd, 0, os.SEEK_SET)
                    while os.read(fd, 1 << 16):  # read to the end: the change is acknowledged
                        pass
                    try:
                        self.on_change()
                    except Exception:  # a listener's bug must not end the watching
                        log.exception("handling a change of the mount table failed")
        finally:
            os.close(fd)
