"""The distinct values of an indexed photo column, and which of them hold a user's text.

A filter that tests "contains" (`camera:canon`, `lens:rf`) on every photo reads a million rows
at a million photos, while a library has a few dozen cameras and lenses. `distinct` finds the
values by skipping through the column's index, one seek a value (a recursive query, the same
SQL on SQLite and MariaDB), and tells for each whether it holds the text, as the database's
LIKE and the column's collation decide (so `camera:` finds what it found before); the search
then asks for the photos of the matching values, which the index gives in timeline order.
"""

from __future__ import annotations

from typing import Any

from peewee import Field

from shoebox.catalog.models import Photo

_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """The LIKE pattern (with `_ESCAPE`) that finds `text` anywhere, as Peewee's `contains`."""
    escaped = text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"%{escaped}%"


def distinct(
    column: Field, texts: list[str], prefix: tuple[tuple[Field, Any], ...] = ()
) -> list[tuple[Any, bool]]:
    """(value, whether it holds one of `texts`) for every value of the photo `column` (None
    last, when some photo has none) among the photos whose `prefix` columns hold the values
    given (None: no value). The columns of `prefix`, then `column`, must start an index of the
    photo table."""
    db = Photo._meta.database
    p = db.param
    name = column.column_name
    where = "".join(
        f"{c.column_name} IS NULL AND " if value is None else f"{c.column_name} = {p} AND "
        for c, value in prefix
    )
    bound = [value for _, value in prefix if value is not None]
    holds = " OR ".join(f"x LIKE {p} ESCAPE {p}" for _ in texts)
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
    patterns = [part for text in texts for part in (like_pattern(text), _ESCAPE)]
    rows = list(db.execute_sql(sql, [*bound, *bound, *patterns]).fetchall())
    found = [(value, bool(matched)) for value, matched in rows]
    nulls = f"SELECT 1 FROM photo WHERE {where}{name} IS NULL LIMIT 1"  # noqa: S608
    if db.execute_sql(nulls, bound).fetchone() is not None:
        found.append((None, False))
    return found
