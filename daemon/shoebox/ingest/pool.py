"""The worker processes of an index run: each works on one file at a time against a deadline,
and is replaced when it dies or overruns.

Not `concurrent.futures.ProcessPoolExecutor`: when one of its workers dies, every file in
flight fails alike and the whole pool must be rebuilt, it cannot stop one worker that hangs,
and shutting it down waits for the files in hand. Here each worker has a pipe of its own; it
says when it starts a file and sends the outcome when it is done, and the main process waits
on every pipe and every worker's death at once, with a timeout:

- a worker that dies (a crash, the kernel's OOM killer) fails the file it had started; a file
  it had not started yet goes back to the caller, unharmed;
- a worker still on a file past that file's deadline is killed, with its process group (the
  worker and the ffmpeg it runs), and fails that file;
- `kill` (a stop) kills every worker at once; `close` asks them to end.

A pool for the slow phase (`low`) runs its workers at the lowest priority (`ingest.priority`).
Each worker runs in a process group of its own and under a memory limit (RLIMIT_DATA: its heap
and private mappings, which the ffmpeg it starts inherits), so that a file that needs too much
memory fails with MemoryError instead of taking the machine's. Workers are started as they are
needed, from a forkserver preloaded with the worker's imports. Each holds at most two files
(the one it works on and the next), so it does not wait while the main process talks to
exiftool.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from shoebox.ingest import priority, worker
from shoebox.ingest.health import HelperHealth, describe
from shoebox.ingest.renditions import RenditionSpec

_DEPTH = 2  # files handed to one worker at a time


@dataclass(frozen=True)
class Failure:
    """A worker died or overran with a file in hand (it has been killed)."""

    kind: str  # "died" or "timeout"
    message: str


@dataclass
class _Task:
    key: int
    what: str  # the file, as shown to people
    deadline: float  # seconds it may take
    started: float | None = None  # time.monotonic() when the worker began it


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: deque[_Task] = field(default_factory=deque)
    dead: bool = False


# What `collect` returns per file: its outcome, a Failure, or None (not started: submit again).
Result = tuple[int, worker.Outcome | Failure | None]


class Pool:
    def __init__(
        self,
        size: int,
        spec: RenditionSpec,
        *,
        memory_mb: int,
        health: HelperHealth,
        low: bool = False,
    ) -> None:
        self.size = size
        self.spec = spec
        self.memory_mb = memory_mb
        self.health = health
        self.low = low  # its workers yield the CPU and the disk to everything else
        self._workers: list[_Worker] = []
        self._replace = 0  # workers lost to a death or an overrun, not replaced yet
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["shoebox.ingest.worker", "rawpy"])

    @property
    def room(self) -> int:
        """How many more files may be submitted now."""
        return self.size * _DEPTH - sum(len(w.tasks) for w in self._workers)

    @property
    def busy(self) -> bool:
        return any(w.tasks for w in self._workers)

    def submit(self, key: int, task: worker.Task, what: str, deadline: float) -> None:
        """Hand a file to the least busy worker (starting one if there are fewer than `size`).
        Only when `room` is positive."""
        for w in self._workers:  # a worker that died while idle has nothing to give back
            if not w.tasks and not w.process.is_alive():
                self._kill(w)
                self._replace += 1
        self._workers = [w for w in self._workers if not w.dead]
        broken: list[_Worker] = []  # died just now: what they had comes back through collect
        while True:
            usable = [w for w in self._workers if w not in broken]
            if len(usable) < self.size and all(w.tasks for w in usable):
                chosen = self._start()
            else:
                chosen = min(usable, key=lambda w: len(w.tasks))
            try:
                chosen.conn.send((key, task))
            except OSError:
                broken.append(chosen)
                continue
            chosen.tasks.append(_Task(key, what, deadline))
            return

    def fill(self) -> None:
        """Start every worker now (they are otherwise started as files come)."""
        self._workers = [w for w in self._workers if w.process.is_alive() or w.tasks]
        while len(self._workers) < self.size:
            self._start()

    def collect(self, timeout: float) -> list[Result]:
        """What the workers finished (waiting up to `timeout` seconds for something), and the
        files of workers that died or overran."""
        busy = [w for w in self._workers if w.tasks]
        if not busy:
            return []
        waits: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        wait(waits, timeout=min(timeout, self._next_deadline()))
        results: list[Result] = []
        for w in busy:
            results += self._read(w)
            if not w.process.is_alive():
                results += self._lost(w, "died", f"died ({describe(w.process.exitcode)})")
            elif self._overran(w):
                overran = f"took longer than {w.tasks[0].deadline:.0f} s"
                results += self._lost(w, "timeout", overran)
        self._workers = [w for w in self._workers if not w.dead]
        return results

    @staticmethod
    def _overran(w: _Worker) -> bool:
        since = w.tasks[0].started if w.tasks else None
        return since is not None and time.monotonic() - since > w.tasks[0].deadline

    def _next_deadline(self) -> float:
        """Seconds until the earliest deadline of a file being worked on (at least a little)."""
        now = time.monotonic()
        starts = [(w.tasks[0].started, w.tasks[0].deadline) for w in self._workers if w.tasks]
        ends = [since + deadline - now for since, deadline in starts if since is not None]
        return max(0.05, min(ends, default=3600.0))

    def _read(self, w: _Worker) -> list[Result]:
        done: list[Result] = []
        try:
            while w.conn.poll():
                message = w.conn.recv()
                if message[0] == "start":
                    _, key, since = message
                    task = w.tasks[0]
                    assert task.key == key
                    task.started = since
                    self.health.begin(w.process.pid or 0, task.what, task.deadline, since)
                else:
                    _, key, outcome = message
                    task = w.tasks.popleft()
                    assert task.key == key
                    self.health.end(w.process.pid or 0)
                    done.append((key, outcome))
        except (EOFError, OSError):
            pass  # it died: the sentinel says so
        return done

    def _lost(self, w: _Worker, kind: str, message: str) -> list[Result]:
        """Kill a worker that died or overran: its file fails, the next one goes back."""
        self._kill(w)
        self._replace += 1
        self.health.end(w.process.pid or 0)
        lost: list[Result] = []
        for task in w.tasks:
            if task.started is not None:
                self.health.problem(kind, f"{message} on {task.what}")
                lost.append((task.key, Failure(kind, message)))
            else:
                lost.append((task.key, None))
        w.tasks.clear()
        return lost

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(theirs, self.spec, self.memory_mb, self.low),
            name="shoebox-worker",
            daemon=True,
        )  # fmt: skip
        process.start()
        theirs.close()
        self.health.started(self._replace > 0)
        self._replace = max(0, self._replace - 1)
        started = _Worker(process, ours)
        self._workers.append(started)
        return started

    def _kill(self, w: _Worker) -> None:
        """Kill a worker with the programs it started (its process group)."""
        w.dead = True
        pid, alive = w.process.pid, w.process.is_alive()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # an ffmpeg may outlive a worker that died
            if alive:  # it may not have made its group yet
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        w.process.join(timeout=5)
        w.conn.close()

    def kill(self) -> None:
        """Kill every worker at once (their files in hand are lost)."""
        for w in self._workers:
            self._kill(w)
            self.health.end(w.process.pid or 0)
        self._workers = []

    def close(self) -> None:
        """Ask every worker to end; kill those that do not within a few seconds."""
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        deadline = time.monotonic() + 5
        for w in self._workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.exitcode is not None:  # ended as asked: nothing to kill
                w.conn.close()
                w.dead = True
        self._workers = [w for w in self._workers if not w.dead]
        self.kill()


def _serve(conn: Connection, spec: RenditionSpec, memory_mb: int, low: bool) -> None:
    """A worker's life: take a file, say it is started, send its outcome; until told to end
    (None) or the main process is gone."""
    os.setpgid(0, 0)  # killed with the programs it starts; a Ctrl-C is the main process's
    if low:
        priority.lower()
    if memory_mb:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        key, task = item
        conn.send(("start", key, time.monotonic()))
        conn.send(("done", key, worker.run(spec, task)))
