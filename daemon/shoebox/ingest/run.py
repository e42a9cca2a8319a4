"""One index run, the *fast phase*: walk the roots, find what is new, changed, moved or gone,
identify what needs it (hashing on every core, tags through one exiftool) and store the results
in batched transactions, grouped into photos. Nothing is decoded: a photo is in the catalog,
and the timeline, as soon as its batch is stored, and its files wait for their renditions
(`catalog.pending`), which the slow phase makes (`ingest.backlog`). Bad files are recorded
and logged; the run always goes on. A file an SFTP client is still uploading (it has an
`Upload` row) is left alone: neither indexed nor marked missing. A run over whole roots ends
by reading their album files back (`shoebox.albumfiles`).

Every helper has a deadline per file (`ingest.pool` for the workers, `ingest.exiftool`). A
helper that dies or overruns is killed and replaced and the file tried once more; a file that
fails twice is recorded with the reason (a file whose opening as an image kills the worker
twice is identified once more without opening it). The stop event ends a run within
a second or so whatever a helper does: what is in hand is killed and left for the next run
(`Summary.unfinished`). `Indexer.health` tells how the helpers are doing.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from peewee import fn

from shoebox import albumfiles, roots
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import File, IngestError, Photo, Root, Upload, utcnow
from shoebox.config import Settings
from shoebox.errors import StageError, Stopped, UsageError
from shoebox.ingest import grouping, metadata, pipeline, scan, worker
from shoebox.ingest.exiftool import ExifTool
from shoebox.ingest.health import Health
from shoebox.ingest.pool import Failure, Pool
from shoebox.ingest.renditions import RenditionSpec
from shoebox.progress import Reporter

log = logging.getLogger("shoebox.ingest")

_BATCH = 200  # results per database transaction
_BATCH_SECONDS = 2.0
_TRIES = 2  # a file is given to a helper this often before its failure is recorded
_READ_RATE = 10 << 20  # bytes a second: a file's deadline grows by the time to read it slowly
_MASS_VANISH = 10  # this many files of a root, and most of it, gone at once: left alone


@dataclass
class Summary:
    new: int = 0
    changed: int = 0
    moved: int = 0
    unchanged: int = 0
    missing: int = 0
    failed: int = 0
    refreshed: int = 0
    partial: int = 0  # SFTP uploads not complete yet, left alone
    seconds: float = 0.0
    roots_left_alone: list[str] = field(default_factory=list)
    # Relative paths (under their root) whose indexing a stop cut short: not stored, to be
    # indexed by a later run.
    unfinished: list[bytes] = field(default_factory=list)

    def line(self) -> str:
        parts = [
            f"{self.new} new",
            f"{self.changed} changed",
            f"{self.moved} moved",
            f"{self.unchanged} unchanged",
            f"{self.missing} missing",
            f"{self.failed} failed",
        ]
        if self.refreshed:
            parts.append(f"{self.refreshed} refreshed for a new stage version")
        if self.partial:
            parts.append(f"{self.partial} partial uploads left alone")
        if self.unfinished:
            parts.append(f"{len(self.unfinished)} left for the next run (stopped)")
        return ", ".join(parts) + f" in {self.seconds:.1f}s"


@dataclass(frozen=True)
class Known:
    """What the catalog holds for one path, read without its metadata."""

    id: int
    rel: bytes
    size: int
    mtime_ns: int
    status: str
    hash: str | None
    v_identify: int
    v_metadata: int
    v_renditions: int


@dataclass
class Job:
    root: Any  # Root
    root_path: bytes
    entry: scan.Entry
    known: Known | None
    kind: str  # new, changed, refresh
    identify: bool = True
    metadata: bool = True
    attempts: int = 0  # tries that a helper failed
    look: bool = True  # false once opening it as an image failed twice: identify without it
    failures: list[tuple[str, str]] = field(default_factory=list)  # (stage, message) so far

    @property
    def path(self) -> bytes:
        return os.path.join(self.root_path, self.entry.rel)


@dataclass
class _Run:
    """What one index run keeps track of besides its jobs."""

    summary: Summary
    walked: bool  # the run walks folders (else: it looks at paths the daemon was given)
    # Files the walk no longer found, by id: (their root's row and path, what was known).
    vanished: dict[int, tuple[Root, bytes, Known]] = field(default_factory=dict)
    # (root id, path key) of the files that have error rows, so others need no DELETE.
    erred: set[tuple[int, str]] = field(default_factory=set)


@dataclass
class _Scope:
    root: Any
    root_path: bytes
    prefix: bytes  # relative folder inside the root, b"" for all of it
    unreadable: list[bytes] = field(default_factory=list)


class Indexer:
    """Indexes library roots (or folders inside them) into the catalog."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        interactive: bool | None = None,
        stop: threading.Event | None = None,
        beat: Callable[[], None] | None = None,
        keep_open: bool = False,
        mark_missing: bool = False,
    ):
        self.settings = settings
        self.catalog = catalog
        self.interactive = interactive
        self.stop = stop  # set: kill what is in hand and return; the rest waits for next time
        self.beat = beat  # called at least once a second while files are indexed
        # Keep the worker processes and exiftool between runs (a daemon's batches) until close().
        self.keep_open = keep_open
        # Mark vanished files missing even when most of a root vanished at once.
        self.mark_missing = mark_missing
        self.health = Health()  # how the helpers are doing, for `shoebox status`
        self._kept: tuple[Pool, ExifTool] | None = None
        self.workers = worker_count(settings)
        self.spec = rendition_spec(settings)

    # --- planning ------------------------------------------------------------------------

    def _scopes(self, paths: Sequence[Path]) -> list[tuple[Path, bytes]]:
        roots = self.settings.library.originals
        if not paths:
            return [(root, b"") for root in roots]
        scopes = []
        for given in paths:
            target = Path(os.path.abspath(given))
            root = next((r for r in roots if target == r or r in target.parents), None)
            if root is None:
                raise UsageError(
                    f"{given} is not inside a library root ("
                    + ", ".join(str(r) for r in roots)
                    + "); add it to [library] originals in "
                    + str(self.settings.source)
                )
            rel = os.fsencode(target.relative_to(root)) if target != root else b""
            scopes.append((root, b"" if rel == b"." else rel))
        return scopes

    def _known(self, scope: _Scope, keys: Iterable[str] | None = None) -> dict[str, Known]:
        """What the catalog holds under the scope (only for these path keys, if given)."""
        query = File.select(
            File.id, File.path_key, File.rel_path_raw, File.size, File.mtime_ns, File.status,
            File.hash, File.v_identify, File.v_metadata, File.v_renditions,
        ).where(File.root == scope.root)  # fmt: skip
        if keys is not None:
            query = query.where(File.path_key.in_(list(keys)))
        if scope.prefix:  # narrowed in SQL by the display form, then exactly by the bytes
            query = query.where(File.rel_path.startswith(scan.display(scope.prefix) + "/"))
        known = {}
        for row in query.tuples().iterator():
            fid, key, rel, size, mtime, status, hsh, vi, vm, vr = row
            rel = bytes(rel)
            if scope.prefix and not rel.startswith(scope.prefix + b"/"):
                continue
            known[key] = Known(fid, rel, size, mtime, status, hsh, vi, vm, vr)
        return known

    def _plan(self, scope: _Scope, run: _Run) -> list[Job]:
        """Walk the scope and compare it with the catalog."""

        def on_error(rel: bytes, exc: OSError) -> None:
            scope.unreadable.append(rel)
            where = scan.display(os.path.join(scope.root_path, rel))
            log.warning("%s: cannot read it (%s); its files are left as they were", where,
                        exc.strerror or exc)  # fmt: skip
            self._record_errors(scope.root, rel, [("scan", f"cannot read ({exc.strerror})")], run)

        known = self._known(scope)
        entries = scan.walk(scope.root_path, scope.prefix, on_error)
        return self._compare(scope, entries, known, self._uploading(scope), run)

    def _uploading(self, scope: _Scope, keys: Iterable[str] | None = None) -> set[str]:
        """The path keys under the scope (only these, if given) of SFTP uploads under way."""
        query = Upload.select(Upload.path_key, Upload.rel_path_raw).where(Upload.root == scope.root)
        if keys is not None:
            query = query.where(Upload.path_key.in_(list(keys)))
        rows = cast(Iterable[tuple[str, bytes]], query.tuples())
        return {
            key
            for key, rel in rows
            if not scope.prefix or bytes(rel).startswith(scope.prefix + b"/")
        }

    def _compare(
        self,
        scope: _Scope,
        entries: Iterable[scan.Entry],
        known: dict[str, Known],
        uploading: set[str],
        run: _Run,
    ) -> list[Job]:
        """Jobs for the entries found that are new, changed or need a newer stage; the known
        files not found are noted as vanished. Uploads under way are left as they are."""
        jobs: list[Job] = []
        seen: set[str] = set()
        for entry in entries:
            key = scan.key(entry.rel)
            seen.add(key)
            if key in uploading:
                log.info("%s: an SFTP upload not finished yet; left alone",
                         scan.display(os.path.join(scope.root_path, entry.rel)))  # fmt: skip
                run.summary.partial += 1
                continue
            old = known.get(key)
            if old is None:
                jobs.append(Job(scope.root, scope.root_path, entry, None, "new"))
            elif (
                old.size != entry.size or old.mtime_ns != entry.mtime_ns or old.status == "missing"
            ):
                jobs.append(Job(scope.root, scope.root_path, entry, old, "changed"))
            elif old.status == "present" and (
                old.v_identify < pipeline.IDENTIFY or old.v_metadata < pipeline.METADATA
            ):  # (older renditions are the slow phase's: `catalog.pending` finds them)
                jobs.append(
                    Job(
                        scope.root, scope.root_path, entry, old, "refresh",
                        identify=old.v_identify < pipeline.IDENTIFY,
                        metadata=old.v_metadata < pipeline.METADATA,
                    )
                )  # fmt: skip
            else:
                run.summary.unchanged += 1
        for key, old in known.items():
            if key in seen or old.status == "missing":
                continue
            if any(old.rel.startswith(bad + b"/") or old.rel == bad for bad in scope.unreadable):
                continue  # its folder could not be read: we do not know that it is gone
            run.vanished[old.id] = (scope.root, scope.root_path, old)
        return jobs

    # --- running -------------------------------------------------------------------------

    def index(self, paths: Sequence[Path] = ()) -> Summary:
        """Index `paths` (folders inside library roots), or every root when none are given."""
        started = time.monotonic()
        run = self._new_run()
        jobs: list[Job] = []
        whole: list[Path] = []  # roots walked whole: their album files are read back
        for root, prefix in self._scopes(paths):
            scope = self._scope(root, prefix, run)
            if scope is not None:
                jobs += self._plan(scope, run)
                whole += [root] if not prefix else []
        summary = self._finish(jobs, run, started)
        if whole:
            with self.catalog.db.atomic():
                albumfiles.apply(whole)
        return summary

    def index_files(self, root: Path, rels: Iterable[bytes]) -> Summary:
        """Index these files of one root, as the daemon's queue asks: each is new, changed,
        unchanged, moved here, or gone (then marked missing)."""
        started = time.monotonic()
        wanted = set(rels)
        run = self._new_run([scan.key(rel) for rel in wanted])
        scope = self._scope(root, b"", run)
        if scope is None:
            return self._finish([], run, started)
        known = self._known(scope, [scan.key(rel) for rel in wanted])
        uploading = self._uploading(scope, [scan.key(rel) for rel in wanted])
        entries = []
        for rel in wanted:
            try:
                entry = scan.entry(scope.root_path, rel)
            except OSError as exc:
                scope.unreadable.append(rel)
                self._record_errors(
                    scope.root, rel, [("scan", f"cannot read ({exc.strerror})")], run
                )
                continue
            if entry is not None:
                entries.append(entry)
        return self._finish(self._compare(scope, entries, known, uploading, run), run, started)

    def _new_run(self, keys: list[str] | None = None) -> _Run:
        """A run's state; with `keys`, only those paths' error rows are looked up."""
        erred = IngestError.select(IngestError.root, IngestError.path_key)
        if keys is not None:
            erred = erred.where(IngestError.path_key.in_(keys))
        walked = keys is None
        return _Run(Summary(), walked, erred={(e.root_id, e.path_key) for e in erred})

    def _scope(self, root: Path, prefix: bytes, run: _Run) -> _Scope | None:
        row = root_row(root)
        reason = roots.check(root, row)
        if reason is not None:
            self._leave_alone(row, reason, run)
            return None
        if row.left_alone is not None and prefix == b"" and roots.note(row, None):
            log.info("library root %s is back", root)
        return _Scope(row, os.fsencode(root), prefix)

    def _leave_alone(self, row: Root, reason: str, run: _Run) -> None:
        """Touch none of the root's photos this run, and say why (in the log when it is
        news, in the summary and, for `shoebox status`, in the catalog)."""
        if roots.note(row, reason) or self.interactive is not False:
            log.warning("%s; its photos are left alone", reason)
        run.summary.roots_left_alone.append(reason)

    def _finish(self, jobs: list[Job], run: _Run, started: float) -> Summary:
        with Reporter("visible", interactive=self.interactive) as progress:
            progress.start(len(jobs))
            self._execute(jobs, run, progress)
        self._mark_missing(run)
        run.summary.seconds = time.monotonic() - started
        return run.summary

    def _execute(self, jobs: list[Job], run: _Run, progress: Reporter) -> None:
        if not jobs:
            return
        queue = deque(jobs)
        keys = itertools.count()
        handed: dict[int, Job] = {}  # to the workers, by key
        ready: deque[tuple[Job, worker.Outcome | None]] = deque()  # for their tags
        batch: list[tuple[Job, worker.Outcome | None, metadata.Meta | None, list[Any]]] = []
        last_flush = time.monotonic()
        pool, exiftool = self._kept or self._helpers()
        self._kept = None
        ended = False  # every file done: the helpers are idle and may be kept or closed
        try:
            while queue or handed or ready:
                if self.beat is not None:
                    self.beat()
                if self.stop is not None and self.stop.is_set():
                    raise Stopped("asked to stop")
                while queue and pool.room > 0:
                    job = queue.popleft()
                    if not job.identify:
                        ready.append((job, None))
                        continue
                    key = next(keys)
                    handed[key] = job
                    task = worker.Task(job.path, job.entry.extension, False, False, job.look)
                    limit = deadline(self.settings, job.entry.size)
                    pool.submit(key, task, scan.display(job.path), limit)
                for key, result in pool.collect(0 if ready else 0.25):
                    job = handed.pop(key)
                    if result is None:  # its worker died before starting it
                        queue.appendleft(job)
                    elif isinstance(result, Failure):
                        self._worker_failed(job, result, queue, ready)
                    elif result.trouble and job.attempts + 1 < _TRIES:
                        self._note_trouble(job, result)
                        job.attempts += 1
                        queue.appendleft(job)  # ffmpeg overran or died: once more
                    else:
                        self._note_trouble(job, result)
                        result.errors[:0] = job.failures
                        ready.append((job, result))
                while ready:
                    job, outcome = ready[0]
                    meta, errors = self._metadata(exiftool, job, outcome)
                    batch.append((job, outcome, meta, errors))
                    ready.popleft()
                if len(batch) >= _BATCH or (
                    batch and time.monotonic() - last_flush > _BATCH_SECONDS
                ):
                    self._flush(batch, run)
                    progress.advance(len(batch))
                    batch.clear()
                    last_flush = time.monotonic()
            ended = True
        except Stopped:
            unfinished = [job for job, _ in ready] + list(handed.values()) + list(queue)
            run.summary.unfinished += [job.entry.rel for job in unfinished]
            log.info("stopped: %d files left for the next run", len(unfinished))
        finally:
            if not ended:  # a stop, an error, Ctrl-C: what is in hand is killed, not awaited
                pool.kill()
                exiftool.kill()
                exiftool.close()
        if batch:
            self._flush(batch, run)
            progress.advance(len(batch))
        if self.keep_open:  # both start their processes again when next needed
            self._kept = (pool, exiftool)
        else:
            pool.close()
            exiftool.close()

    def _helpers(self) -> tuple[Pool, ExifTool]:
        ing = self.settings.ingest
        pool = Pool(
            self.workers, self.spec, memory_mb=ing.memory_limit_mb, health=self.health.workers
        )
        exiftool = ExifTool(
            ing.exiftool, timeout=ing.exiftool_timeout, memory_mb=ing.memory_limit_mb,
            health=self.health.exiftool, stop=self.stop,
        )  # fmt: skip
        return pool, exiftool

    def warm_up(self) -> None:
        """Start the worker processes and exiftool now (with `keep_open`), so that the next
        file does not wait for them: a daemon does this when an upload opens."""
        if self.keep_open:
            pool, exiftool = self._kept = self._kept or self._helpers()
            pool.fill()
            exiftool.start()

    def close(self) -> None:
        """Stop the worker processes and exiftool kept open between runs (with `keep_open`)."""
        if self._kept is not None:
            pool, exiftool = self._kept
            self._kept = None
            pool.close()
            exiftool.close()

    def _worker_failed(
        self,
        job: Job,
        failure: Failure,
        queue: deque[Job],
        ready: deque[tuple[Job, worker.Outcome | None]],
    ) -> None:
        """A worker died or overran with this file: try it again; after two failures record
        it, and when it was opened as an image, identify it once more without that (a file
        that kills the decoder is still catalogued, from its tags, without renditions)."""
        job.attempts += 1
        where = scan.display(job.path)
        if job.attempts < _TRIES:
            log.info("%s: the worker %s; trying once more", where, failure.message)
            queue.appendleft(job)
            return
        reason = f"the worker {failure.message}, twice"
        if job.look:
            job.failures.append(("renditions", reason))
            job.look, job.attempts = False, 0
            queue.appendleft(job)
            return
        ready.append((job, worker.Outcome(errors=[*job.failures, ("identify", reason)])))

    def _note_trouble(self, job: Job, outcome: worker.Outcome) -> None:
        for helper, kind, message in outcome.trouble:
            if helper == "ffmpeg":
                self.health.ffmpeg.problem(kind, f"{message} on {scan.display(job.path)}")

    def _metadata(
        self, exiftool: ExifTool, job: Job, outcome: worker.Outcome | None
    ) -> tuple[metadata.Meta | None, list[tuple[str, str]]]:
        errors = list(outcome.errors) if outcome else []
        unreadable = outcome is not None and (outcome.hash is None or outcome.kind == "unknown")
        if not job.metadata or unreadable:
            return None, errors
        try:
            meta = metadata.read(exiftool, job.path, job.entry.mtime_ns, scan.display(job.path))
            return meta, errors
        except StageError as exc:
            errors.insert(0, (exc.stage, exc.message))
            return None, errors

    # --- storing -------------------------------------------------------------------------

    def _flush(
        self,
        batch: Iterable[tuple[Job, worker.Outcome | None, metadata.Meta | None, list[Any]]],
        run: _Run,
    ) -> None:
        with self.catalog.db.atomic():
            for job, outcome, meta, errors in batch:
                self._store(job, outcome, meta, errors, run)

    def _store(
        self,
        job: Job,
        outcome: worker.Outcome | None,
        meta: metadata.Meta | None,
        errors: list[tuple[str, str]],
        run: _Run,
    ) -> None:
        summary = run.summary
        rel = job.entry.rel
        for stage, message in errors:
            log.warning("%s: %s failed: %s", scan.display(job.path), stage, message)
        if errors:
            summary.failed += 1

        f: Any = None
        if job.known is not None:
            f = File.get_by_id(job.known.id)
        elif outcome is not None and outcome.hash is not None:
            f = self._claim_move(job, outcome.hash, run)
            if f is not None:
                summary.moved += 1
        if f is None:
            f = File(root=job.root, path_key=scan.key(rel), role="original")
            if job.kind == "new":
                summary.new += 1
        elif job.kind == "changed":
            summary.changed += 1
        elif job.kind == "refresh":
            summary.refreshed += 1
        old_photo = f.photo_id
        f.root = job.root
        f.rel_path = scan.display(rel)
        f.rel_path_raw = rel
        f.path_key = scan.key(rel)
        f.stem_key = scan.stem_key(rel)
        f.size = job.entry.size
        f.mtime_ns = job.entry.mtime_ns
        f.indexed_at = utcnow()
        render = False  # its renditions are (again) to be made by the slow phase
        if outcome is not None:
            render = f.id is None or job.kind == "changed" or f.hash != outcome.hash
            f.hash = outcome.hash
            failed_identify = outcome.hash is None or outcome.kind == "unknown"
            f.status = "error" if failed_identify else "present"
            f.v_identify = pipeline.IDENTIFY
            if outcome.kind == "raw":
                f.role = "raw"
            elif outcome.kind == "sidecar":
                f.role = "sidecar"
            elif f.role not in ("original", "live-video"):
                f.role = "original"
            if failed_identify or outcome.kind == "sidecar" or not job.look:
                # nothing to render (or it kills the decoder): as if done, without renditions
                f.v_renditions, f.rendered = pipeline.RENDITIONS, False
            elif render:
                f.v_renditions, f.rendered = 0, False
            kind, animated = outcome.kind, outcome.animated
        else:
            f.status = "present"
            old_meta = grouping.meta_of(f)
            kind, animated = old_meta.get("kind", "unknown"), bool(old_meta.get("animated"))
        if job.metadata:
            meta = dict(meta or metadata.fallback(rel, job.entry.mtime_ns))
            f.v_metadata = pipeline.METADATA
        else:
            meta = grouping.meta_of(f)
        meta["kind"], meta["animated"] = kind, animated
        f.mime = meta.get("mime") or _GUESSED_MIME.get(kind)
        f.content_id = meta.get("content_id")
        f.meta = json.dumps(meta, ensure_ascii=False)
        # A file whose renditions are still what they were keeps its renditions' error.
        self._record_errors(job.root, rel, errors, run, keep=() if render else ("renditions",))
        made = f.status == "present" and f.photo_id is None and grouping.attach(f)
        f.save()
        if f.photo_id is not None and not made:
            grouping.refresh(f.photo)
        if old_photo is not None and old_photo != f.photo_id:
            grouping.refresh(Photo.get_by_id(old_photo))

    def _claim_move(self, job: Job, content_hash: str, run: _Run) -> Any:
        """The catalog row of a file with this content that is gone from where it was: it has
        moved here. Gone means vanished in this run, marked missing earlier, or (when the
        watcher reports the new name before the old one) no longer on disk in this root."""
        for fid, (_, _, known) in run.vanished.items():
            if known.hash == content_hash:
                del run.vanished[fid]
                return File.get_by_id(fid)
        candidates = list(
            File.select()
            .where(
                File.hash == content_hash,
                (File.status == "missing") | ((File.status == "present") & (File.root == job.root)),
            )
            .order_by(File.id)
        )
        return next((f for f in candidates if f.status == "missing"), None) or next(
            (
                f
                for f in candidates
                if not os.path.lexists(os.path.join(job.root_path, f.rel_path_raw))
            ),
            None,
        )

    def _record_errors(
        self,
        root: Any,
        rel: bytes,
        errors: list[tuple[str, str]],
        run: _Run,
        keep: tuple[str, ...] = (),
    ) -> None:
        """Replace the error rows of one path with these (often: none with none), but for
        those of the stages in `keep`."""
        key = scan.key(rel)
        if (root.id, key) in run.erred:
            IngestError.delete().where(
                IngestError.root == root, IngestError.path_key == key,
                IngestError.stage.not_in(keep),
            ).execute()  # fmt: skip
            if not keep:
                run.erred.discard((root.id, key))
        if errors:
            IngestError.insert_many(
                [
                    {"root": root, "rel_path": scan.display(rel), "path_key": key,
                     "stage": stage, "message": message}
                    for stage, message in errors
                ]
            ).execute()  # fmt: skip
            run.erred.add((root.id, key))

    def _mark_missing(self, run: _Run) -> None:
        self._spare_mass_vanishings(run)
        ids = list(run.vanished)
        if not ids:
            return
        with self.catalog.db.atomic():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                File.update(status="missing").where(File.id.in_(chunk)).execute()
                photos = {f.photo_id for f in File.select(File.photo).where(File.id.in_(chunk))}
                for photo in Photo.select().where(Photo.id.in_([p for p in photos if p])):
                    grouping.refresh(photo)
        for _, root_path, known in run.vanished.values():
            log.info("%s: gone; marked missing", scan.display(os.path.join(root_path, known.rel)))
        run.summary.missing += len(ids)

    def _spare_mass_vanishings(self, run: _Run) -> None:
        """A root from which most known files vanished at once is more likely a disk that
        went away than a family that deleted its photos: its files are not marked missing
        (unless `mark_missing` says they were deleted on purpose). A run over a few paths
        (the daemon's) looks at a sample of the root's other files to tell."""
        if self.mark_missing or not run.vanished:
            return
        by_root: dict[int, tuple[Root, list[int]]] = {}
        for fid, (row, _, _) in run.vanished.items():
            by_root.setdefault(row.id, (row, []))[1].append(fid)
        for row, fids in by_root.values():
            if run.walked:
                present = File.select().where(File.root == row, File.status == "present").count()
                mass = len(fids) >= _MASS_VANISH and 2 * len(fids) > present
                told = f"{len(fids)} of {present}"
            else:
                gone, looked = _sample_gone(row, set(fids))
                mass = looked >= 4 and 2 * gone > looked
                told = f"{gone} of {looked} looked at"
            if not mass:
                continue
            for fid in fids:
                del run.vanished[fid]
            self._leave_alone(
                row,
                f"most files of library root {row.path} vanished at once ({told}): none is "
                f"marked missing (is its disk mounted?); if they were deleted on purpose, run "
                f"`shoebox index --mark-missing {row.path}`",
                run,
            )


def _sample_gone(row: Root, skip: set[int], want: int = 32) -> tuple[int, int]:
    """Of up to `want` present files of the root picked at random (besides `skip`), how
    many are gone from disk, and how many were looked at. Random ids keep it one indexed
    lookup at any catalog size."""
    low, high = (
        File.select(fn.MIN(File.id), fn.MAX(File.id)).where(File.root == row).scalar(as_tuple=True)
    )
    if low is None:
        return 0, 0
    base = os.fsencode(row.path)
    rng = random.Random()  # noqa: S311 - a sample of files, not a secret
    gone = looked = 0
    for _ in range(4):
        ids = {rng.randint(low, high) for _ in range(want * 2)} - skip
        query = File.select(File.id, File.rel_path_raw).where(
            File.id.in_(list(ids)), File.root == row, File.status == "present"
        )
        for fid, rel in cast(Iterable[tuple[int, bytes]], query.tuples()):
            skip.add(fid)
            looked += 1
            gone += not os.path.lexists(os.path.join(base, bytes(rel)))
        if looked >= want:
            break
    return gone, looked


def rendition_spec(settings: Settings) -> RenditionSpec:
    """What the workers need to know to render (and what the fast phase's workers carry)."""
    ing, ren = settings.ingest, settings.renditions
    return RenditionSpec(
        cache=settings.library.cache,
        tile_size=ren.tile_size,
        preview_size=ren.preview_size,
        quality=ren.quality,
        max_pixels=ing.max_pixels,
        ffmpeg=ing.ffmpeg,
        video_timeout=ing.video_timeout,
    )


def worker_count(settings: Settings) -> int:
    """How many worker processes a phase runs: `[ingest] workers`, else one a core."""
    return settings.ingest.workers or os.cpu_count() or 1


def deadline(settings: Settings, size: int) -> float:
    """Seconds a worker may take for a file of `size` bytes: reading a big file takes longer."""
    return settings.ingest.file_timeout + size / _READ_RATE


def root_row(root: Path) -> Root:
    """The catalog's row for a library root, made on first use."""
    row: Root
    row, _ = Root.get_or_create(path_key=scan.key(os.fsencode(root)), defaults={"path": str(root)})
    return row


_GUESSED_MIME = {"image": "image/unknown", "raw": "image/x-raw", "video": "video/unknown"}
