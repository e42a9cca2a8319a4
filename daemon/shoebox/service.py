"""`shoebox daemon`: one process, one asyncio event loop, that keeps the catalog in step with
the library.

The loop owns everything that happens: the SFTP endpoint, signals, systemd's heartbeat, and
three tasks. Every source of change (an SFTP upload opened or completed, a file the watcher
saw, a mount that came or went) becomes one `Change` on one `asyncio.Queue`:

- the **writer** drains that queue into the durable queue in the catalog, one transaction a
  turn. An upload's `opening` and `completed` wait for their transaction, so a client hears
  OK only for what is recorded, and its open is refused when it cannot be recorded. When the
  catalog fails, what the watcher saw is kept (or, past a bound, a rescan is asked for) and
  retried with a back-off that doubles up to a minute; nothing spins.
- the **indexer** reconciles the roots at start, then claims due jobs and indexes them (the
  fast phase: a photo is in the catalog without its renditions); when no job is due, it
  renders a few of the files that wait for their renditions (the slow phase,
  `ingest.backlog`, in worker processes at the lowest priority), giving way as soon as a job
  comes; and otherwise sleeps until the writer wakes it or the next job falls due. Its CPU work
  runs in the `Indexer`'s process pool; an idle daemon does nothing at all. When an SFTP
  upload opens, the pool's workers and exiftool are started (if they were given back), so
  the file is indexed the moment it is complete rather than after they start.
- the **later stages** (places, faces, labels, likeness) run in a thread of their own, at a
  lower CPU priority, a small batch at a time while the indexer has nothing in hand: a new
  photo is in the catalog before its faces are looked for, and an upload never waits behind
  a model that loads. Their models are given back after a minute without work.
- the **state keeper** writes this process's `DaemonState` row (for `shoebox status`) when
  its state changes and once a minute, and says once a day which partial uploads have
  waited longer than `[sftp] resume_days`.
- the **backup** task sleeps until `[backup] hour`, copies the catalog into the backup
  folder, prunes the old copies, and records how it went (the log, this daemon's state).
- with `[library] write_sidecars`, the **beside** task looks at the to-write list once a
  minute (the viewers that add to it are other processes) and writes the XMP sidecars and
  album files it names (`shoebox.beside`).

Catalog access runs in threads of our own, each with its own connection: one for the
writer and the bookkeeping (short transactions, so an upload never waits for an index
batch), one for the indexer, one for the later stages, one for the verify pass, and one for
the copies: backups (one reads for a minute or so
on a million photos while uploads and indexing go on) and the files beside the library. The
watcher's and the mount table's threads only hand events to the loop
(`call_soon_threadsafe`).

An SFTP upload under way has an `Upload` row, written before the file is opened and deleted in
the transaction that queues the finished file, so a partial file left by a dropped connection
is not indexed, not even by the scan after a restart, until a client completes it. SIGTERM
stops the daemon within 10 s whatever a helper does; SIGHUP re-reads `[watch]` and `[log]`
and looks at the roots again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import queue as stdlib_queue
import signal
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from peewee import DatabaseError, InterfaceError, MySQLDatabase, OperationalError

from shoebox import backups, beside, config, roots, verify
from shoebox.catalog import queue
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, DaemonState, File, QueuedPath, Root, Upload, utcnow
from shoebox.config import Settings
from shoebox.enrich import stages
from shoebox.enrich.runner import Enricher
from shoebox.errors import BackupError, CatalogError, ConfigError, HelperError
from shoebox.ingest import backlog, scan
from shoebox.ingest.run import Indexer, Summary, root_row
from shoebox.mounts import MountWatcher
from shoebox.sftp.server import SFTPEndpoint
from shoebox.systemd import notify
from shoebox.watcher import Watcher

log = logging.getLogger("shoebox.daemon")

T = TypeVar("T")
CATALOG_ERRORS = (OperationalError, InterfaceError, DatabaseError)

_CLAIM = 32  # jobs per batch; the indexer's stop event answers SIGTERM within a batch
_BACKOFF = (1.0, 60.0)  # first and longest wait after the catalog failed, doubling between
_PENDING_MAX = 100_000  # watcher changes kept while the catalog is away; past it: a rescan
_KEEP_WORKERS_SECONDS = 60  # idle this long, the worker processes and exiftool are stopped
_STATE_EVERY = 60.0  # seconds between two DaemonState rows when nothing changes
_STUCK_SECONDS = 120.0  # an index call silent this long is stuck: systemd's watchdog hears it
_STOP_SECONDS = 9.0  # SIGTERM: what is still running after this is left behind
_DAY = 86_400.0
_BESIDE_EVERY = 60.0  # seconds between two looks at the to-write list
_BESIDE_LONGEST = 3600.0  # the longest wait after writing beside the library failed
_BESIDE_BATCH = 100  # photos and albums written a turn


@dataclass(frozen=True)
class Change:
    """Something that happened to a path under a library root, on its way to the catalog.

    - `opening`: an SFTP client opens the file for writing (`account` says who);
    - `uploaded`: its client closed it, complete;
    - `seen`: the watcher saw the file change, appear or go;
    - `folder`: the watcher saw a folder appear or go (its files are looked at).
    `done` is resolved when the change is in the catalog (or failed with the reason)."""

    root: Path
    rel: bytes
    kind: Literal["opening", "uploaded", "seen", "folder"]
    account: str | None = None
    done: asyncio.Future[None] | None = field(default=None, compare=False)


class _Lane:
    """One thread of our own that runs calls in order (a daemon thread: a call that hangs
    cannot keep the process from stopping)."""

    def __init__(self, name: str) -> None:
        self._calls: stdlib_queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            stdlib_queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            call, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        future: Future[T] = Future()
        self._calls.put((lambda: call(*args), future))
        return await asyncio.wrap_future(future)

    def close(self, timeout: float) -> bool:
        """Let the calls in hand finish (for at most `timeout` s); True if they did."""
        self._calls.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()


class Daemon:
    """The daemon's state: its settings, the catalog, the parts that feed the queue, and the
    tasks that empty it. `UploadListener` for the SFTP endpoint."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.worker = queue.worker_id()
        self.stop_event = threading.Event()  # the indexer finishes what is in hand and returns
        self.indexer = Indexer(
            settings, catalog, interactive=False, stop=self.stop_event, beat=self._beat,
            keep_open=True,
        )  # fmt: skip
        self.backlog = backlog.Backlog(
            settings, catalog, interactive=False, stop=self.stop_event, beat=self._beat,
            keep_open=True, health=self.indexer.health, wanted=self._wanted,
        )  # fmt: skip
        loaded, off = stages.load(settings)
        for reason in off:
            log.info("off: %s", reason)
        self.enricher = Enricher(loaded)
        self.watcher = Watcher(settings.library.originals, self._seen)
        self.mounts = MountWatcher(self._mounts_changed)
        self.bookkeeping = _Lane("catalog")  # the writer and the state keeper
        self.indexing = _Lane("indexer")
        self.enriching = _Lane("enrich")  # the later stages, at a lower priority
        self.copies = _Lane("copies")  # backups, sidecars and album files
        self.verifying = _Lane("verify")  # re-hashing originals, at idle priority; reads only
        self._backup: dict[str, str] = {}  # how the last daily backup went
        self._verified: dict[str, Any] = {}  # the last verify pass (`verify.summary`)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changes: asyncio.Queue[Change] = asyncio.Queue()
        self._work = asyncio.Event()  # the queue may hold due jobs, or roots want a look
        self._enrich = asyncio.Event()  # photos may wait for the later stages
        self._enrich.set()  # at start, they may
        self._indexer_idle = asyncio.Event()  # the indexer has nothing in hand
        self._stopping = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._state = "starting"
        self._look_at_roots = True  # reconcile every root (at start, after a mount change)
        self._rescan: set[Path] = set()  # roots to reconcile (back again, or changes lost)
        self._beat_at = time.monotonic()  # the indexer's last sign of life
        self._busy_since: float | None = None  # an index call under way since
        self._status = ""
        self._watched: dict[Path, roots.Identity] = {}  # roots watched, on that filesystem
        self._account_folders: frozenset[Path] = frozenset()  # as the writer last read them
        self._first_scan = True
        self._holding = False  # worker processes and exiftool are running
        self._idle_since = time.monotonic()  # the indexer's last work (or warm-up)
        self._enriching = False  # a batch of the later stages is under way
        self._warming: asyncio.Task[None] | None = None  # helpers started for an upload
        # systemd's watchdog wants a sign of life at least this often (seconds), if at all
        usec = os.environ.get("WATCHDOG_USEC", "")
        self._watchdog_every = int(usec) / 2e6 if usec.isdigit() else None

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT."""
        loop = self._loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGINT, self._stop, signal.SIGINT)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload()))
        await self.bookkeeping.run(self._starting)  # before SFTP: no upload is under way yet
        endpoint = SFTPEndpoint(self.settings.sftp, self)
        await endpoint.start()
        self.watcher.start()
        self.mounts.start()
        notify("READY=1", "STATUS=reconciling the library with the catalog")
        log.info("started as %s; reconciling the library with the catalog", self.worker)
        tasks = [
            loop.create_task(self._writer(), name="writer"),
            loop.create_task(self._indexer(), name="indexer"),
            loop.create_task(self._enrich_later(), name="later stages"),
            loop.create_task(self._keep_state(), name="state"),
            loop.create_task(self._back_up_daily(), name="backup"),
        ]
        if self.settings.library.write_sidecars:
            tasks.append(loop.create_task(self._write_beside(), name="beside"))
        if self.settings.daemon.verify_days > 0:
            tasks.append(loop.create_task(self._verify_slowly(), name="verify"))
        if self._watchdog_every is not None:
            tasks.append(loop.create_task(self._watchdog(), name="watchdog"))
        stopped = loop.create_task(self._stopping.wait())
        await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:  # one that ended by itself has a bug to show
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error(
                    "the %s stopped: %r",
                    task.get_name(),
                    task.exception(),
                    exc_info=task.exception(),
                )
        await self._shut_down(endpoint, tasks)

    def _stop(self, signum: int) -> None:
        log.info("%s: stopping; what is in hand stays in the queue", signal.Signals(signum).name)
        self.stop_event.set()
        self._stopping.set()

    async def _shut_down(self, endpoint: SFTPEndpoint, tasks: list[asyncio.Task[None]]) -> None:
        """Stop within `_STOP_SECONDS`: no new uploads, what the watcher saw written, the
        index call in hand ended by the stop event (or left behind)."""
        deadline = time.monotonic() + _STOP_SECONDS
        notify("STOPPING=1")
        self.stop_event.set()
        self.watcher.stop()
        self.mounts.stop()
        with suppress(TimeoutError):
            await asyncio.wait_for(endpoint.stop(), timeout=3)
        for task in tasks:
            if task.get_name() != "writer":
                task.cancel()
        with suppress(TimeoutError):  # the writer ends once what it has is written
            await asyncio.wait_for(
                self._changes.join(), timeout=max(0.1, deadline - 4 - time.monotonic())
            )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        finished = await asyncio.to_thread(
            self.indexing.close, max(0.1, deadline - 1 - time.monotonic())
        )
        if not finished:
            log.error("the index call in hand did not end in time; its helpers are stopped")
        self._close_helpers()
        if await asyncio.to_thread(self.enriching.close, max(0.1, deadline - 1 - time.monotonic())):
            self.enricher.close()  # else a batch is still in hand: it ends with the process
        with suppress(TimeoutError, *CATALOG_ERRORS):
            await asyncio.wait_for(
                self.bookkeeping.run(self._write_state, "stopped"),
                timeout=max(0.1, deadline - time.monotonic()),
            )
        self.bookkeeping.close(0.5)
        log.info("stopped; the queue keeps what waits")

    # --- what the SFTP endpoint tells (UploadListener) ---------------------------------------

    async def opening(self, path: Path, account: str) -> None:
        await self._submit(path, "opening", account)

    async def completed(self, path: Path) -> None:
        await self._submit(path, "uploaded")

    async def cut_off(self, path: Path) -> None:
        """The partial file keeps its Upload row: nothing to write."""

    async def _submit(
        self, path: Path, kind: Literal["opening", "uploaded"], account: str | None = None
    ) -> None:
        located = self._locate(path)
        if located is None:  # an account folder outside every root: nothing to index
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._changes.put_nowait(Change(*located, kind, account, done))
        await done

    def _locate(self, path: Path) -> tuple[Path, bytes] | None:
        """The library root a path lies in, and its path relative to the root."""
        root = next((r for r in self.settings.library.originals if r in path.parents), None)
        return None if root is None else (root, os.fsencode(path.relative_to(root)))

    # --- what the watcher and the mount table tell (in their threads) -----------------------

    def _seen(self, root: Path, rel: bytes, folder: bool) -> None:
        """A change the watcher saw. Those in an account's upload folder are dropped here,
        in the watcher's thread (SFTP says when such a file is complete; an upload's every
        write would otherwise cost a turn of the writer); the writer checks again against
        the accounts as they are now."""
        full = root / os.fsdecode(rel)
        if any(full == a or a in full.parents for a in self._account_folders):
            return
        if self._loop is not None:
            change = Change(root, rel, "folder" if folder else "seen")
            self._loop.call_soon_threadsafe(self._changes.put_nowait, change)

    def _mounts_changed(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._roots_may_have_changed)

    def _roots_may_have_changed(self) -> None:
        self._look_at_roots = True
        self._work.set()

    # --- the writer -------------------------------------------------------------------------

    async def _writer(self) -> None:
        """Drain the changes into the catalog, a transaction a turn."""
        pending: dict[tuple[Path, bytes], Change] = {}  # the watcher's, not written yet
        backoff = 0.0
        retry_at: float | None = None
        while True:
            wait = None if retry_at is None else max(0.0, retry_at - time.monotonic())
            try:
                first = await asyncio.wait_for(self._changes.get(), timeout=wait)
                turn = [first]
            except TimeoutError:
                turn = []
            while not self._changes.empty():
                turn.append(self._changes.get_nowait())
            waited = [c for c in turn if c.done is not None]
            for change in turn:
                if change.done is None:
                    pending[(change.root, change.rel)] = change
            try:
                if waited or retry_at is None or time.monotonic() >= retry_at:
                    length = await self.bookkeeping.run(self._write, waited, list(pending.values()))
                    pending.clear()
                    if retry_at is not None:
                        log.info("the catalog can be written again")
                    backoff, retry_at = 0.0, None
                    self._set_status(length)
                    self._work.set()
                    if not self._holding and any(c.kind == "opening" for c in waited):
                        self._holding = True
                        self._warming = asyncio.create_task(self._warm_up(), name="warm-up")
                    for change in waited:
                        if change.done is not None and not change.done.done():
                            change.done.set_result(None)
            except CATALOG_ERRORS as exc:
                why = self.catalog.explain(exc)
                for change in waited:
                    if change.done is not None and not change.done.done():
                        change.done.set_exception(CatalogError(why))
                backoff = min(max(backoff * 2, _BACKOFF[0]), _BACKOFF[1])
                retry_at = time.monotonic() + backoff
                if len(pending) > _PENDING_MAX:
                    self._rescan.update(root for root, _ in pending)
                    pending.clear()
                log.error("%s; %d changes wait, trying again in %.0f s", why, len(pending), backoff)
                self._set_state("waiting for the catalog")
                await self.bookkeeping.run(_close_connection, self.catalog)
            finally:
                for _ in turn:
                    self._changes.task_done()

    def _write(self, waited: list[Change], seen: list[Change]) -> int:
        """In the catalog thread: record uploads and queue what changed, in one transaction
        (paths in one order, so two daemons writing the same paths do not deadlock; when
        MariaDB still finds a deadlock, the transaction is tried again); returns the queue's
        length."""
        seen = sorted(seen, key=lambda c: (c.root, c.rel))
        return _retrying(self._write_once, waited, seen)

    def _write_once(self, waited: list[Change], seen: list[Change]) -> int:
        db = self.catalog.db
        accounts = self._account_folders = frozenset(
            Path(a.folder) for a in Account.select(Account.folder)
        )
        delay = self.settings.watch.quiet_seconds
        rows: dict[Path, Root] = {}
        with db.atomic():
            for change in [*waited, *seen]:
                row = rows.get(change.root) or rows.setdefault(change.root, root_row(change.root))
                if change.kind == "opening":
                    _note_upload(db, row, change.rel, change.account or "?")
                elif change.kind == "uploaded":
                    key = scan.key(change.rel)
                    Upload.delete().where(Upload.root == row, Upload.path_key == key).execute()
                    queue.enqueue(db, row, change.rel, "upload")
                else:  # the watcher's word on an account's folder is not taken: SFTP's is
                    full = change.root / os.fsdecode(change.rel)
                    if any(full == a or a in full.parents for a in accounts):
                        continue
                    rels = (
                        _expand(change.root, row, change.rel)
                        if change.kind == "folder"
                        else [change.rel]
                    )
                    for rel in rels:
                        queue.enqueue(db, row, rel, "watch", delay)
        return queue.length()

    # --- the indexer ------------------------------------------------------------------------

    async def _indexer(self) -> None:
        """Reconcile the roots, then index due jobs; sleep when there are none."""
        backoff = 0.0
        while not self._stopping.is_set():
            self._work.clear()
            try:
                if await self._index_step():
                    backoff, self._idle_since = 0.0, time.monotonic()
                    continue
                backoff = 0.0
                self._indexer_idle.set()
                if not self._enriching:
                    self._set_state("idle")
                await self._sleep()
            except CATALOG_ERRORS as exc:
                if _transient(exc):  # another daemon won a lock: take the batch again at once
                    log.info("a batch met another daemon's lock (%s); taking it again", exc)
                    await self.indexing.run(self._give_back)
                    continue
                backoff = min(max(backoff * 2, _BACKOFF[0]), _BACKOFF[1])
                log.error("%s; indexing again in %.0f s", self.catalog.explain(exc), backoff)
                self._set_state("waiting for the catalog")
                await self.indexing.run(self._give_back)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff)

    async def _index_step(self) -> bool:
        """One piece of work; False when there was none."""
        if self._look_at_roots:
            self._look_at_roots = False
            await self._in_index_lane(self._check_roots)
        if self._rescan:
            wanted, self._rescan = sorted(self._rescan), set()
            self._indexer_idle.clear()
            self._set_state("scanning")
            try:
                await self._in_index_lane(self._reconcile, wanted)
            except BaseException:
                self._rescan.update(wanted)
                raise
            return True
        jobs = await self.indexing.run(
            _retrying,
            queue.claim,
            self.catalog.db,
            self.worker,
            _CLAIM,
            self.settings.daemon.stale_claim_seconds,
        )
        if jobs:
            self._indexer_idle.clear()
            self._set_state("indexing")
            self._holding = True
            await self._in_index_lane(self._process, jobs)
            return True
        self._indexer_idle.clear()  # the later stages wait for the renditions
        if await self._in_index_lane(self.backlog.step, backlog.STEP):
            self._set_state("rendering")
            self._holding = True
            return True
        return False

    def _wanted(self) -> bool:
        """Work for the indexer that comes before the renditions (read from its thread)."""
        return self._work.is_set() or self._stopping.is_set()

    async def _in_index_lane(self, call: Callable[..., T], *args: Any) -> T:
        self._busy_since = self._beat_at = time.monotonic()
        try:
            return await self.indexing.run(call, *args)
        finally:
            self._busy_since = None
            self._state_changed.set()

    async def _sleep(self) -> None:
        """Until the writer or a mount wakes us, the next job falls due, or it is time to
        give the worker processes' memory back."""
        due = await self.indexing.run(
            queue.next_due, self.worker, self.settings.daemon.stale_claim_seconds
        )
        timeouts = []
        if due is not None:
            timeouts.append(max(0.0, (due - utcnow()).total_seconds()) + 0.05)
        release_at = self._idle_since + _KEEP_WORKERS_SECONDS - time.monotonic()
        if self._holding:
            if release_at <= 0:
                self._holding = False  # (before: an upload opening meanwhile warms them again)
                await self.indexing.run(self._close_helpers)  # their memory back, a burst over
            else:
                timeouts.append(release_at)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout=min(timeouts) if timeouts else None)

    async def _warm_up(self) -> None:
        """An upload opened: the helpers its file will want are started meanwhile (in the
        indexer's thread; a helper that cannot start says so again when the file comes)."""
        self._idle_since = time.monotonic()
        try:
            await self.indexing.run(self.indexer.warm_up)
        except HelperError as exc:
            log.debug("warming up: %s", exc)

    async def _enrich_later(self) -> None:
        """The later stages, a batch at a time while the indexer has nothing in hand (a batch
        under way when an upload comes goes on beside it, at the lower priority); their
        models are given back after `_KEEP_WORKERS_SECONDS` without work."""
        await self.enriching.run(_lower_priority)
        holding = False
        while True:
            if holding:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._enrich.wait(), timeout=_KEEP_WORKERS_SECONDS)
                if not self._enrich.is_set():
                    await self.enriching.run(self.enricher.close)
                    holding = False
                    continue
            else:
                await self._enrich.wait()
            self._enrich.clear()
            try:
                while True:
                    await self._indexer_idle.wait()
                    self._enriching = holding = True
                    self._set_state("places, faces, labels")
                    if not await self.enriching.run(self.enricher.step):
                        break
            except CATALOG_ERRORS as exc:
                log.error("%s; the later stages try again in a minute", self.catalog.explain(exc))
                await self.enriching.run(_close_connection, self.catalog)
                self._enriching = False
                await asyncio.sleep(60.0)
                self._enrich.set()
                continue
            finally:
                self._enriching = False
            await self.enriching.run(_close_connection, self.catalog)  # and its page cache
            if self._indexer_idle.is_set():
                self._set_state("idle")

    def _give_back(self) -> None:
        """A batch failed with the catalog: its claims go back for the next try."""
        _close_connection(self.catalog)
        with suppress(*CATALOG_ERRORS):
            queue.release(self.catalog.db, self.worker)

    def _check_roots(self) -> None:
        """In the indexer thread: which roots may be indexed. A root that is fine is watched
        (again, if its disk came back) and reconciled when it was left alone; one that is
        not is left alone and said to be so once."""
        for root in self.settings.library.originals:
            row = root_row(root)
            was = row.left_alone
            reason = roots.check(root, row)
            if reason is not None:
                if roots.note(row, reason):
                    log.warning("%s; its photos are left alone until it is back", reason)
                if self._first_scan:  # its summary says so
                    self._rescan.add(root)
                self._watched.pop(root, None)  # watched again when it is back
                continue
            ident = roots.identify(root)
            if self._watched.get(root) != ident:
                if not self._first_scan:
                    log.info("library root %s is there: watching and reconciling it", root)
                    self.watcher.rewatch(root)
                self._watched[root] = ident
                self._rescan.add(root)
            elif was is not None:
                self._rescan.add(root)

    def _reconcile(self, wanted: list[Path]) -> None:
        """In the indexer thread: walk these roots and bring the catalog in step with them,
        under the catalog's index lock (one walk at a time, whoever runs it)."""
        with self.catalog.exclusive("index", self.stop_event) as held:
            if not held:  # stopping
                return
            summary = self.indexer.index(wanted)
        log.info("%s: %s", "start-up scan" if self._first_scan else "reconciled", summary.line())
        self._first_scan = False
        self._after(summary)
        self._set_status(queue.length())

    def _process(self, jobs: list[QueuedPath]) -> None:
        """In the indexer thread: index one batch of claimed jobs, and let the queue go of
        them. A file written by something else than SFTP that is still being written waits."""
        quiet_s = self.settings.watch.quiet_seconds
        by_root: dict[int, list[tuple[bytes, bool]]] = defaultdict(list)
        for job in jobs:
            by_root[job.root_id].append((bytes(job.rel_path_raw), job.reason == "upload"))
        for root_id, rels in by_root.items():
            root = Path(Root.get_by_id(root_id).path)
            ready = []
            for rel, uploaded in rels:
                # An SFTP close says the file is complete; anything else must have gone quiet.
                if not uploaded and _still_written(root, rel, quiet_s):
                    queue.enqueue(self.catalog.db, root_id, rel, "watch", quiet_s)
                else:
                    ready.append(rel)
            if ready:
                summary = self.indexer.index_files(root, ready)
                log.info("indexed %s", summary.line())
                self._after(summary)
                reasons = {bytes(j.rel_path_raw): j.reason for j in jobs if j.root_id == root_id}
                for rel in summary.unfinished:  # cut short by a stop: asked for again
                    queue.enqueue(self.catalog.db, root_id, rel, reasons.get(rel, "watch"))
        _retrying(queue.finish, self.catalog.db, jobs)
        self._set_status(queue.length())

    def _after(self, summary: Summary) -> None:
        """A root found left alone in an index run is looked at again after the next mount
        change; new photos may wait for the later stages."""
        if (summary.new or summary.changed or summary.moved) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._enrich.set)

    def _close_helpers(self) -> None:
        """Stop the worker processes and exiftool of both phases (started again when needed)."""
        self.indexer.close()
        self.backlog.close()

    def _beat(self) -> None:
        """The indexer is alive (called from its thread, at least once a second in a run)."""
        self._beat_at = time.monotonic()

    # --- state, status and systemd ----------------------------------------------------------

    def _starting(self) -> None:
        """In the catalog thread, before anything else: claims of dead daemons of this host
        go back to the queue, partial uploads are counted."""
        released = queue.release_dead(self.catalog.db, self.worker)
        if released:
            log.info("%d jobs that a daemon which died had claimed are back in the queue", released)
        DaemonState.delete().where(DaemonState.seen_at < utcnow() - dt.timedelta(days=7)).execute()
        self._partial_uploads(start=True)
        self._account_folders = frozenset(Path(a.folder) for a in Account.select(Account.folder))
        self._write_state("starting")

    def _partial_uploads(self, *, start: bool = False) -> None:
        """Forget the Upload rows whose file is gone (the client deleted or renamed it); say
        how many partial uploads wait, and which have waited longer than `resume_days`."""
        paths = {r.id: os.fsencode(r.path) for r in Root.select()}
        rows = list(Upload.select())
        gone = [
            u.id
            for u in rows
            if not os.path.lexists(os.path.join(paths[u.root_id], bytes(u.rel_path_raw)))
        ]
        if gone:
            Upload.delete().where(Upload.id.in_(gone)).execute()
        waiting = [u for u in rows if u.id not in gone]
        if start:
            log.info(
                "%d partial SFTP uploads wait for their clients to resume them (not indexed)",
                len(waiting),
            )
        limit = utcnow() - dt.timedelta(days=self.settings.sftp.resume_days)
        for u in waiting:
            if u.started_at < limit:
                log.warning(
                    "%s: a partial SFTP upload by %s, not resumed since %s; it is kept, "
                    "not indexed (complete it, or delete it)",
                    scan.display(os.path.join(paths[u.root_id], bytes(u.rel_path_raw))),
                    u.account,
                    u.started_at.isoformat(timespec="minutes"),
                )

    async def _keep_state(self) -> None:
        """Write this daemon's state when it changes and at least every minute; look at the
        partial uploads once a day."""
        last_day = time.monotonic()
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._state_changed.wait(), timeout=_STATE_EVERY)
            self._state_changed.clear()
            try:
                await self.bookkeeping.run(self._write_state, self._state)
                if time.monotonic() - last_day > _DAY:
                    last_day = time.monotonic()
                    await self.bookkeeping.run(self._partial_uploads)
            except CATALOG_ERRORS as exc:
                log.debug("cannot write the daemon's state: %s", exc)
            await asyncio.sleep(1.0)  # at most one row a second, however busy

    async def _back_up_daily(self) -> None:
        """At `[backup] hour` every day: a backup in the copies' thread."""
        while True:
            due = backups.next_run(backups.local_now(), self.settings.backup.hour)
            while (wait := (due - backups.local_now()).total_seconds()) > 0:
                await asyncio.sleep(min(wait, 3600.0))  # the wall clock may be set meanwhile
            self._backup = await self.copies.run(self._make_backup)
            self._state_changed.set()

    def _make_backup(self) -> dict[str, str]:
        """In the copies' thread: one backup, then retention; how it went, for the state."""
        wanted = self.settings.backup
        started = time.monotonic()
        try:
            made = backups.make(self.catalog.db, wanted.folder)
            removed = backups.prune(wanted.folder, wanted.keep_daily, wanted.keep_weekly)
        except BackupError as exc:
            log.error("the daily backup failed: %s; next try at %02d:00", exc, wanted.hour)
            return {"failed_at": utcnow().isoformat(), "error": str(exc)}
        finally:
            _close_connection(self.catalog)  # this thread's: not kept open for a day
        log.info(
            "daily backup %s: %.1f MB, %d photos, in %.1f s; %d old files removed",
            made.path, made.size / 1e6, made.rows("photo"), time.monotonic() - started,
            len(removed),
        )  # fmt: skip
        return {"made_at": utcnow().isoformat(), "path": str(made.path)}

    async def _write_beside(self) -> None:
        """The to-write list into sidecars and album files, a batch at a time; once it is
        empty, a look again in a minute (longer after failures)."""
        wait = _BESIDE_EVERY
        while True:
            try:
                _, more = await self.copies.run(
                    beside.write_batch, self.settings.ingest.exiftool, _BESIDE_BATCH
                )
                wait = _BESIDE_EVERY
            except (OSError, *CATALOG_ERRORS) as exc:
                wait = min(wait * 2, _BESIDE_LONGEST)
                log.warning(
                    "cannot write beside the library (%s); trying again in %.0f s", exc, wait
                )
                more = False
            if not more:
                await asyncio.sleep(wait)

    async def _verify_slowly(self) -> None:
        """Every original re-hashed once in `[daemon] verify_days`, one file at a time in the
        verify thread at idle priority; each finished pass is logged and kept in the state."""
        await self.verifying.run(_idle_priority)
        period = self.settings.daemon.verify_days * 86400
        while True:
            run = verify.SlowPass(self.settings.library.originals, period)
            started, wait = time.monotonic(), 1.0
            while not run.finished:
                try:
                    wait = await self.verifying.run(run.step)
                except CATALOG_ERRORS as exc:  # the catalog is away: the same file later
                    _close_connection(self.catalog)
                    log.debug("verify: cannot read the catalog: %s", exc)
                    wait = min(max(wait * 2, 1.0), 60.0)
                await asyncio.sleep(wait)
            self._verified = verify.summary(run.report, run.started_at)
            self._state_changed.set()
            (log.warning if run.report.bad else log.info)("verify: %s", run.report.line())
            for path in run.report.rotten[: verify.SHOWN]:
                log.warning("verify: rotten (content changed, size and time did not): %s", path)
            for path in run.report.gone[: verify.SHOWN]:
                log.warning("verify: gone: %s", path)
            await asyncio.sleep(max(1.0, period - (time.monotonic() - started)))

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._state_changed.set()

    def _write_state(self, state: str) -> None:
        detail = {
            "helpers": self.indexer.health.lines(),
            "busy_seconds": round(time.monotonic() - self._busy_since) if self._busy_since else 0,
            "silent_seconds": round(time.monotonic() - self._beat_at) if self._busy_since else 0,
            "backup": self._backup,
            "verify": self._verified,
        }
        values = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "seen_at": utcnow(),
            "state": state,
            "detail": json.dumps(detail),
        }
        insert = DaemonState.insert(worker=self.worker, **values)
        if isinstance(self.catalog.db, MySQLDatabase):
            insert.on_conflict(update=values).execute()
        else:
            insert.on_conflict(conflict_target=[DaemonState.worker], update=values).execute()

    def _set_status(self, length: int) -> None:
        """Tell systemd the queue's length when it changes (any thread)."""
        status = f"STATUS={length} paths in the queue"
        if status != self._status:
            self._status = status
            notify(status)

    async def _watchdog(self) -> None:
        """WATCHDOG=1 as systemd asks, while the indexer is not stuck in one call."""
        assert self._watchdog_every is not None
        while True:
            stuck = (
                self._busy_since is not None and time.monotonic() - self._beat_at > _STUCK_SECONDS
            )
            if not stuck:
                notify("WATCHDOG=1")
            await asyncio.sleep(self._watchdog_every)

    async def _reload(self) -> None:
        """SIGHUP: the settings that need no restart, and a look at the roots."""
        try:
            fresh = config.load(self.settings.source)
        except ConfigError as exc:
            log.error("reload refused, keeping the running settings: %s", exc)
            return
        self.settings = dataclasses.replace(self.settings, watch=fresh.watch, log=fresh.log)
        logging.getLogger().setLevel(fresh.log.level.upper())
        await self.indexing.run(self._close_helpers)  # the next batch starts them afresh
        self._roots_may_have_changed()
        log.info("reloaded %s", self.settings.source)


def _lower_priority() -> None:
    """The calling thread (and the threads it starts, such as a model's) yields the CPU to the
    rest of the daemon: nice 10 (not SCHED_IDLE: it holds the GIL at times, and must then
    get the CPU back soon enough for the event loop)."""
    with suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _idle_priority() -> None:
    """The calling thread runs only when the CPU (and so the disk, for which Linux derives an
    idle I/O class from SCHED_IDLE) has nothing else to do."""
    with suppress(OSError):
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))


def _close_connection(catalog: Catalog) -> None:
    """After a failure, the calling thread's next query opens a fresh connection (MariaDB
    may have dropped this one)."""
    with suppress(*CATALOG_ERRORS):
        catalog.db.close()


def _retrying(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, tried again (up to three times) when MariaDB ends its transaction for a
    deadlock or a lock wait timeout, as it asks; other errors are raised at once."""
    for attempt in range(3):
        try:
            return call(*args)
        except OperationalError as exc:
            if attempt == 2 or not _transient(exc):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _transient(exc: Exception) -> bool:
    """MariaDB ended the transaction for a deadlock or a lock wait timeout: try it again."""
    return bool(exc.args) and exc.args[0] in (1205, 1213)


def _note_upload(db: Any, row: Root, rel: bytes, account: str) -> None:
    """An upload is under way: its row, made or refreshed (a resumed upload)."""
    values = {"account": account, "started_at": utcnow()}
    insert = Upload.insert(root=row, rel_path_raw=rel, path_key=scan.key(rel), **values)
    if isinstance(db, MySQLDatabase):
        insert.on_conflict(update=values).execute()
    else:
        insert.on_conflict(conflict_target=[Upload.root, Upload.path_key], update=values).execute()


def _expand(root: Path, row: Root, rel: bytes) -> list[bytes]:
    """A folder that appeared or went: the files in it now, and those the catalog knew."""
    found = [e.rel for e in scan.walk(os.fsencode(root), rel, _log_unreadable)]
    prefix = scan.display(rel) + "/"
    known = File.select(File.rel_path_raw).where(
        File.root == row, File.rel_path.startswith(prefix), File.status != "missing"
    )
    found += [bytes(f.rel_path_raw) for f in known if bytes(f.rel_path_raw).startswith(rel + b"/")]
    return found


def _still_written(root: Path, rel: bytes, quiet_seconds: float) -> bool:
    """Whether a file changed less than `quiet_seconds` ago. An mtime in the future (a
    camera's clock, `touch -d 2100`) says nothing about that: such a file is quiet."""
    try:
        mtime = os.lstat(os.path.join(os.fsencode(root), rel)).st_mtime_ns
    except OSError:
        return False
    return 0 <= time.time_ns() - mtime < quiet_seconds * 1e9


def _log_unreadable(rel: bytes, exc: OSError) -> None:
    log.warning("%s: cannot read it (%s)", scan.display(rel), exc.strerror)


def serve(settings: Settings) -> None:
    """Open the catalog (migrating it) and run the daemon until it is stopped."""
    with Catalog(settings.database.url, settings.source.parent, cache_mib=16) as catalog:
        asyncio.run(Daemon(settings, catalog).run())
