"""What `shoebox status` tells, read from the catalog: the daemons and how they last said
they were, the queue, partial uploads, roots left alone, what is indexed (and of that, what
waits for its renditions) and what failed.

A daemon writes its row (`DaemonState`) when its state changes and at least once a minute;
one that has said nothing for three minutes is reported as silent: it hangs, or it was
killed without a word.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

from shoebox.catalog import pending
from shoebox.catalog.models import (
    DaemonState,
    File,
    IngestError,
    Photo,
    QueuedPath,
    Root,
    Upload,
    utcnow,
)
from shoebox.ingest import scan

SILENT_AFTER = dt.timedelta(minutes=3)


@dataclass(frozen=True)
class Daemon:
    worker: str
    state: str
    started_at: dt.datetime
    seen_at: dt.datetime
    detail: dict[str, Any]

    @property
    def silent(self) -> bool:
        """Said nothing for too long while it should be running."""
        return self.state != "stopped" and utcnow() - self.seen_at > SILENT_AFTER


@dataclass(frozen=True)
class PartialUpload:
    path: str  # root/relative path, for display
    account: str
    started_at: dt.datetime
    overdue: bool  # waited longer than `[sftp] resume_days`


@dataclass
class Report:
    daemons: list[Daemon] = field(default_factory=list)
    queued: int = 0
    due: int = 0  # of those, due now and not claimed
    claimed: int = 0
    files: int = 0
    waiting: int = 0  # of those, waiting for their renditions
    photos: int = 0
    last_indexed: dt.datetime | None = None
    partial_uploads: list[PartialUpload] = field(default_factory=list)
    roots_left_alone: list[tuple[str, str]] = field(default_factory=list)  # (root, why)
    errors: int = 0
    recent_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (path, stage, msg)


def report(resume_days: int, *, recent: int = 5) -> Report:
    """The catalog's state as `shoebox status` prints it."""
    now = utcnow()
    out = Report()
    out.daemons = [
        Daemon(d.worker, d.state, d.started_at, d.seen_at, json.loads(d.detail or "{}"))
        for d in DaemonState.select().order_by(DaemonState.seen_at.desc()).limit(10)
    ]
    out.queued = QueuedPath.select().count()
    out.due = (
        QueuedPath.select().where(QueuedPath.claimed_by.is_null(), QueuedPath.due_at <= now).count()
    )
    out.claimed = QueuedPath.select().where(QueuedPath.claimed_by.is_null(False)).count()
    out.files = File.select().where(File.status == "present").count()
    out.waiting = pending.count()
    out.photos = Photo.select().where(Photo.missing == False).count()  # noqa: E712
    last = File.select(File.indexed_at).order_by(File.indexed_at.desc()).first()
    out.last_indexed = last.indexed_at if last else None
    overdue = now - dt.timedelta(days=resume_days)
    for upload in Upload.select(Upload, Root).join(Root).order_by(Upload.started_at):
        where = os.path.join(upload.root.path, scan.display(bytes(upload.rel_path_raw)))
        out.partial_uploads.append(
            PartialUpload(where, upload.account, upload.started_at, upload.started_at < overdue)
        )
    out.roots_left_alone = [
        (r.path, str(r.left_alone)) for r in Root.select().where(Root.left_alone.is_null(False))
    ]
    out.errors = IngestError.select().count()
    rows = IngestError.select(IngestError, Root).join(Root).order_by(IngestError.id.desc())
    out.recent_errors = [
        (f"{e.root.path}/{e.rel_path}", e.stage, e.message) for e in rows.limit(recent)
    ]
    return out
