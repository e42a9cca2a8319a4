"""The durable ingest queue: "this path needs (re)indexing", kept in the catalog.

A request is written before any work starts, so a crash or `kill -9` loses nothing: the next
start finds it again. One row per path: asking again pushes the row's due time back (a file
still being written is indexed once, when it has been quiet) and raises its generation, so a
path that changes while a daemon works on it is indexed once more afterwards. Several daemons
may share one MariaDB queue: claims use `FOR UPDATE SKIP LOCKED`, so no job is taken twice.
On SQLite an IMMEDIATE transaction does the same for the processes of one machine.

A claim carries its daemon's worker id, `host/pid/random`, unique per process. A daemon that
dies (`kill -9`) leaves its claims: a daemon starting on the same host gives back those of
processes that no longer run there at once; any other daemon takes them once they are older
than the stale-claim time.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from collections.abc import Iterable
from typing import Any, cast

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


def worker_id() -> str:
    """A claim's owner: this host, this process and a random part (a pid is reused)."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}/{secrets.token_hex(4)}"


def release(db: Any, worker: str) -> None:
    """Give back every claim of `worker` (a batch that failed, to be tried again)."""
    QueuedPath.update(claimed_by=None, claimed_at=None, claimed_generation=None).where(
        QueuedPath.claimed_by == worker
    ).execute()


def release_dead(db: Any, worker: str) -> int:
    """Give back the claims of daemons on this host whose process is gone (a `kill -9`), or
    whose pid this process now has; returns how many."""
    host, pid, _ = worker.split("/")
    owners = QueuedPath.select(QueuedPath.claimed_by).where(
        QueuedPath.claimed_by.startswith(host + "/")
    )
    dead = {
        owner
        for (owner,) in cast(Iterable[tuple[str]], owners.distinct().tuples())
        if owner != worker and not _alive(owner.split("/")[1], pid)
    }
    if not dead:
        return 0
    return int(
        QueuedPath.update(claimed_by=None, claimed_at=None, claimed_generation=None)
        .where(QueuedPath.claimed_by.in_(list(dead)))
        .execute()
    )


def _alive(pid: str, mine: str) -> bool:
    if not pid.isdigit() or pid == mine:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def next_due(worker: str, stale_after: float) -> dt.datetime | None:
    """When `worker` may next find a job to claim: the earliest due time of those not
    claimed, or the time another daemon's claim turns stale (None: nothing to wait for)."""
    free = (
        QueuedPath.select(QueuedPath.due_at)
        .where(QueuedPath.claimed_by.is_null())
        .order_by(QueuedPath.due_at)
        .limit(1)
        .scalar()
    )
    held = (
        QueuedPath.select(QueuedPath.claimed_at)
        .where(QueuedPath.claimed_by != worker)
        .order_by(QueuedPath.claimed_at)
        .limit(1)
        .scalar()
    )
    times = [t for t in (free, held and held + dt.timedelta(seconds=stale_after)) if t]
    return min(times) if times else None


def length() -> int:
    return int(QueuedPath.select().count())
