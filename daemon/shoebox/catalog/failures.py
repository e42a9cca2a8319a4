"""Password attempts counted in the catalog, for the back-off of `shoebox.guard`: the rules are
there, the counting is here.

A record is a scope and a subject (("login-address", "203.0.113.9"), ("login-account",
"alice"), ...) with how many attempts it counts and when the last was counted. `reserve`
counts one attempt on several records at once, and only if none of them must still wait, in
one transaction that holds their rows against every other writer (BEGIN IMMEDIATE on SQLite,
SELECT ... FOR UPDATE on MariaDB, rows locked in key order). Two viewer processes, the SFTP
endpoint and thirty threads therefore cannot all read "2 failures" and all go on to check a
password. A crash between `reserve` and `give_back` leaves the attempt counted: a failure,
which is the safe side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from peewee import MySQLDatabase

from shoebox.catalog.models import FailureCount
from shoebox.printable import printable

Key = tuple[str, str]  # (scope, subject)
PRUNE_BATCH = 100  # stale rows deleted after each failure, at most


def reserve(
    keys: Sequence[Key], now: float, *, fresh_after: float, wait: Callable[[Key, int, float], float]
) -> float:
    """Count one attempt at `now` on each of `keys`, if `wait(key, failures, last_at)` is 0 for
    all of them (a record last counted before `fresh_after` has 0 failures); otherwise count
    nothing. Returns 0 when counted, else the longest wait in seconds."""
    by_digest = {_digest(key): key for key in keys}
    FailureCount.insert_many(
        [
            {
                "key": digest,
                "scope": key[0],
                "subject": printable(key[1])[:255],
                "failures": 0,
                "last_at": 0,
            }
            for digest, key in sorted(by_digest.items())
        ]
    ).on_conflict_ignore().execute()
    db = FailureCount._meta.database
    mysql = isinstance(db, MySQLDatabase)
    with db.atomic() if mysql else db.atomic("IMMEDIATE"):
        query = FailureCount.select().where(FailureCount.key.in_(list(by_digest)))
        query = query.order_by(FailureCount.key)
        rows = list(query.for_update() if mysql else query)
        counts = {row.key: (row.failures if row.last_at >= fresh_after else 0) for row in rows}
        longest = max(wait(by_digest[row.key], counts[row.key], row.last_at) for row in rows)
        if longest > 0:
            return longest
        for row in rows:
            FailureCount.update(failures=counts[row.key] + 1, last_at=now).where(
                FailureCount.id == row.id
            ).execute()
    return 0.0


def give_back(key: Key) -> None:
    """Uncount one attempt of `key` (its password was right)."""
    FailureCount.update(failures=FailureCount.failures - 1).where(
        (FailureCount.key == _digest(key)) & (FailureCount.failures > 0)
    ).execute()


def clear(key: Key) -> None:
    """Forget every attempt of `key`."""
    FailureCount.delete().where(FailureCount.key == _digest(key)).execute()


def prune(before: float) -> None:
    """Delete records last counted before `before`, a few at a time, one row per statement (so
    that it never holds one row while waiting for another that `reserve` holds)."""
    query = FailureCount.select(FailureCount.key).where(FailureCount.last_at < before)
    stale: list[str] = [row.key for row in query.limit(PRUNE_BATCH)]
    for digest in stale:
        FailureCount.delete().where(
            (FailureCount.key == digest) & (FailureCount.last_at < before)
        ).execute()


def _digest(key: Key) -> str:
    return hashlib.sha256(f"{key[0]}\0{key[1]}".encode("utf-8", "surrogatepass")).hexdigest()
