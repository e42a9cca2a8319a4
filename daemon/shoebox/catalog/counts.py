"""The photo counts kept up to date (`PhotoCount`): the timeline's total and its month column
read from a few thousand rows instead of counting a million photos.

`photo_count` holds, for each (year, month, owner, visibility, listed), how many photos there
are; `listed` is what the timeline shows when a query names no filter: neither archived nor
missing, and no burst's other shots (`search.Query.where`). Triggers on `photo` keep it
(`install`, migration 15): an insert adds one to its row, a delete takes one away (and deletes
a row that falls to 0), an update that changes any of those columns does both. They fire in
the writer's transaction, so a reader sees the counts of the photos it sees.

MariaDB fires no trigger for a foreign key's own action (`ON DELETE SET NULL` of the owner):
whoever deletes an account clears its photos' owner with an UPDATE first
(`shoebox.sftp.accounts.remove`). On SQLite the action fires them, and the UPDATE first does
no harm. With binary logging on, MariaDB lets only a user with SUPER make triggers unless
`log_bin_trust_function_creators` is set (Debian's server logs no binaries by default).

`total` and `months` answer a query with no filter (None for any other: `shoebox.catalog.
search` counts those itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peewee import MySQLDatabase, fn

from shoebox.catalog import visibility
from shoebox.catalog.models import PhotoCount

if TYPE_CHECKING:
    from shoebox.catalog.search import Query

_KEY = ("year", "month", "owner_key", "visibility", "listed")
_TRIGGERS = ("photo_count_insert", "photo_count_delete", "photo_count_update")
_LISTED = True  # compared as a value, so linters leave `== True` alone


def _values(row: str) -> tuple[str, ...]:
    """The key of the photo `row` (NEW, OLD or photo) as SQL, in `_KEY`'s order."""
    listed = (
        f"({row}.archived = 0 AND {row}.missing = 0 AND "
        f"({row}.burst_of IS NULL OR {row}.burst_of = {row}.id))"
    )
    return (f"{row}.year", f"{row}.month", f"COALESCE({row}.owner_id, 0)", f"{row}.visibility",
            listed)  # fmt: skip


def _add(db: Any, row: str) -> str:
    columns = ", ".join((*_KEY, "photos"))
    values = ", ".join((*_values(row), "1"))
    insert = f"INSERT INTO photo_count ({columns}) VALUES ({values})"  # noqa: S608 - fixed text
    if isinstance(db, MySQLDatabase):
        return f"{insert} ON DUPLICATE KEY UPDATE photos = photos + 1;"
    return f"{insert} ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET photos = photos + 1;"


def _take(row: str) -> str:
    match = " AND ".join(f"{k} = {v}" for k, v in zip(_KEY, _values(row), strict=True))
    return (
        f"UPDATE photo_count SET photos = photos - 1 WHERE {match}; "  # noqa: S608 - fixed text
        f"DELETE FROM photo_count WHERE {match} AND photos <= 0;"
    )


def install(db: Any) -> None:
    """(Re)make the triggers, then count every photo afresh: safe to run again after a crash
    (MariaDB commits each CREATE TRIGGER by itself)."""
    mysql = isinstance(db, MySQLDatabase)
    for name in _TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    each = "FOR EACH ROW " if mysql else ""
    db.execute_sql(f"CREATE TRIGGER photo_count_insert AFTER INSERT ON photo {each}"
                   f"BEGIN {_add(db, 'NEW')} END")  # fmt: skip
    db.execute_sql(f"CREATE TRIGGER photo_count_delete AFTER DELETE ON photo {each}"
                   f"BEGIN {_take('OLD')} END")  # fmt: skip
    same = " AND ".join(
        f"{old} <=> {new}" if mysql else f"{old} IS {new}"
        for old, new in zip(_values("OLD"), _values("NEW"), strict=True)
    )
    move = f"{_take('OLD')} {_add(db, 'NEW')}"
    if mysql:
        db.execute_sql(f"CREATE TRIGGER photo_count_update AFTER UPDATE ON photo FOR EACH ROW "
                       f"BEGIN IF NOT ({same}) THEN {move} END IF; END")  # fmt: skip
    else:
        db.execute_sql(f"CREATE TRIGGER photo_count_update AFTER UPDATE ON photo "
                       f"WHEN NOT ({same}) BEGIN {move} END")  # fmt: skip
    recount(db)


def recount(db: Any) -> None:
    """Count every photo afresh (in the caller's transaction)."""
    key = _values("photo")
    db.execute_sql("DELETE FROM photo_count")
    db.execute_sql(
        f"INSERT INTO photo_count ({', '.join((*_KEY, 'photos'))}) "  # noqa: S608 - fixed text
        f"SELECT {', '.join(key)}, COUNT(*) FROM photo GROUP BY {', '.join(key)}"
    )


def _where(query: Query) -> list[Any] | None:
    """The conditions on `photo_count` for a query without filters (None: it has filters)."""
    if query.filters is not None:
        return None
    where = [] if query.everything else [PhotoCount.listed == _LISTED]
    seen = visibility.visible_in(query.viewer, PhotoCount.visibility, PhotoCount.owner_key)
    return where if seen is None else [*where, seen]


def total(query: Query) -> int | None:
    """How many photos a query without filters finds (None for a query with filters)."""
    where = _where(query)
    if where is None:
        return None
    select = PhotoCount.select(fn.SUM(PhotoCount.photos))
    found = (select.where(*where) if where else select).scalar()
    return int(found or 0)


def months(query: Query) -> list[tuple[int, int, int]] | None:
    """(year, month, photos) for every month a query without filters finds, newest first
    (None for a query with filters)."""
    where = _where(query)
    if where is None:
        return None
    select = PhotoCount.select(PhotoCount.year, PhotoCount.month, fn.SUM(PhotoCount.photos))
    grouped = (
        (select.where(*where) if where else select)
        .group_by(PhotoCount.year, PhotoCount.month)
        .order_by(PhotoCount.year.desc(), PhotoCount.month.desc())
    )
    rows: list[Any] = list(grouped.tuples())
    return [(int(y), int(m), int(n)) for y, m, n in rows]
