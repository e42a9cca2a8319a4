"""Numbered schema migrations, applied in order by `shoebox migrate` and at start-up.

`schema_version` records each migration applied. A migration that creates tables names the
models it creates; once a later migration changes one of them, the earlier migration gets a
frozen copy of that model as it was (`_AccountV1`). The test `test_fresh_schema_matches_models`
proves that the migrations, applied in order, end where `models` is today.
Numbers are handed out ahead of the work, so the list may skip one for a while: `_apply`
applies each missing one, in the order listed.
A lock (GET_LOCK on MariaDB, an IMMEDIATE transaction on SQLite) keeps two processes that start
together from migrating twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FixedCharField,
    FloatField,
    IntegerField,
    Model,
    MySQLDatabase,
    SmallIntegerField,
    TextField,
)
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migration

from shoebox.catalog import text
from shoebox.catalog.models import (
    Album,
    AlbumPhoto,
    BaseModel,
    DaemonState,
    Enriched,
    Face,
    FaceRejection,
    FailureCount,
    File,
    IngestError,
    Label,
    LongTextField,
    NotFace,
    Person,
    Photo,
    PhotoText,
    Place,
    QueuedPath,
    Secret,
    Session,
    Share,
    Suggestion,
    SuggestionFace,
    Upload,
    utcnow,
)

Migration = tuple[int, str, Callable[[Any], None]]


class _AccountV1(BaseModel):
    name = CharField(64, unique=True)
    password_hash = TextField(null=True)
    authorized_keys = TextField(default="")
    folder = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "account"


class _RootV1(BaseModel):
    path = TextField()
    path_key = FixedCharField(32, unique=True)

    class Meta:
        table_name = "root"


class _PhotoV1(BaseModel):
    """`Photo` before migration 9 (zones, software, sources)."""

    type = CharField(16)
    thumb_hash = FixedCharField(64, null=True)
    taken_at = DateTimeField()
    taken_at_local = DateTimeField()
    taken_at_source = CharField(32)
    timezone = CharField(8, null=True)
    year = SmallIntegerField()
    month = SmallIntegerField()
    lat = FloatField(null=True)
    lng = FloatField(null=True)
    altitude = FloatField(null=True)
    camera_make = CharField(100, null=True)
    camera_model = CharField(100, null=True)
    lens_model = CharField(255, null=True)
    iso = IntegerField(null=True)
    exposure_time = FloatField(null=True)
    f_number = FloatField(null=True)
    focal_length = FloatField(null=True)
    focal_length_35mm = FloatField(null=True)
    width = IntegerField(null=True)
    height = IntegerField(null=True)
    orientation = SmallIntegerField(null=True)
    duration = FloatField(null=True)
    codec = CharField(32, null=True)
    fps = FloatField(null=True)
    title = TextField(null=True)
    description = TextField(null=True)
    keywords = TextField(null=True)
    artist = TextField(null=True)
    copyright = TextField(null=True)
    rating = SmallIntegerField(null=True)
    content_id = CharField(100, null=True)
    favorite = BooleanField(default=False)
    archived = BooleanField(default=False)
    missing = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "photo"
        indexes = (
            (("archived", "missing", "taken_at"), False),
            (("year", "month", "archived", "missing", "taken_at"), False),
            (("camera_make", "camera_model", "archived", "missing", "taken_at"), False),
            (("favorite", "archived", "missing", "taken_at"), False),
        )


def _create(db: Any, models: tuple[type[Model], ...]) -> None:
    with db.bind_ctx(models):
        db.create_tables(models)


def _0001_initial(db: Any) -> None:
    _create(db, (_RootV1, _PhotoV1, File, IngestError, QueuedPath, _AccountV1))


def _0002_viewer(db: Any) -> None:
    migrator = SchemaMigrator.from_database(db)
    run_migration(migrator.add_column("account", "role", CharField(16, default="member")))
    _create(db, (Upload, Session, Album, AlbumPhoto, Share, Secret))


def _0003_later_stages(db: Any) -> None:
    _create(db, (PhotoText, Enriched, Place, Person, Face, FaceRejection, Label))
    with db.bind_ctx((Photo, File, PhotoText)):
        text.rebuild()  # the photos of an older catalog


def _0004_roots_and_daemons(db: Any) -> None:
    migrator = SchemaMigrator.from_database(db)
    run_migration(
        migrator.add_column("root", "device", BigIntegerField(null=True)),
        migrator.add_column("root", "fsid", CharField(16, null=True)),
        migrator.add_column("root", "left_alone", TextField(null=True)),
    )
    _create(db, (DaemonState,))


def _0005_failure_counts(db: Any) -> None:
    _create(db, (FailureCount,))


def _0008_people_suggestions(db: Any) -> None:
    _create(db, (NotFace, Suggestion, SuggestionFace))


def _0009_zones_and_sources(db: Any) -> None:
    """The IANA zone, the software and the sources of each field of a photo; and, on MariaDB,
    room for more than 64 KB in a file's metadata and a photo's search text (their TEXT
    columns become MEDIUMTEXT; SQLite's TEXT has no such limit)."""
    migrator = SchemaMigrator.from_database(db)
    steps = [
        migrator.add_column("photo", "timezone_name", CharField(64, null=True)),
        migrator.add_column("photo", "software", CharField(100, null=True)),
        migrator.add_column("photo", "sources", TextField(null=True)),
    ]
    if isinstance(db, MySQLDatabase):
        steps += [
            migrator.alter_column_type("file", "meta", LongTextField(null=True)),
            migrator.alter_column_type("photo_text", "text", LongTextField()),
        ]
    run_migration(*steps)


# Numbers may have gaps while branches that add migrations are merged: each one is applied
# once, by number, whatever else has been applied.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial", _0001_initial),
    (2, "viewer", _0002_viewer),
    (3, "later_stages", _0003_later_stages),
    (4, "roots_and_daemons", _0004_roots_and_daemons),
    (5, "failure_counts", _0005_failure_counts),
    (8, "people_suggestions", _0008_people_suggestions),
    (9, "zones_and_sources", _0009_zones_and_sources),
)
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
