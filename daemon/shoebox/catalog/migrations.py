"""Numbered schema migrations, applied in order by `shoebox migrate` and at start-up.

`schema_version` records each migration applied. Migration 1 creates the tables as `models`
declares them today; the test `test_fresh_schema_matches_models` fails the day a later
migration changes a model, which is the day migration 1 must get a frozen copy of its models.
A lock (GET_LOCK on MariaDB, an IMMEDIATE transaction on SQLite) keeps two processes that start
together from migrating twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from peewee import CharField, DateTimeField, IntegerField, Model, MySQLDatabase

from shoebox.catalog.models import MODELS

Migration = tuple[int, str, Callable[[Any], None]]


def _0001_initial(db: Any) -> None:
    with db.bind_ctx(MODELS):
        db.create_tables(MODELS)


MIGRATIONS: tuple[Migration, ...] = ((1, "initial", _0001_initial),)
LATEST = MIGRATIONS[-1][0]


class SchemaVersion(Model):
    version = IntegerField(primary_key=True)
    name = CharField(100)
    applied_at = DateTimeField()

    class Meta:
        table_name = "schema_version"


def current_version(db: Any) -> int:
    with db.bind_ctx([SchemaVersion]):
        if not SchemaVersion.table_exists():
            return 0
        found = (
            SchemaVersion.select(SchemaVersion.version)
            .order_by(SchemaVersion.version.desc())
            .first()
        )
        return int(found.version) if found else 0


def migrate(db: Any) -> list[str]:
    """Apply every pending migration; return the names applied (empty when up to date)."""
    applied: list[str] = []
    with db.bind_ctx([SchemaVersion]):
        if isinstance(db, MySQLDatabase):
            db.execute_sql("SELECT GET_LOCK('shoebox_migrate', 60)")
            try:
                applied = _apply(db)
            finally:
                db.execute_sql("SELECT RELEASE_LOCK('shoebox_migrate')")
        else:
            with db.atomic("IMMEDIATE"):
                applied = _apply(db)
    return applied


def _apply(db: Any) -> list[str]:
    SchemaVersion.create_table(safe=True)
    done = {row.version for row in SchemaVersion.select(SchemaVersion.version)}
    applied = []
    for number, name, step in MIGRATIONS:
        if number in done:
            continue
        with db.atomic():
            step(db)
            SchemaVersion.create(
                version=number,
                name=name,
                applied_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        applied.append(f"{number:04d}_{name}")
    return applied
