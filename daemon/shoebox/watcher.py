"""The folder watcher: files that reach a library root by any way but SFTP (cp, rsync,
Syncthing, a NAS share) are noticed through inotify (watchdog) and handed to the queue.

Events are only collected here, per path, and drained by the daemon; the queue's due time
makes a file wait until it has been quiet, so a file being copied is indexed once, complete.
A folder created or moved in is walked, since inotify reports only the folder itself.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Sequence
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

from shoebox.errors import ShoeboxError

log = logging.getLogger(__name__)

# (root, path relative to it, whether it is a folder)
Change = tuple[Path, bytes, bool]


class Watcher(FileSystemEventHandler):
    """Watches the library roots recursively; `drain()` returns what changed since the last
    call, each path once."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._lock = threading.Lock()
        self._changes: dict[tuple[Path, bytes], bool] = {}
        self._observer = Observer()

    def start(self) -> None:
        for root in self.roots:
            if root.is_dir():
                self._observer.schedule(self, str(root), recursive=True)
        try:
            self._observer.start()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise ShoeboxError(
                    "the system ran out of inotify watches for the library's folders; "
                    "raise the limit, for example: sysctl fs.inotify.max_user_watches=1048576 "
                    "(and put it in /etc/sysctl.d/ to keep it)"
                ) from exc
            raise ShoeboxError(f"cannot watch the library roots ({exc})") from exc

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)

    def drain(self) -> list[Change]:
        with self._lock:
            changes, self._changes = self._changes, {}
        return [(root, rel, folder) for (root, rel), folder in changes.items()]

    def _note(self, path: str | bytes, folder: bool) -> None:
        full = Path(os.fsdecode(path))
        root = next((r for r in self.roots if full == r or r in full.parents), None)
        if root is None or full == root:
            return
        rel = os.fsencode(full.relative_to(root))
        with self._lock:
            self._changes[(root, rel)] = self._changes.get((root, rel), False) or folder

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
