"""The catalog on SQLite and MariaDB: migrations, schema, precision, clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import add_photo
from shoebox.catalog import migrations
from shoebox.catalog.database import Catalog, connect
from shoebox.catalog.keys import catalog_key
from shoebox.catalog.models import (
    FILE_PATH_INDEX,
    MODELS,
    Account,
    File,
    Photo,
    PhotoText,
    PhotoWord,
    Root,
)
from shoebox.errors import CatalogError

ALL = [f"{number:04d}_{name}" for number, name, _ in migrations.MIGRATIONS]


def test_migrations_apply_once(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path) as first:
        assert first.applied == ALL
        assert migrations.current_version(first.db) == migrations.LATEST
    with Catalog(db_url, tmp_path) as second:
        assert second.applied == []


def test_a_version_1_catalog_upgrades_and_keeps_its_accounts(db_url: str, tmp_path: Path) -> None:
    db = connect(db_url, tmp_path)
    with db.bind_ctx([migrations.SchemaVersion]):
        migrations.SchemaVersion.create_table()
        migrations._0001_initial(db)
        migrations.SchemaVersion.create(version=1, name="initial", applied_at=dt.datetime.now())
    db.execute_sql(
        "INSERT INTO account (name, password_hash, authorized_keys, folder, created_at) "
        "VALUES ('alice', NULL, '', '/srv/photos/alice', '2026-01-01 00:00:00')"
    )
    db.close()
    with Catalog(db_url, tmp_path) as catalog:
        assert catalog.applied == ALL[1:]
        alice = Account.get(Account.name == "alice")
        assert (alice.role, alice.folder) == ("member", "/srv/photos/alice")


def test_a_catalog_before_zones_upgrades_and_holds_long_metadata(
    db_url: str, tmp_path: Path
) -> None:
    """Migration 9: a photo keeps its values and gets the new columns empty (until its files
    are read again); on MariaDB a file's metadata and a photo's search text may pass 64 KB."""
    db = connect(db_url, tmp_path)
    if db_url.startswith("mysql"):  # as `Catalog` makes it before its first table
        db.execute_sql("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    with db.bind_ctx([migrations.SchemaVersion]):
        migrations.SchemaVersion.create_table()
        for number, name, step in migrations.MIGRATIONS:
            if number < 9:
                step(db)
                migrations.SchemaVersion.create(
                    version=number, name=name, applied_at=dt.datetime.now()
                )
    db.execute_sql(
        "INSERT INTO photo (type, taken_at, taken_at_local, taken_at_source, timezone, year, "
        "month, favorite, archived, missing, created_at, updated_at) VALUES ('image', "
        "'2023-07-14 16:32:05', '2023-07-14 18:32:05', 'DateTimeOriginal', '+02:00', 2023, 7, "
        "1, 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    db.close()
    with Catalog(db_url, tmp_path) as catalog:
        assert catalog.applied == [
            f"{n:04d}_{name}" for n, name, _ in migrations.MIGRATIONS if n >= 9
        ]
        photo = Photo.get()
        assert (photo.timezone, photo.favorite, photo.timezone_name, photo.sources) == (
            "+02:00", True, None, None,
        )  # fmt: skip
        long = "写真" * 40_000  # 240,000 bytes of UTF-8
        root = Root.create(path="/x", path_key="k" * 32)
        File.create(
            root=root, rel_path="a.jpg", rel_path_raw=b"a.jpg", path_key="p" * 32,
            stem_key="s" * 32, size=1, mtime_ns=1, role="original", meta=long, photo=photo,
        )  # fmt: skip
        PhotoText.create(photo=photo, text=long)
        assert File.get().meta == PhotoText.get().text == long
        if db_url.startswith("mysql"):
            types = catalog.db.execute_sql(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND data_type = 'mediumtext'"
            ).fetchall()
            assert sorted((t, c) for t, c, _ in types) == [("file", "meta"), ("photo_text", "text")]


def test_fresh_schema_matches_models(db_url: str, tmp_path: Path) -> None:
    """Migrations must build exactly what the models declare. When this fails after a new
    migration, migration 1 needs a frozen copy of the version-1 models."""
    with Catalog(db_url, tmp_path) as catalog:
        for model in MODELS:
            table = model._meta.table_name
            columns = {c.name for c in catalog.db.get_columns(table)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, table
            indexes = {tuple(i.columns) for i in catalog.db.get_indexes(table)}
            for fields, _unique in model._meta.indexes:
                wanted = tuple(model._meta.fields[f].column_name for f in fields)
                assert wanted in indexes, (table, wanted)


def test_datetimes_keep_microseconds(db_url: str, tmp_path: Path) -> None:
    when = dt.datetime(2023, 10, 31, 10, 44, 43, 432100)
    with Catalog(db_url, tmp_path):
        photo = Photo.create(
            type="image", taken_at=when, taken_at_local=when, taken_at_source="x", year=2023,
            month=10,
        )  # fmt: skip
        assert Photo.get_by_id(photo.id).taken_at == when


def test_mariadb_tables_are_innodb_and_utf8mb4(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("mysql"):
        pytest.skip("MariaDB only")
    with Catalog(db_url, tmp_path) as catalog:
        rows = catalog.db.execute_sql(
            "SELECT table_name, engine, table_collation FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        ).fetchall()
        assert rows
        for name, engine, collation in rows:
            assert engine == "InnoDB", name
            assert collation.startswith("utf8mb4"), name
        Photo.create(
            type="image", taken_at=dt.datetime(2020, 1, 1), taken_at_local=dt.datetime(2020, 1, 1),
            taken_at_source="x", year=2020, month=1, title="Grüße 📷",
        )  # fmt: skip
        assert Photo.get(Photo.title == "Grüße 📷").title == "Grüße 📷"


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    with Catalog("sqlite:///c.db", tmp_path) as catalog:
        assert catalog.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "c.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://x/y", "unknown scheme 'postgres'"),
        ("sqlite:///", "names no file"),
        (
            "mysql://root:secret@127.0.0.1:1/shoebox",
            r"cannot open the catalog at mysql://root:\*\*\*@",
        ),
    ],
)
def test_bad_database_urls_are_explained(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message) as info:
        Catalog(url, tmp_path)
    assert "secret" not in str(info.value)


def test_a_catalog_key_is_made_once_and_shared(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        first = catalog_key("share-views")
        assert len(first) == 32
        assert catalog_key("share-views") == first
        assert catalog_key("other") != first
    with Catalog(db_url, tmp_path):  # another process opening the same catalog
        assert catalog_key("share-views") == first


def test_migrations_13_and_14_run_again_after_a_crash(db_url: str, tmp_path: Path) -> None:
    """MariaDB commits each CREATE INDEX by itself: a migration cut short is run again from
    its start, over what it had made."""
    with Catalog(db_url, tmp_path) as catalog:
        root = Root.create(path="/srv/photos", path_key="r" * 32)
        add_photo(root.id, "2024/beach.jpg", dt.datetime(2024, 7, 1), title="Beach day")
        words = set(PhotoWord.select(PhotoWord.word).tuples())
        with catalog.db.atomic():
            migrations._0013_filter_indexes(catalog.db)
            migrations._0014_photo_words(catalog.db)
        assert FILE_PATH_INDEX in {index.name for index in catalog.db.get_indexes("file")}
        assert set(PhotoWord.select(PhotoWord.word).tuples()) == words
        assert {("beach",), ("day",), ("2024",), ("jpg",)} <= words
