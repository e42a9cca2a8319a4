"""The distinct values of an indexed photo column, and which of them hold a user's text.

A filter that tests "contains" (`camera:canon`, `lens:rf`) on every photo reads a million rows
at a million photos, while a library has a few dozen cameras and lenses. `distinct` finds the
values by skipping through the column's index (a loose index scan on MariaDB, a seek a value
on SQLite), and tells for each whether it holds the text, as the database's
LIKE and the column's collation decide (so `camera:` finds what it found before); the search
then asks for the photos of the matching values, which the index gives in timeline order.
"""

from __future__ import annotations

from typing import Any

from peewee import Field, MySQLDatabase

from shoebox.catalog.models import Photo

_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """The LIKE pattern (with `_ESCAPE`) that finds `text` anywhere, as Peewee's `contains`."""
    escaped = text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"%{escaped}%"


def distinct(columns: tuple[Field, ...], texts: list[str]) -> list[tuple[tuple[Any, ...], bool]]:
    """(values, whether one of them holds one of `texts`) for every distinct combination of
    the photo `columns` (None for no value), which must start an index of the photo table.
    MariaDB skips through the index by itself for a GROUP BY (a loose index scan); SQLite is
    asked for each next value, one seek each (a recursive query a column)."""
    db = Photo._meta.database
    if isinstance(db, MySQLDatabase):
        names = ", ".join(c.column_name for c in columns)
        holds = " OR ".join(_like(c.column_name, db.param) for c in columns for _ in texts)
        sql = f"SELECT {names}, {holds} FROM photo GROUP BY {names}"  # noqa: S608
        patterns = [part for _ in columns for text in texts for part in _pattern(text)]
        rows = list(db.execute_sql(sql, patterns).fetchall())
        return [(tuple(row[:-1]), bool(row[-1])) for row in rows]
    return _skip(db, columns, texts, ())


def _like(name: str, p: str) -> str:
    return f"{name} LIKE {p} ESCAPE {p}"


def _pattern(text: str) -> tuple[str, str]:
    return like_pattern(text), _ESCAPE


def _skip(
    db: Any, columns: tuple[Field, ...], texts: list[str], prefix: tuple[tuple[Field, Any], ...]
) -> list[tuple[tuple[Any, ...], bool]]:
    """SQLite: the distinct values of the next column among the photos whose `prefix` columns
    hold the values given, then of the columns after it."""
    column = columns[len(prefix)]
    found = []
    for value, holds in _values(db, column, texts, prefix):
        if len(prefix) + 1 == len(columns):
            found.append(((*(v for _, v in prefix), value), holds))
        else:
            for values, later in _skip(db, columns, texts, (*prefix, (column, value))):
                found.append((values, holds or later))
    return found


def _values(
    db: Any, column: Field, texts: list[str], prefix: tuple[tuple[Field, Any], ...]
) -> list[tuple[Any, bool]]:
    p = db.param
    name = column.column_name
    where = "".join(
        f"{c.column_name} IS NULL AND " if value is None else f"{c.column_name} = {p} AND "
        for c, value in prefix
    )
    bound = [value for _, value in prefix if value is not None]
    holds = " OR ".join(_like("x", p) for _ in texts)
    # only column names of the model and placeholders go into the text
    sql = (
        f"WITH RECURSIVE v(x) AS ("  # noqa: S608
        f" SELECT (SELECT {name} FROM photo WHERE {where}{name} IS NOT NULL"
        f" ORDER BY {name} LIMIT 1)"
        f" UNION ALL"
        f" SELECT (SELECT {name} FROM photo WHERE {where}{name} > v.x ORDER BY {name} LIMIT 1)"
        f" FROM v WHERE v.x IS NOT NULL)"
        f" SELECT x, {holds} FROM v WHERE x IS NOT NULL"
    )
    patterns = [part for text in texts for part in _pattern(text)]
    rows = list(db.execute_sql(sql, [*bound, *bound, *patterns]).fetchall())
    found = [(value, bool(matched)) for value, matched in rows]
    nulls = f"SELECT 1 FROM photo WHERE {where}{name} IS NULL LIMIT 1"  # noqa: S608
    if db.execute_sql(nulls, bound).fetchone() is not None:
        found.append((None, False))
    return found
