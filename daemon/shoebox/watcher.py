"""The folder watcher: files that reach a library root by any way but SFTP (cp, rsync,
Syncthing, a NAS share) are noticed through inotify (watchdog) and handed on.

Each event is told to `on_change` in watchdog's thread, as it happens (the daemon hands it to
its event loop); the queue's due time makes a file wait until it has been quiet, so a file
being copied is indexed once, complete. A folder created or moved in is reported as a folder
(the daemon walks it), since inotify reports only the folder itself. A root is watched while
it is there; `rewatch` starts its watch again (a disk mounted on it again: a watch on the empty
mount point would see nothing of the disk).

Each watched folder takes one of the user's inotify watches. When they run out the daemon goes
on (SFTP uploads need no watch; the start-up scan finds what was missed) and says, as an
error, which sysctl to raise. watchdog 7 on Linux 6.x fails as a whole (no folder is watched)
when any folder cannot be; a release that passes over sub-folders it cannot watch is caught
too: after starting we try one watch more to find out.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

log = logging.getLogger(__name__)

# Told of each change: (root, path relative to it, whether it is a folder).
OnChange = Callable[[Path, bytes, bool], None]

_RAISE = (
    "raise the limit, for example: sysctl {name}={value} (and put it in /etc/sysctl.d/ to "
    "keep it), then restart the daemon"
)
OUT_OF_WATCHES = (
    "the system ran out of inotify watches: {which} of the library's folders are watched, so "
    "files copied into them are not noticed until the daemon starts again (SFTP uploads are); "
    + _RAISE.format(name="fs.inotify.max_user_watches", value=1048576)
)
OUT_OF_INSTANCES = (
    "the system ran out of inotify instances: files copied into the library are not noticed "
    "until the daemon starts again (SFTP uploads are); "
    + _RAISE.format(name="fs.inotify.max_user_instances", value=1024)
)


class Watcher(FileSystemEventHandler):
    """Watches the library roots recursively and tells `on_change` of every change."""

    def __init__(self, roots: Sequence[Path], on_change: OnChange) -> None:
        self.roots = [Path(r) for r in roots]
        self.on_change = on_change
        self._lock = threading.Lock()  # the watches, changed by the daemon while events come
        self._watches: dict[Path, ObservedWatch] = {}
        self._observer = Observer()

    def start(self) -> bool:
        """Watch the roots that are there; False (said in the log, as an error) when some or
        all folders cannot be watched. Nothing is raised: the daemon goes on without them."""
        roots = [root for root in self.roots if root.is_dir()]
        try:
            for root in roots:
                self._watch(root)
            self._observer.start()
        except OSError as exc:
            _said_why(exc, "none")
            return False
        if roots and _out_of_watches(roots[0]):
            log.error(OUT_OF_WATCHES.format(which="not all"))
            return False
        return True

    def rewatch(self, root: Path) -> None:
        """Watch `root` afresh (its disk came back), or stop watching it (it is not there)."""
        with self._lock:
            old = self._watches.pop(root, None)
            if old is not None:
                try:
                    self._observer.unschedule(old)
                except (KeyError, OSError) as exc:
                    log.debug("%s: the old watch was already gone (%s)", root, exc)
        if root.is_dir():
            try:
                self._watch(root)
            except OSError as exc:
                _said_why(exc, "not all")

    def _watch(self, root: Path) -> None:
        with self._lock:
            self._watches[root] = self._observer.schedule(self, str(root), recursive=True)

    def stop(self) -> None:
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)

    def _note(self, path: str | bytes, folder: bool) -> None:
        full = Path(os.fsdecode(path))
        root = next((r for r in self.roots if full == r or r in full.parents), None)
        if root is None or full == root:
            return
        self.on_change(root, os.fsencode(full.relative_to(root)), folder)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent | DirMovedEvent):
            self._note(event.src_path, event.is_directory)
            self._note(event.dest_path, event.is_directory)
        elif isinstance(
            event,
            FileCreatedEvent | FileModifiedEvent | FileClosedEvent | FileDeletedEvent
            | DirCreatedEvent | DirDeletedEvent,
        ):  # fmt: skip
            self._note(event.src_path, event.is_directory)


def _said_why(exc: OSError, which: str) -> None:
    if exc.errno == errno.ENOSPC:
        log.error(OUT_OF_WATCHES.format(which=which))
    elif exc.errno == errno.EMFILE:
        log.error(OUT_OF_INSTANCES)
    else:
        log.error("cannot watch the library roots (%s); files copied into the library "
                  "are not noticed until the daemon starts again", exc)  # fmt: skip


def _out_of_watches(folder: Path) -> bool:
    """Whether the user has no inotify watch left: tried with an instance of our own."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        return False
    try:
        in_attrib = 0x4
        if libc.inotify_add_watch(fd, os.fsencode(folder), in_attrib) >= 0:
            return False
        return ctypes.get_errno() == errno.ENOSPC
    finally:
        os.close(fd)
