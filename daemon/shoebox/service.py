"""`shoebox daemon`: one long-running process that keeps the catalog in step with the library.

At start it gives back the claims a crashed run of itself left, starts the SFTP endpoint (on
an asyncio loop in its own thread) and the folder watcher, tells systemd it is ready and
reconciles the library (a stat for each unchanged file). Then it takes finished uploads and
what the watcher saw into the durable queue and indexes the queue's due jobs, in small
batches, until SIGTERM; SIGHUP reloads the settings that can change without a restart
(accounts are read at every login). CPU work runs in the indexer's process pool, kept (with
its exiftool) for the daemon's lifetime; systemd hears READY, STATUS and WATCHDOG.

An SFTP upload under way has an `Upload` row, written before the file is opened and deleted
in the transaction that queues the finished file, so a partial file left by a dropped
connection is not indexed, not even by the scan after a restart, until a client completes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from contextlib import suppress
from pathlib import Path
from types import FrameType

from peewee import InterfaceError, MySQLDatabase, OperationalError

from shoebox import config
from shoebox.catalog import queue
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, File, QueuedPath, Root, Upload, utcnow
from shoebox.config import Settings
from shoebox.enrich import stages
from shoebox.enrich.runner import Enricher
from shoebox.errors import ConfigError
from shoebox.ingest import scan
from shoebox.ingest.run import Indexer, root_row
from shoebox.sftp.server import SFTPEndpoint
from shoebox.systemd import notify
from shoebox.watcher import Watcher

log = logging.getLogger("shoebox.daemon")

_CLAIM = 16  # jobs per batch: small, so that SIGTERM is answered within seconds
_IDLE_SECONDS = 0.5
_RECHECK = 300.0  # seconds before looking again for photos that wait for the later stages
_RETRY_SECONDS = 5  # after the catalog could not be reached
_KEEP_WORKERS_SECONDS = 60  # idle this long, the worker processes and exiftool are stopped


class Daemon:
    """The daemon's state: its settings, the catalog, the watcher, the uploads handed over by
    the SFTP thread, and what systemd was last told."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.stopping = threading.Event()
        self.reloading = threading.Event()
        self._wake = threading.Event()  # an upload, a signal: do not wait for the next tick
        self.worker = socket.gethostname()
        self.indexer = Indexer(
            settings, catalog, interactive=False, stop=self.stopping, beat=self._heartbeat,
            keep_open=True,
        )  # fmt: skip
        self.watcher = Watcher(settings.library.originals)
        loaded, off = stages.load(settings)
        for reason in off:
            log.info("off: %s", reason)
        self.enricher = Enricher(loaded)
        self._enriched_at: float | None = None  # when the last later-stage batch ended
        self._enrich_checked_at: float | None = None  # when none waited for them
        self._uploads: list[Path] = []  # finished uploads the SFTP thread could not queue
        self._uploads_lock = threading.Lock()
        # systemd's watchdog wants a sign of life at least this often (seconds), if at all
        usec = os.environ.get("WATCHDOG_USEC", "")
        self._watchdog_every = int(usec) / 2e6 if usec.isdigit() else None
        self._status = ""
        self._alive_at = self._status_at = 0.0
        self._worked_at: float | None = None  # when the last batch ended, while workers live

    def run(self) -> None:
        """Run until SIGTERM or SIGINT."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        db = self.catalog.db
        queue.release(db, self.worker)
        self._partial_uploads()  # before SFTP starts: no upload is under way yet
        loop = asyncio.new_event_loop()
        sftp_thread = threading.Thread(target=loop.run_forever, name="sftp", daemon=True)
        sftp_thread.start()
        endpoint = SFTPEndpoint(self.settings.sftp, _UploadEvents(self))
        asyncio.run_coroutine_threadsafe(endpoint.start(), loop).result(timeout=30)
        self.watcher.start()
        try:
            notify("READY=1", "STATUS=reconciling the library with the catalog")
            log.info("started; reconciling the library with the catalog")
            summary = self.indexer.index()
            log.info("start-up scan: %s", summary.line())
            self._worked_at = time.monotonic()
            while not self.stopping.is_set():
                try:
                    self._step()
                except (OperationalError, InterfaceError) as exc:
                    log.error(
                        "the catalog cannot be reached (%s); trying again in %d s",
                        exc, _RETRY_SECONDS,
                    )  # fmt: skip
                    with suppress(OperationalError, InterfaceError):
                        db.close()
                    self._wake.wait(_RETRY_SECONDS)
                    with suppress(OperationalError, InterfaceError):
                        queue.release(db, self.worker)  # the batch that failed, for a retry
        finally:
            notify("STOPPING=1")
            self.watcher.stop()
            asyncio.run_coroutine_threadsafe(endpoint.stop(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            sftp_thread.join(timeout=10)
            self.indexer.close()
            self.enricher.close()
            log.info("stopped; %d paths wait in the queue", queue.length())

    def _step(self) -> None:
        """One turn of the loop: take in what arrived, index what is due, or wait a little."""
        if self.reloading.is_set():
            self._reload()
        self._take_changes()
        jobs = queue.claim(self.catalog.db, self.worker, _CLAIM)
        if jobs:
            self._process(jobs)
            self._worked_at = time.monotonic()
            self._enrich_checked_at = None  # new photos may wait for the later stages
        elif self._later_stages():
            self._enriched_at = time.monotonic()
        else:
            if (
                self._enriched_at is not None
                and time.monotonic() - self._enriched_at > _KEEP_WORKERS_SECONDS
            ):
                self.enricher.close()  # the models' memory, until more photos need them
                self._enriched_at = None
            if (
                self._worked_at is not None
                and time.monotonic() - self._worked_at > _KEEP_WORKERS_SECONDS
            ):
                self.indexer.close()  # a burst of uploads is over: give the memory back
                self._worked_at = None
            self._wake.wait(_IDLE_SECONDS)
            self._wake.clear()
        self._heartbeat()

    def _later_stages(self) -> bool:
        """Nothing queued: places, faces and labels for a few photos, if any wait. Looking for
        waiting photos costs a query over the catalog, so after finding none it is not done
        again until new photos arrive, or for a few minutes."""
        now = time.monotonic()
        if self._enrich_checked_at is not None and now - self._enrich_checked_at < _RECHECK:
            return False
        if self.enricher.step():
            return True
        self._enrich_checked_at = now
        return False

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping after the files in hand", signal.Signals(signum).name)
        self.stopping.set()
        self._wake.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reloading.set()
        self._wake.set()

    def _reload(self) -> None:
        self.reloading.clear()
        try:
            fresh = config.load(self.settings.source)
        except ConfigError as exc:
            log.error("reload refused, keeping the running settings: %s", exc)
            return
        self.settings = dataclasses.replace(self.settings, watch=fresh.watch, log=fresh.log)
        self.indexer.close()  # the next batch starts its pool and exiftool afresh
        logging.getLogger().setLevel(fresh.log.level.upper())
        log.info("reloaded %s", self.settings.source)

    def _locate(self, path: Path) -> tuple[Path, bytes] | None:
        """The library root an upload lies in, and its path relative to the root."""
        root = next((r for r in self.settings.library.originals if r in path.parents), None)
        return None if root is None else (root, os.fsencode(path.relative_to(root)))

    def _on_open(self, path: Path, account: str) -> None:
        """An SFTP client opens `path` for writing (called in a worker thread, before the
        file is opened): note the upload as under way. A resumed upload
        refreshes the row its dropped connection left."""
        located = self._locate(path)
        if located is None:
            return
        root, rel = located
        db = self.catalog.db
        try:
            with db.atomic():
                row = root_row(root)
                values = {"account": account, "started_at": utcnow()}
                insert = Upload.insert(root=row, rel_path_raw=rel, path_key=scan.key(rel), **values)
                if isinstance(db, MySQLDatabase):
                    insert.on_conflict(update=values).execute()
                else:
                    insert.on_conflict(
                        conflict_target=[Upload.root, Upload.path_key], update=values
                    ).execute()
        except (OperationalError, InterfaceError) as exc:
            log.error("%s: cannot note the upload as under way (%s)", path, exc)
            with suppress(OperationalError, InterfaceError):
                db.close()

    def _on_upload(self, path: Path) -> None:
        """A complete upload (called in a worker thread): queue it; when the catalog cannot
        be reached, the main loop tries again."""
        try:
            with self.catalog.db.atomic():
                self._finished(path)
        except (OperationalError, InterfaceError) as exc:
            log.warning("%s: cannot queue the upload now (%s); trying again", path, exc)
            with suppress(OperationalError, InterfaceError):
                self.catalog.db.close()
            with self._uploads_lock:
                self._uploads.append(path)
        self._wake.set()

    def _finished(self, path: Path) -> None:
        """Queue a complete upload and drop its Upload row, in the caller's transaction."""
        located = self._locate(path)
        if located is None:
            return
        root, rel = located
        row = root_row(root)
        Upload.delete().where(Upload.root == row, Upload.path_key == scan.key(rel)).execute()
        queue.enqueue(self.catalog.db, row, rel, "upload")

    def _partial_uploads(self) -> None:
        """Forget the Upload rows whose file is gone (the client deleted or renamed it) and
        say how many partial uploads wait for their clients."""
        roots = {r.id: os.fsencode(r.path) for r in Root.select()}
        rows = list(Upload.select(Upload.id, Upload.root, Upload.rel_path_raw))
        gone = [
            u.id
            for u in rows
            if not os.path.lexists(os.path.join(roots[u.root_id], bytes(u.rel_path_raw)))
        ]
        if gone:
            Upload.delete().where(Upload.id.in_(gone)).execute()
        log.info(
            "%d partial SFTP uploads wait for their clients to resume them (not indexed)",
            len(rows) - len(gone),
        )

    def _take_changes(self) -> None:
        """Move what the watcher saw (and uploads the SFTP thread could not queue) into the
        durable queue. The watcher's word on an account's folder is not taken: a file there is
        complete when its SFTP upload says so (a dropped connection leaves a partial file that
        must wait). Elsewhere too, a path with an Upload row is passed over when its job runs
        (`Indexer` skips it)."""
        with self._uploads_lock:
            uploads, self._uploads = self._uploads, []
        changes = self.watcher.drain()
        if not (uploads or changes):
            return
        delay = self.settings.watch.quiet_seconds
        accounts = [Path(a.folder) for a in Account.select(Account.folder)]
        db = self.catalog.db
        try:
            with db.atomic():
                for upload in uploads:
                    self._finished(upload)
                for root, rel, folder in changes:
                    full = root / os.fsdecode(rel)
                    if any(full == a or a in full.parents for a in accounts):
                        continue
                    row = root_row(root)
                    for each in self._expand(root, row, rel) if folder else [rel]:
                        queue.enqueue(db, row, each, "watch", delay)
        except BaseException:
            with self._uploads_lock:  # kept for the next try (the watcher's word is not)
                self._uploads[:0] = uploads
            raise

    def _expand(self, root: Path, row: Root, rel: bytes) -> list[bytes]:
        """A folder that appeared or went: the files in it now, and those the catalog knew."""
        found = [e.rel for e in scan.walk(os.fsencode(root), rel, _log_unreadable)]
        prefix = scan.display(rel) + "/"
        known = File.select(File.rel_path_raw).where(
            File.root == row, File.rel_path.startswith(prefix), File.status != "missing"
        )
        found += [
            bytes(f.rel_path_raw) for f in known if bytes(f.rel_path_raw).startswith(rel + b"/")
        ]
        return found

    def _process(self, jobs: list[QueuedPath]) -> None:
        quiet_ns = self.settings.watch.quiet_seconds * 1_000_000_000
        by_root: dict[int, list[tuple[bytes, bool]]] = defaultdict(list)
        for job in jobs:
            by_root[job.root_id].append((bytes(job.rel_path_raw), job.reason == "upload"))
        for root_id, rels in by_root.items():
            root = Path(Root.get_by_id(root_id).path)
            ready = []
            for rel, uploaded in rels:
                # An SFTP close says the file is complete; anything else must have gone quiet.
                if not uploaded and self._still_written(root, rel, quiet_ns):
                    queue.enqueue(self.catalog.db, root_id, rel, "watch", quiet_ns / 1e9)
                else:
                    ready.append(rel)
            if ready:
                summary = self.indexer.index_files(root, ready)
                log.info("indexed %s", summary.line())
        queue.finish(self.catalog.db, jobs)

    @staticmethod
    def _still_written(root: Path, rel: bytes, quiet_ns: float) -> bool:
        try:
            mtime = os.lstat(os.path.join(os.fsencode(root), rel)).st_mtime_ns
        except OSError:
            return False
        return time.time_ns() - mtime < quiet_ns

    def _heartbeat(self) -> None:
        """Tell systemd the queue's length when it changes, and that we live when it asks."""
        lines = []
        now = time.monotonic()
        if now - self._status_at >= 1.0:  # the long indexing loop calls this often
            self._status_at = now
            status = f"STATUS={queue.length()} paths in the queue"
            if status != self._status:
                lines.append(status)
                self._status = status
        if self._watchdog_every is not None and now - self._alive_at >= self._watchdog_every:
            lines.append("WATCHDOG=1")
            self._alive_at = now
        if lines:
            notify(*lines)


class _UploadEvents:
    """The SFTP endpoint's listener: its news handed to the daemon's catalog code in worker
    threads (until the daemon is one event loop)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def opening(self, path: Path, account: str) -> None:
        await asyncio.to_thread(self.daemon._on_open, path, account)

    async def completed(self, path: Path) -> None:
        await asyncio.to_thread(self.daemon._on_upload, path)

    async def cut_off(self, path: Path) -> None:
        pass  # its Upload row (written by `opening`) keeps it out of the index


def _log_unreadable(rel: bytes, exc: OSError) -> None:
    log.warning("%s: cannot read it (%s)", scan.display(rel), exc.strerror)


def serve(settings: Settings) -> None:
    """Open the catalog (migrating it) and run the daemon until it is stopped."""
    with Catalog(settings.database.url, settings.source.parent, cache_mib=16) as catalog:
        Daemon(settings, catalog).run()
