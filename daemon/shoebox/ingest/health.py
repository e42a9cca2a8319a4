"""How the ingest's helpers are doing: exiftool, the worker processes and the ffmpeg they run.

Every helper has a deadline per file. `HelperHealth` counts what went wrong with one kind of
helper (deaths, overruns, restarts), remembers the last problem and when it happened, and
knows which files are in hand right now and since when, so that `shoebox status` can say
that a helper is stuck (busy on one file for longer than its deadline) or keeps restarting.
An `Indexer` owns one `Health` for its lifetime (a daemon's, across its batches).

Only the thread that runs the index updates it; another thread may read `snapshot()` (each
value it copies is replaced whole, never changed in place, so it sees no torn value).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any


def describe(returncode: int | None) -> str:
    """How a process ended, in words."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


@dataclass
class Busy:
    """One file in a helper's hands."""

    what: str  # the file, as shown to people
    since: float  # time.monotonic() when the helper started on it
    deadline: float  # seconds it may take


@dataclass
class HelperHealth:
    name: str
    starts: int = 0  # processes started
    restarts: int = 0  # of them, started in place of one that died or overran
    deaths: int = 0  # died with a file in hand
    timeouts: int = 0  # overran a file's deadline and was killed
    last_problem: str | None = None
    last_problem_at: float | None = None  # time.time()
    busy: dict[int, Busy] = field(default_factory=dict)  # by slot (a worker, the one exiftool)

    def started(self, replacing: bool) -> None:
        self.starts += 1
        self.restarts += replacing

    def problem(self, kind: str, message: str) -> None:
        """Note a death ("died"), an overrun ("timeout") or a failure to start ("start")."""
        if kind == "died":
            self.deaths += 1
        elif kind == "timeout":
            self.timeouts += 1
        self.last_problem, self.last_problem_at = message, time.time()

    def begin(self, slot: int, what: str, deadline: float, since: float | None = None) -> None:
        busy = dict(self.busy)
        busy[slot] = Busy(what, time.monotonic() if since is None else since, deadline)
        self.busy = busy

    def end(self, slot: int) -> None:
        if slot in self.busy:
            busy = dict(self.busy)
            del busy[slot]
            self.busy = busy

    def stuck(self) -> list[Busy]:
        """The files this helper has been on for longer than their deadline."""
        now = time.monotonic()
        return [b for b in self.busy.values() if now - b.since > b.deadline]

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "starts": self.starts,
            "restarts": self.restarts,
            "deaths": self.deaths,
            "timeouts": self.timeouts,
            "last_problem": self.last_problem,
            "last_problem_at": self.last_problem_at,
            "busy": [
                {"file": b.what, "seconds": round(now - b.since, 1), "deadline": b.deadline}
                for b in self.busy.values()
            ],
            "stuck": len(self.stuck()),
        }


@dataclass
class Health:
    """The ingest helpers of one indexer."""

    exiftool: HelperHealth = field(default_factory=lambda: HelperHealth("exiftool"))
    workers: HelperHealth = field(default_factory=lambda: HelperHealth("worker"))
    ffmpeg: HelperHealth = field(default_factory=lambda: HelperHealth("ffmpeg"))

    def helpers(self) -> tuple[HelperHealth, ...]:
        return (self.exiftool, self.workers, self.ffmpeg)

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain JSON-able values, by helper name."""
        return {h.name: h.snapshot() for h in self.helpers()}

    def lines(self) -> list[str]:
        """What a person should hear about: helpers stuck on a file past its deadline, then the
        helpers that had problems, with the last one."""
        now = time.monotonic()
        said = [
            f"{h.name} stuck: {now - b.since:.0f} s on {b.what} (its deadline is {b.deadline:.0f} s)"
            for h in self.helpers()
            for b in h.stuck()
        ]
        for h in self.helpers():
            if h.last_problem is not None:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.last_problem_at or 0))
                said.append(
                    f"{h.name}: {h.deaths} died, {h.timeouts} overran, {h.restarts} restarts; "
                    f"last at {when}: {h.last_problem}"
                )
        return said
