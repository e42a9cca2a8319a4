"""The durable ingest queue: "this path needs (re)indexing", kept in the catalog.

A request is written before any work starts, so a crash or `kill -9` loses nothing: the next
start finds it again. One row per path: asking again pushes the row's due time back (a file
still being written is indexed once, when it has been quiet) and raises its generation, so a
path that changes while a daemon works on it is indexed once more afterwards. Several daemons
may share one MariaDB queue: claims use `FOR UPDATE SKIP LOCKED`, so no job is taken twice.
On SQLite an IMMEDIATE transaction does the same for the processes of one machine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from peewee import MySQLDatabase

from shoebox.catalog.models import QueuedPath, utcnow
from shoebox.ingest import scan


def enqueue(db: Any, root: Any, rel: bytes, reason: str, delay: float = 0.0) -> None:
    """Ask for `rel` under `root` to be indexed, no sooner than `delay` seconds from now."""
    due = utcnow() + dt.timedelta(seconds=delay)
    insert = QueuedPath.insert(
        root=root, rel_path_raw=rel, path_key=scan.key(rel), reason=reason, due_at=due
    )
    update = {
        QueuedPath.generation: QueuedPath.generation + 1,
        QueuedPath.due_at: due,
        QueuedPath.reason: reason,
    }
    if isinstance(db, MySQLDatabase):
        insert.on_conflict(update=update).execute()
    else:
        insert.on_conflict(
            conflict_target=[QueuedPath.root, QueuedPath.path_key], update=update
        ).execute()


def claim(db: Any, worker: str, limit: int, stale_after: float = 600.0) -> list[QueuedPath]:
    """Take up to `limit` due jobs for `worker`. A claim older than `stale_after` seconds
    belongs to a daemon that died, and may be taken again."""
    now = utcnow()
    free = QueuedPath.claimed_by.is_null() | (
        QueuedPath.claimed_at < now - dt.timedelta(seconds=stale_after)
    )
    query = (
        QueuedPath.select()
        .where(free, QueuedPath.due_at <= now)
        .order_by(QueuedPath.due_at, QueuedPath.id)
        .limit(limit)
    )
    mysql = isinstance(db, MySQLDatabase)
    with db.atomic() if mysql else db.atomic("IMMEDIATE"):
        jobs = list(query.for_update(skip_locked=True) if mysql else query)
        if jobs:
            QueuedPath.update(
                claimed_by=worker, claimed_at=now, claimed_generation=QueuedPath.generation
            ).where(QueuedPath.id.in_([j.id for j in jobs])).execute()
    return jobs


def finish(db: Any, jobs: Iterable[QueuedPath]) -> None:
    """Done with these jobs: drop each, unless it was asked for again meanwhile."""
    with db.atomic():
        for job in jobs:
            gone = (
                QueuedPath.delete()
                .where(QueuedPath.id == job.id, QueuedPath.generation == job.generation)
                .execute()
            )
            if not gone:
                QueuedPath.update(claimed_by=None, claimed_at=None, claimed_generation=None).where(
                    QueuedPath.id == job.id
                ).execute()


def release(db: Any, worker: str) -> None:
    """Give back every claim of `worker` (a daemon starting again after a crash)."""
    QueuedPath.update(claimed_by=None, claimed_at=None, claimed_generation=None).where(
        QueuedPath.claimed_by == worker
    ).execute()


def length() -> int:
    return int(QueuedPath.select().count())
