"""The *slow phase*: the renditions of the files that wait for them (`catalog.pending`), made
after the fast phase (`ingest.run`) has put their photos in the catalog.

Files are taken newest first, a batch at a time (`run`: all of them, for `shoebox index`;
`step`: a few, for the daemon between upload batches), and rendered by a worker pool of
its own whose workers run at the lowest priority (`ingest.priority`), so that the fast phase,
the viewer and the rest of the machine come first. Each file is identified again as it is
rendered: one whose content is no longer what the catalog holds is not rendered, and says so.
A file that fails is handled as the fast phase handles one: tried once more when a helper
died or overran, then one log line and a recorded error (stage "renditions"), and the work
goes on; either way it no longer waits. A stop (or Ctrl-C) kills what is in hand; those files
still wait, for the next run. A daemon's step gives way to work that comes first (`wanted`,
an upload): it hands out no more files, and returns once the few in hand are done.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoebox.catalog import pending
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import File, IngestError, Photo
from shoebox.config import Settings
from shoebox.errors import Stopped
from shoebox.ingest import grouping, pipeline, scan, worker
from shoebox.ingest.health import Health
from shoebox.ingest.pool import Failure, Pool
from shoebox.ingest.run import deadline, rendition_spec, worker_count
from shoebox.progress import Reporter

log = logging.getLogger("shoebox.ingest")

BATCH = 200  # files taken and stored at a time by `run`
STEP = 8  # files a daemon renders between two looks at its queue
_TRIES = 2  # a file is given to a worker this often before its failure is recorded


@dataclass
class Rendered:
    """What one slow phase did."""

    rendered: int = 0
    failed: int = 0
    unfinished: int = 0  # left waiting by a stop
    seconds: float = 0.0

    def line(self) -> str:
        parts = [f"{self.rendered} rendered", f"{self.failed} failed"]
        if self.unfinished:
            parts.append(f"{self.unfinished} left for the next run (stopped)")
        return ", ".join(parts) + f" in {self.seconds:.1f}s"


@dataclass
class _Item:
    file: Any  # File, with its root
    attempts: int = 0  # tries that a worker failed

    @property
    def path(self) -> bytes:
        return os.path.join(os.fsencode(self.file.root.path), bytes(self.file.rel_path_raw))


@dataclass
class _Batch:
    queue: deque[_Item]
    handed: dict[int, _Item] = field(default_factory=dict)
    done: list[tuple[_Item, worker.Outcome]] = field(default_factory=list)


class Backlog:
    """Renders the files of one catalog (which must be open) that wait for their renditions."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        interactive: bool | None = None,
        stop: threading.Event | None = None,
        beat: Callable[[], None] | None = None,
        keep_open: bool = False,
        health: Health | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.interactive = interactive
        self.stop = stop  # set: kill what is in hand and return; the rest waits for next time
        self.beat = beat  # called at least once a second while files are rendered
        self.keep_open = keep_open  # keep the workers between steps until close()
        self.health = health or Health()
        # true when other work waits (called while rendering): then one file a worker at most
        # is in hand, and no more is handed out
        self.wanted = wanted
        self.workers = worker_count(settings)
        self.spec = rendition_spec(settings)
        self._kept: Pool | None = None

    def run(self, batch: int = BATCH) -> Rendered:
        """Render every file that waits (for `shoebox index`), with progress."""
        started = time.monotonic()
        result = Rendered()
        with Reporter("renditions", interactive=self.interactive) as progress:
            progress.start(pending.count())
            while not result.unfinished:
                files = pending.pending(batch)
                if not files:
                    break
                self._render(files, result)
                progress.advance(len(files) - result.unfinished)
        result.seconds = time.monotonic() - started
        return result

    def step(self, limit: int = STEP) -> int:
        """Render up to `limit` waiting files (for the daemon); how many were taken."""
        files = pending.pending(limit)
        if files:
            self._render(files, Rendered())
        return len(files)

    def close(self) -> None:
        """Stop the workers kept between steps (with `keep_open`)."""
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def _render(self, files: list[Any], result: Rendered) -> None:
        work = _Batch(deque(_Item(f) for f in files))
        pool = self._kept or Pool(
            self.workers, self.spec, memory_mb=self.settings.ingest.memory_limit_mb,
            health=self.health.workers, low=True,
        )  # fmt: skip
        self._kept = None
        ended = False
        try:
            self._work(pool, work)
            ended = True
        except Stopped:
            result.unfinished += len(work.queue) + len(work.handed)
            log.info("stopped: %d files left waiting for their renditions", result.unfinished)
        finally:
            if not ended:  # a stop, an error, Ctrl-C: what is in hand is killed, not awaited
                pool.kill()
                self._store(work.done, result)  # what is done is kept, even on Ctrl-C
        if ended:
            self._store(work.done, result)
            if self.keep_open:
                self._kept = pool
            else:
                pool.close()

    def _work(self, pool: Pool, work: _Batch) -> None:
        keys = itertools.count()
        while work.queue or work.handed:
            if self.beat is not None:
                self.beat()
            if self.stop is not None and self.stop.is_set():
                raise Stopped("asked to stop")
            if self.wanted is not None and self.wanted():
                work.queue.clear()  # they still wait, for a later step
            most = self.workers if self.wanted is not None else pool.size * 2
            while work.queue and pool.room > 0 and len(work.handed) < most:
                item = work.queue.popleft()
                key = next(keys)
                work.handed[key] = item
                f = item.file
                extension = scan.extension_of(bytes(f.rel_path_raw))
                # renditions made by an older recipe are made again, not taken from the cache
                task = worker.Task(item.path, extension, True, f.v_renditions > 0)
                pool.submit(key, task, scan.display(item.path), deadline(self.settings, f.size))
            for key, outcome in pool.collect(0.25):
                item = work.handed.pop(key)
                if outcome is None:  # its worker died before starting it
                    work.queue.appendleft(item)
                elif isinstance(outcome, Failure):
                    item.attempts += 1
                    if item.attempts < _TRIES:
                        log.info("%s: the worker %s; trying once more",
                                 scan.display(item.path), outcome.message)  # fmt: skip
                        work.queue.appendleft(item)
                    else:
                        reason = f"the worker {outcome.message}, twice"
                        work.done.append((item, worker.Outcome(errors=[("renditions", reason)])))
                else:
                    self._note_trouble(item, outcome)
                    if outcome.trouble and item.attempts + 1 < _TRIES:
                        item.attempts += 1
                        work.queue.appendleft(item)  # ffmpeg overran or died: once more
                    else:
                        work.done.append((item, outcome))

    def _note_trouble(self, item: _Item, outcome: worker.Outcome) -> None:
        for helper, kind, message in outcome.trouble:
            if helper == "ffmpeg":
                self.health.ffmpeg.problem(kind, f"{message} on {scan.display(item.path)}")

    def _store(self, done: list[tuple[_Item, worker.Outcome]], result: Rendered) -> None:
        """Record what the workers made of these files, in one transaction: each no longer
        waits, rendered or with its error; a photo shown by a file that failed is shown by
        another of its files, if any."""
        if not done:
            return
        photos: set[int] = set()
        with self.catalog.db.atomic():
            for item, outcome in done:
                taken = item.file
                f = File.get_or_none(File.id == taken.id)
                if f is None or (f.hash, f.status, f.v_renditions) != (
                    taken.hash, taken.status, taken.v_renditions,
                ):  # fmt: skip
                    continue  # indexed again meanwhile: it waits afresh, or no longer
                errors = [("renditions", message) for _, message in outcome.errors]
                if not errors and outcome.hash != f.hash:
                    errors.append(("renditions", "its content changed since it was indexed "
                                   "(the next index run looks at it again)"))  # fmt: skip
                f.v_renditions = pipeline.RENDITIONS
                f.rendered = outcome.rendered and not errors
                f.save(only=[File.v_renditions, File.rendered])
                IngestError.delete().where(
                    IngestError.root == f.root_id, IngestError.path_key == f.path_key,
                    IngestError.stage == "renditions",
                ).execute()  # fmt: skip
                for stage, message in errors:
                    log.warning("%s: %s failed: %s", scan.display(item.path), stage, message)
                    IngestError.create(
                        root=f.root_id, rel_path=f.rel_path, path_key=f.path_key, stage=stage,
                        message=message,
                    )  # fmt: skip
                if errors:
                    result.failed += 1
                else:
                    result.rendered += 1
                if not f.rendered and f.photo_id is not None:
                    photos.add(f.photo_id)
            for photo in Photo.select().where(Photo.id.in_(sorted(photos))):
                grouping.refresh(photo)
        done.clear()
