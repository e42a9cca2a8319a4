"""The durable queue on SQLite and MariaDB: one row per path, due times, claims, generations."""

from __future__ import annotations

import datetime as dt

from conftest import Library
from shoebox.catalog import queue
from shoebox.catalog.models import QueuedPath
from shoebox.ingest.run import root_row


def test_asking_twice_is_one_job_done_once(library: Library) -> None:
    db, root = library.catalog.db, root_row(library.root)
    queue.enqueue(db, root, b"a.jpg", "watch")
    queue.enqueue(db, root, b"a.jpg", "watch")
    queue.enqueue(db, root, b"later.jpg", "watch", delay=3600)
    assert queue.length() == 2
    (job,) = queue.claim(db, "one", 10)  # later.jpg is not due
    assert bytes(job.rel_path_raw) == b"a.jpg"
    assert queue.claim(db, "two", 10) == []  # taken: nobody else gets it
    queue.finish(db, [job])
    assert [bytes(q.rel_path_raw) for q in QueuedPath.select()] == [b"later.jpg"]


def test_a_path_asked_for_while_in_hand_is_done_again(library: Library) -> None:
    db, root = library.catalog.db, root_row(library.root)
    queue.enqueue(db, root, b"a.jpg", "watch")
    (job,) = queue.claim(db, "one", 10)
    queue.enqueue(db, root, b"a.jpg", "watch")  # changed again while being indexed
    queue.finish(db, [job])
    (again,) = queue.claim(db, "one", 10)
    assert again.generation == job.generation + 1
    queue.finish(db, [again])
    assert queue.length() == 0


def test_claims_of_a_dead_daemon_come_back(library: Library) -> None:
    db, root = library.catalog.db, root_row(library.root)
    queue.enqueue(db, root, b"a.jpg", "upload")
    queue.enqueue(db, root, b"b.jpg", "upload")
    assert len(queue.claim(db, "host", 1)) == 1
    queue.release(db, "host")  # the same host starting again
    assert len(queue.claim(db, "host", 10)) == 2
    old = dt.datetime(2000, 1, 1)
    QueuedPath.update(claimed_at=old).execute()  # a claim from another host, long ago
    assert len(queue.claim(db, "other", 10)) == 2
