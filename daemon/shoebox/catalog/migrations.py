"""Numbered schema migrations, applied in order by `shoebox migrate` and at start-up.

`schema_version` records each migration applied. A migration that creates tables names the
models it creates; once a later migration changes one of them, the earlier migration gets a
frozen copy of that model as it was (`_AccountV1`, `_PhotoV1`, `_ShareV2`). Numbers may have
gaps (branches take numbers ahead of merging): what is applied is every listed migration not
yet recorded, in order. The test `test_fresh_schema_matches_models`
proves that the migrations, applied in order, end where `models` is today.
Numbers are handed out ahead of the work, so the list may skip one for a while: `_apply`
applies each missing one, in the order listed.
A lock (GET_LOCK on MariaDB, an IMMEDIATE transaction on SQLite) keeps two processes that start
together from migrating twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from peewee import (
    SQL,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FixedCharField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    MySQLDatabase,
    SmallIntegerField,
    TextField,
)
from playhouse.migrate import SchemaMigrator, make_index_name
from playhouse.migrate import migrate as run_migration

from shoebox.catalog import counts, text, visibility
from shoebox.catalog.models import (
    FILE_PATH_INDEX,
    Account,
    Album,
    AlbumPhoto,
    ApiToken,
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
    PendingWrite,
    Person,
    Photo,
    PhotoCount,
    PhotoEdit,
    PhotoText,
    PhotoWord,
    Place,
    QueuedPath,
    Root,
    Secret,
    Session,
    ShareVisitor,
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
    """`Photo` before migrations 6 (owners, visibility) and 9 (zones, software, sources)."""

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


class _ShareV2(BaseModel):
    token = CharField(64, unique=True)
    kind = CharField(16)
    photo = ForeignKeyField(_PhotoV1, null=True, on_delete="CASCADE")
    album = ForeignKeyField(Album, null=True, on_delete="CASCADE")
    query = TextField(null=True)
    title = CharField(255, null=True)
    password_hash = TextField(null=True)
    expires_at = DateTimeField(null=True)
    max_views = IntegerField(null=True)
    views = IntegerField(default=0)
    allow_download = BooleanField(default=False)
    revoked_at = DateTimeField(null=True)
    created_by = ForeignKeyField(_AccountV1, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "share"


def _create(db: Any, models: tuple[type[Model], ...]) -> None:
    with db.bind_ctx(models):
        db.create_tables(models)


def _0001_initial(db: Any) -> None:
    _create(db, (_RootV1, _PhotoV1, File, IngestError, QueuedPath, _AccountV1))


def _0002_viewer(db: Any) -> None:
    migrator = SchemaMigrator.from_database(db)
    run_migration(migrator.add_column("account", "role", CharField(16, default="member")))
    _create(db, (Upload, Session, Album, AlbumPhoto, _ShareV2, Secret))


def _0003_later_stages(db: Any) -> None:
    _create(db, (PhotoText, Enriched, Place, Person, Face, FaceRejection, Label))
    with db.bind_ctx((Photo, File, PhotoText)):
        text.rebuild_text()  # the photos of an older catalog


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


def _flag(default: bool) -> BooleanField:
    """A true/false column that rows already there get `default` in (one ALTER, no rewrite)."""
    return BooleanField(default=default, constraints=[SQL(f"DEFAULT {int(default)}")])


def _0006_household(db: Any) -> None:
    """Owners and visibility of photos, each account's default for its uploads, what share
    links show, the visitors they counted, and access tokens. The photos already there get
    the owner whose upload folder holds them, and stay visible to the household."""
    migrator = SchemaMigrator.from_database(db)
    visible = CharField(16, default="household", constraints=[SQL("DEFAULT 'household'")])
    owner = ForeignKeyField(Account, field=Account.id, null=True, on_delete="SET NULL", index=False)
    run_migration(
        migrator.add_column("account", "private_uploads", _flag(False), allow_not_null=True),
        migrator.add_column("photo", "owner_id", owner),
        migrator.add_column("photo", "visibility", visible, allow_not_null=True),
        migrator.add_index("photo", ("visibility", "owner_id")),
        *(
            migrator.add_column("share", name, _flag(False), allow_not_null=True)
            for name in ("show_location", "show_details", "show_people")
        ),
    )
    # The indexes that page and count photos end in the id and who sees them (models.Photo).
    for fields, unique in _PhotoV1._meta.indexes:
        columns = tuple(fields)
        run_migration(
            migrator.drop_index("photo", make_index_name("photo", columns)),
            migrator.add_index("photo", (*columns, "id", "visibility", "owner_id"), unique),
        )
    _create(db, (ShareVisitor, ApiToken))
    with db.bind_ctx((Photo, File, Root, Account)):
        visibility.assign_owners()


def _0007_written_beside(db: Any) -> None:
    """The "to write" list for sidecars and album files, holding at first everything the
    family made so far (written once `[library] write_sidecars` is on)."""
    _create(db, (PendingWrite,))
    with db.bind_ctx((Photo, Face, Person, Album, PendingWrite)):
        from shoebox.catalog import outbox

        outbox.mark_everything()


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


def _0010_hand_edits(db: Any) -> None:
    _create(db, (PhotoEdit,))


def _0011_likeness(db: Any) -> None:
    """How each photo looks (difference hash, sharpness) and the burst it is in."""
    migrator = SchemaMigrator.from_database(db)
    run_migration(
        migrator.add_column("photo", "dhash", BigIntegerField(null=True)),
        migrator.add_column("photo", "sharpness", FloatField(null=True)),
        migrator.add_column("photo", "burst_of", IntegerField(null=True)),
        migrator.add_index("photo", ("burst_of",), False),
    )


def _0012_bursts_in_the_indexes(db: Any) -> None:
    """The indexes that page and count photos end in the burst too (`models._IN_ORDER`): the
    timeline shows a burst by its cover, and without the column a count looked up every row."""
    migrator = SchemaMigrator.from_database(db)
    for fields, unique in _PhotoV1._meta.indexes:
        columns = (*fields, "id", "visibility", "owner_id")
        run_migration(
            migrator.drop_index("photo", make_index_name("photo", columns)),
            migrator.add_index("photo", (*columns, "burst_of"), unique),
        )


def _0013_filter_indexes(db: Any) -> None:
    """Indexes for `type:` and for `near:`'s box (lat, lng) that end in the timeline order (as
    `camera:`'s does), and one on file paths for `folder:`. Each is made only where missing,
    so a run cut short by a crash (MariaDB commits every CREATE INDEX by itself) can be run
    again."""
    migrator = SchemaMigrator.from_database(db)
    photo = {index.name for index in db.get_indexes("photo")}
    for first in (("type",), ("lat", "lng")):
        columns = (*first, "archived", "missing", "taken_at", "id", "visibility", "owner_id")
        if make_index_name("photo", (*columns, "burst_of")) not in photo:
            run_migration(migrator.add_index("photo", (*columns, "burst_of"), False))
    if FILE_PATH_INDEX not in {index.name for index in db.get_indexes("file")}:
        column = "rel_path(255)" if isinstance(db, MySQLDatabase) else "rel_path"
        db.execute_sql(f"CREATE INDEX {FILE_PATH_INDEX} ON file ({column})")


def _0014_photo_words(db: Any) -> None:
    """The words of every photo's text, indexed, for bare search words (`catalog.text`).
    Run again after a crash, it starts the words afresh."""
    _create(db, (PhotoWord,))  # only where missing
    with db.bind_ctx((PhotoText, PhotoWord)):
        text.rebuild_words()


def _0015_photo_counts(db: Any) -> None:
    """Photos counted by month, owner, visibility and whether the timeline lists them, kept
    by triggers (`catalog.counts`). Run again after a crash, it makes the triggers again and
    counts afresh."""
    _create(db, (PhotoCount,))  # only where missing
    counts.install(db)


def _0018_lens_and_geo_indexes(db: Any) -> None:
    """An index for `lens:` that ends in the timeline order (the search asks for a lens's
    photos by its exact values), and the `type:` index made again with lat and lng at its end,
    so that `type:video geo:yes` reads no photo row. Each step is done only where still
    needed, so a run cut short by a crash can be run again."""
    migrator = SchemaMigrator.from_database(db)
    photo = {index.name for index in db.get_indexes("photo")}
    tail = ("archived", "missing", "taken_at", "id", "visibility", "owner_id", "burst_of")
    lens = ("lens_model", *tail)
    if make_index_name("photo", lens) not in photo:
        run_migration(migrator.add_index("photo", lens, False))
    typed = ("type", *tail, "lat", "lng")
    if make_index_name("photo", typed) not in photo:
        run_migration(migrator.add_index("photo", typed, False))
    old = make_index_name("photo", ("type", *tail))
    if old in photo:
        run_migration(migrator.drop_index("photo", old))


# Each migration is applied once, by number, whatever else has been applied.
def _0016_pending_renditions(db: Any) -> None:
    """An index on file (v_renditions, id): the slow phase finds the files that wait for their
    renditions, newest first, without reading the whole table (`catalog.pending`)."""
    if make_index_name("file", ("v_renditions", "id")) not in {
        index.name for index in db.get_indexes("file")
    }:
        run_migration(SchemaMigrator.from_database(db).add_index("file", ("v_renditions", "id")))


MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial", _0001_initial),
    (2, "viewer", _0002_viewer),
    (3, "later_stages", _0003_later_stages),
    (4, "roots_and_daemons", _0004_roots_and_daemons),
    (5, "failure_counts", _0005_failure_counts),
    (6, "household", _0006_household),
    (7, "written_beside", _0007_written_beside),
    (8, "people_suggestions", _0008_people_suggestions),
    (9, "zones_and_sources", _0009_zones_and_sources),
    (10, "hand_edits", _0010_hand_edits),
    (11, "likeness", _0011_likeness),
    (12, "bursts_in_the_indexes", _0012_bursts_in_the_indexes),
    (13, "filter_indexes", _0013_filter_indexes),
    (14, "photo_words", _0014_photo_words),
    (15, "photo_counts", _0015_photo_counts),
    (16, "pending_renditions", _0016_pending_renditions),
    (18, "lens_and_geo_indexes", _0018_lens_and_geo_indexes),
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


def applied_versions(db: Any) -> list[int]:
    """The numbers of the migrations applied to this catalog, in order (a gap is possible: a
    catalog may have had a later number before an earlier one was written)."""
    with db.bind_ctx([SchemaVersion]):
        if not SchemaVersion.table_exists():
            return []
        query = SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.version)
        return [row.version for row in query]


def migrate(db: Any, only: Collection[int] | None = None) -> list[str]:
    """Apply every pending migration (or only those numbered in `only`, as a restore does to
    remake the schema a backup was taken from); return the names applied."""
    applied: list[str] = []
    with db.bind_ctx([SchemaVersion]):
        if isinstance(db, MySQLDatabase):
            db.execute_sql("SELECT GET_LOCK('shoebox_migrate', 60)")
            try:
                applied = _apply(db, only)
            finally:
                db.execute_sql("SELECT RELEASE_LOCK('shoebox_migrate')")
        else:
            with db.atomic("IMMEDIATE"):
                applied = _apply(db, only)
    return applied


def _apply(db: Any, only: Collection[int] | None) -> list[str]:
    SchemaVersion.create_table(safe=True)
    done = {row.version for row in SchemaVersion.select(SchemaVersion.version)}
    applied = []
    for number, name, step in MIGRATIONS:
        if number in done or (only is not None and number not in only):
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
