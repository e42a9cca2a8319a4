"""Progress of long work: a live bar with files/s and ETA on a terminal, and a plain log line
every few seconds otherwise (journald, CI, a pipe)."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = logging.getLogger("shoebox.progress")


class Reporter:
    """Counts units of work done and tells a person how it is going."""

    def __init__(self, what: str, *, interactive: bool | None = None, every: float = 5.0) -> None:
        self.what = what
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.every = every
        self.total = 0
        self.done = 0
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Reporter:
        if self.interactive:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=None, rate="")
        return self

    def start(self, total: int) -> None:
        self.total = total
        self._started = self._last_line = time.monotonic()
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total, completed=0)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=n, rate=f"{self.rate:.1f} files/s")
            return
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            rate = self.rate
            left = (self.total - self.done) / rate if rate > 0 else 0
            log.info(
                "%s: %d/%d files, %.1f files/s, about %s left",
                self.what, self.done, self.total, rate, _duration(left),
            )  # fmt: skip

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
