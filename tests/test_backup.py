"""`shoebox backup` and `shoebox restore`: a copy that restores exactly, on either backend and
across them; refused when damaged or when the catalog is not empty; consistent while an index
runs and a viewer serves; kept by the daily and weekly rule; told by `shoebox status`."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Library, add_photo, mysql_admin, write_config
from shoebox import backups, cli
from shoebox.catalog import dump, migrations
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import (
    MODELS,
    Account,
    Album,
    AlbumPhoto,
    DaemonState,
    Face,
    FaceRejection,
    File,
    Label,
    PendingWrite,
    Person,
    Photo,
    Root,
    Secret,
    Share,
    utcnow,
)
from shoebox.errors import BackupError
from shoebox.sample import Shot, write_jpeg

WEIRD = b"2024/\xff\xfe odd\nname.jpg"  # not UTF-8, with a newline: kept as exact bytes
EMBEDDING = bytes(range(256)) * 2  # every byte value, zeros included


@pytest.fixture
def other_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes the URL of another, empty catalog: "sqlite" or "mariadb" (dropped afterwards)."""
    made: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'other-{secrets.token_hex(3)}.db'}"
        name = f"shoebox_test_{secrets.token_hex(6)}"
        with mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1")
        made.append(name)
        return f"mysql://root@127.0.0.1:3306/{name}"

    yield make
    if made:
        with mysql_admin() as admin, admin.cursor() as cur:
            for name in made:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def fill() -> None:
    """Everything a family makes, with the values that are easy to get wrong: exact bytes,
    microseconds, NULLs, every digit of a float, big integers, any Unicode."""
    root = Root.create(path="/srv/photos", path_key="r" * 32, device=2**40 + 7, fsid="abcd")
    ada = Account.create(
        name="ada",
        password_hash="$argon2id$v=19$x",  # noqa: S106 - a made-up hash
        folder="/srv/ada",
        role="admin",
    )
    first = add_photo(
        root.id, "2024/a.jpg", dt.datetime(2024, 5, 1, 12, 30, 45, 123456), favorite=True,
        lat=0.1 + 0.2, lng=-9.123456789012345, title="Ünïcødé 👪 \"quoted\"", description=None,
    )  # fmt: skip
    second = add_photo(root.id, "2024/b.jpg", dt.datetime(1999, 12, 31, 23, 59, 59), archived=True)
    File.create(
        root=root, rel_path=WEIRD.decode("utf-8", "replace"), rel_path_raw=WEIRD,
        path_key="w" * 32, stem_key="s" * 32, size=2**40, mtime_ns=1_700_000_000_123_456_789,
        role="sidecar", photo=first, meta=json.dumps({"keywords": ["a\\b", "ü"]}),
    )  # fmt: skip
    album = Album.create(title="Summer '24 — beach", created_by=ada, cover=first)
    AlbumPhoto.create(album=album, photo=first)
    AlbumPhoto.create(album=album, photo=second)
    anna = Person.create(name="Anna")
    ben = Person.create(name=None, hidden=True)
    face = Face.create(
        photo=first, x=0.25, y=1 / 3, width=0.1, height=0.2, score=0.987654321,
        embedding=EMBEDDING, person=anna, confirmed=True,
    )  # fmt: skip
    FaceRejection.create(face=face, person=ben)
    Label.create(photo=first, name="beach", confidence=0.5)
    Share.create(
        token=secrets.token_urlsafe(24), kind="album", album=album, expires_at=None,
        max_views=10, views=3, allow_download=True, created_by=ada,
    )  # fmt: skip
    Secret.create(name="cookie", value="ab" * 32)


def table_rows(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Every model's rows as Python values, by table (daemons' states left out)."""
    found = {}
    with db.bind_ctx(MODELS):
        for model in MODELS:
            if model is DaemonState:
                continue
            rows = list(model.select().order_by(*model._meta.get_primary_keys()).dicts())
            for row in rows:
                for key, value in row.items():
                    if isinstance(value, memoryview | bytearray):
                        row[key] = bytes(value)
            found[model._meta.table_name] = rows
    return found


def restore(url: str, tmp: Path, path: Path, *, force: bool = False) -> dump.Restored:
    with Catalog(url, tmp, upgrade=False) as target:
        return dump.restore(
            target.db,
            path,
            force=force,
            sha256=backups.manifest_sha256(path),
            prepare=target.prepare,
        )


@pytest.mark.parametrize("to", ["sqlite", "mariadb"])
def test_a_backup_restores_exactly_on_either_backend(
    library: Library, other_url: Callable[[str], str], tmp_path: Path, to: str
) -> None:
    fill()
    DaemonState.create(worker="h/1/x", host="h", pid=1, state="idle")
    before = table_rows(library.catalog.db)
    made = backups.make(library.catalog.db, tmp_path / "backups")
    assert made.rows("photo") == 2 and made.rows("face") == 1 and made.rows("daemon_state") == 0
    assert (made.path.stat().st_mode & 0o777) == 0o600  # it holds password hashes and keys
    url = other_url(to)
    done = restore(url, tmp_path, made.path)
    assert done.migrated == [] and done.manifest.count("album_photo") == 2
    with Catalog(url, tmp_path) as target:
        after = table_rows(target.db)
        assert migrations.applied_versions(target.db) == migrations.applied_versions(
            library.catalog.db
        )
    assert after == before
    assert after["file"][-1]["rel_path_raw"] == WEIRD
    assert after["face"][0]["embedding"] == EMBEDDING
    assert after["photo"][0]["taken_at"].microsecond == 123456
    assert after["photo"][0]["lat"] == 0.1 + 0.2


def test_a_backup_goes_there_and_back(
    library: Library, other_url: Callable[[str], str], tmp_path: Path
) -> None:
    """SQLite to MariaDB and back, or the other way round: nothing changes on the way."""
    fill()
    before = table_rows(library.catalog.db)
    here = "mariadb" if library.settings.database.url.startswith("sqlite") else "sqlite"
    there = other_url(here)
    restore(there, tmp_path, backups.make(library.catalog.db, tmp_path / "one").path)
    with Catalog(there, tmp_path) as middle:
        second = backups.make(middle.db, tmp_path / "two")
    back = other_url("sqlite" if here == "mariadb" else "mariadb")
    restore(back, tmp_path, second.path)
    with Catalog(back, tmp_path) as target:
        assert table_rows(target.db) == before


def test_restore_refuses_a_catalog_that_is_not_empty_unless_forced(
    library: Library, tmp_path: Path
) -> None:
    fill()
    made = backups.make(library.catalog.db, tmp_path / "backups")
    Photo.update(title="changed since").execute()
    url = library.settings.database.url
    with pytest.raises(BackupError, match=r"not empty \(rows in .*--force"):
        restore(url, tmp_path, made.path)
    library.catalog.db.bind(MODELS)
    assert Photo.select().where(Photo.title == "changed since").count() == 2  # untouched
    DaemonState.create(worker="h/1/x", host="h", pid=1, state="idle")
    with pytest.raises(BackupError, match=r"a daemon runs on this catalog \(h/1/x\)"):
        restore(url, tmp_path, made.path, force=True)
    library.catalog.db.bind(MODELS)
    DaemonState.update(state="stopped").execute()
    restore(url, tmp_path, made.path, force=True)
    library.catalog.db.bind(MODELS)
    assert Photo.select().where(Photo.title == "changed since").count() == 0


def _rewrite(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    with gzip.open(path, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(change(lines)))


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES: list[tuple[str, Callable[[Path], None], str]] = [
    ("cut in half", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
     "cut short"),
    ("a byte flipped", _flip_a_byte, "damaged"),
    ("a row changed", lambda p: _rewrite(p, lambda ls: [x.replace(b'"ada"', b'"eve"') for x in ls]),
     "table account does not match its hash"),
    ("a row lost", lambda p: _rewrite(p, lambda ls: [x for x in ls if b'"beach"' not in x]),
     "table label does not match its hash"),
    ("its end line lost", lambda p: _rewrite(p, lambda ls: ls[:-1]), "its end line is missing"),
    ("not a backup", lambda p: p.write_bytes(b"hello"), "damaged or not a shoebox backup"),
    ("another gzip file", lambda p: p.write_bytes(gzip.compress(b'{"a": 1}\n')),
     "not a shoebox backup"),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "expected"), [(d[1], d[2]) for d in DAMAGES],
                         ids=[d[0] for d in DAMAGES])  # fmt: skip
def test_a_damaged_backup_is_refused_before_anything_is_written(
    library: Library, tmp_path: Path, damage: Callable[[Path], None], expected: str
) -> None:
    fill()
    made = backups.make(library.catalog.db, tmp_path / "backups")
    backups.manifest_path(made.path).unlink()  # the copy must check itself
    damage(made.path)
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(BackupError, match=expected):
        restore(empty, tmp_path, made.path)
    assert (
        sqlite3.connect(tmp_path / "empty.db").execute("SELECT * FROM sqlite_master").fetchall()
        == []
    )
    with pytest.raises(BackupError, match=expected):  # and a full catalog stays as it was
        restore(library.settings.database.url, tmp_path, made.path, force=True)
    library.catalog.db.bind(MODELS)
    assert Photo.select().count() == 2


def test_the_manifest_beside_a_backup_is_checked_too(library: Library, tmp_path: Path) -> None:
    fill()
    made = backups.make(library.catalog.db, tmp_path / "backups")
    record = json.loads(backups.manifest_path(made.path).read_text())
    backups.manifest_path(made.path).write_text(json.dumps({**record, "sha256": "0" * 64}))
    with pytest.raises(BackupError, match="SHA-256 differs from its manifest"):
        restore(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path, made.path)


def test_a_backup_of_an_older_schema_restores_and_is_migrated(
    other_url: Callable[[str], str], tmp_path: Path, db_url: str
) -> None:
    older = Catalog(db_url, tmp_path, upgrade=False)
    migrations.migrate(older.db, only={1, 2, 3, 4})  # a catalog made before the to-write list
    old_photo = migrations._PhotoV1  # the photo table as those migrations left it
    with older.db.bind_ctx([old_photo]):
        for day, favorite in ((1, True), (2, False)):
            taken = dt.datetime(2020, 1, day)
            old_photo.create(
                type="image", taken_at=taken, taken_at_local=taken, taken_at_source="exif",
                year=2020, month=1, favorite=favorite,
            )  # fmt: skip
    made = backups.make(older.db, tmp_path / "backups")
    older.close()
    assert made.manifest["migrations"] == [1, 2, 3, 4]
    done = restore(other_url("sqlite"), tmp_path, made.path)
    assert done.migrated == [
        f"{number:04d}_{name}" for number, name, _ in migrations.MIGRATIONS if number > 4
    ]
    assert PendingWrite.select().count() == 1  # the favourite waits to be written


def test_a_backup_of_a_newer_shoebox_is_refused(library: Library, tmp_path: Path) -> None:
    made = backups.make(library.catalog.db, tmp_path / "backups")
    backups.manifest_path(made.path).unlink()

    def newer(lines: list[bytes]) -> list[bytes]:
        header = json.loads(lines[0])
        return [json.dumps({**header, "migrations": [*header["migrations"], 99]}).encode() + b"\n",
                *lines[1:]]  # fmt: skip

    _rewrite(made.path, newer)
    with pytest.raises(BackupError, match=r"newer shoebox \(its catalog has migrations \[99\]"):
        restore(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path, made.path)


def test_a_backup_is_consistent_while_an_index_runs_and_a_viewer_serves(
    library: Library, tmp_path: Path
) -> None:
    """Copies taken while photos arrive (each photo and its search text are written in one
    transaction) and while a viewer reads and writes: each copy restores, passes SQLite's
    integrity and foreign-key checks, and holds one search text per photo."""
    import webtest

    from shoebox_viewer.app import make_app

    for i in range(120):
        write_jpeg(library.root / f"d{i % 6}" / f"p{i:03d}.jpg", Shot(), (64, 48), seed=i)
    viewer = webtest.TestApp(make_app(library.settings))
    done = threading.Event()
    failures: list[BaseException] = []

    def index() -> None:
        try:
            library.index()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=index)
    thread.start()
    made = []
    while not done.is_set() or not made:
        viewer.get("/api/photos?q=year:2024", expect_errors=True)
        made.append(backups.make(library.catalog.db, tmp_path / f"backups-{len(made)}"))
    thread.join()
    assert not failures
    made.append(backups.make(library.catalog.db, tmp_path / "after"))
    assert made[-1].rows("photo") == 120
    assert len({m.rows("photo") for m in made}) >= 2 or len(made) == 1
    for i, copy in enumerate(made):
        target = tmp_path / f"restored-{i}.db"
        restore(f"sqlite:///{target}", tmp_path, copy.path)
        con = sqlite3.connect(target)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        photos = con.execute("SELECT COUNT(*) FROM photo").fetchone()[0]
        assert photos == copy.rows("photo")
        assert con.execute("SELECT COUNT(*) FROM photo_text").fetchone()[0] == photos
        orphans = "SELECT COUNT(*) FROM file WHERE status = 'present' AND photo_id IS NULL"
        assert con.execute(orphans).fetchone()[0] == 0
        con.close()


# --- retention -------------------------------------------------------------------------------


def _days(*days: int, hour: int = 3) -> list[dt.datetime]:
    return [dt.datetime(2025, 6, 1, hour) + dt.timedelta(days=d) for d in days]


@pytest.mark.parametrize(
    ("made", "daily", "weekly", "kept"),
    [
        # 30 daily backups from Sunday June 1: the last 7 days, and the newest of each of the
        # last 4 ISO weeks (Monday to Sunday: June 30 alone, then the Sundays 29, 22, 15)
        (_days(*range(30)), 7, 4, _days(29, 28, 27, 26, 25, 24, 23, 21, 14)),
        # several a day: the newest of each day
        ([*_days(0, 1), *_days(1, hour=9), *_days(1, hour=12)], 7, 0,
         [*_days(0), *_days(1, hour=12)]),
        # a gap of a month: the days that have backups count, not the calendar's
        (_days(0, 1, 2, 40, 41), 3, 0, _days(41, 40, 2)),
        # no daily ones kept besides the newest, two weeks
        (_days(*range(14)), 1, 2, _days(13, 7)),
        ([], 7, 4, []),
    ],
)  # fmt: skip
def test_retention_keeps_the_right_backups(
    made: list[dt.datetime], daily: int, weekly: int, kept: list[dt.datetime]
) -> None:
    assert backups.kept(made, daily, weekly) == set(kept)


def test_prune_removes_only_what_retention_drops(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    for moment in _days(*range(10)):
        path = folder / backups.name_for(moment)
        path.write_bytes(b"copy")
        backups.manifest_path(path).write_text('{"bytes": 4}')
    lone = folder / backups.name_for(dt.datetime(2025, 5, 1))  # no manifest: not a good one
    lone.write_bytes(b"copy")
    (folder / "notes.txt").write_text("mine")
    old_temp = folder / ".shoebox-2025-05-01T000000Z.jsonl.gz.123.tmp"
    old_temp.write_bytes(b"half")
    os.utime(old_temp, (0, 0))
    new_temp = folder / ".shoebox-2025-06-10T000000Z.jsonl.gz.124.tmp"
    new_temp.write_bytes(b"being written")
    backups.prune(folder, 3, 2)
    left = sorted(b.taken_at for b in backups.listing(folder))
    assert left == sorted(_days(9, 8, 7))  # the last 3 days; June 8, a Sunday, ends its week
    assert lone.exists() and (folder / "notes.txt").exists() and new_temp.exists()
    assert not old_temp.exists()


@pytest.mark.parametrize(
    ("now", "hour", "due"),
    [
        (dt.datetime(2025, 6, 1, 2, 59, 59), 3, dt.datetime(2025, 6, 1, 3)),
        (dt.datetime(2025, 6, 1, 3, 0, 0), 3, dt.datetime(2025, 6, 2, 3)),
        (dt.datetime(2025, 12, 31, 23, 30), 0, dt.datetime(2026, 1, 1, 0)),
    ],
)
def test_the_next_daily_backup(now: dt.datetime, hour: int, due: dt.datetime) -> None:
    assert backups.next_run(now, hour) == due


# --- the command line ------------------------------------------------------------------------


def test_backup_restore_and_status_on_the_command_line(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill()
    cfg = library.settings.source
    folder = library.settings.backup.folder
    assert cli.main(["--config", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert f"backups:  none yet in {folder}; the daemon makes one every day at 03:00" in out
    assert "warning" not in out
    old = folder / backups.name_for(utcnow() - dt.timedelta(days=3))
    folder.mkdir(parents=True)
    old.write_bytes(b"copy")
    backups.manifest_path(old).write_text('{"bytes": 1000000, "tables": {"photo": {"rows": 9}}}')
    library.catalog.db.bind(MODELS)
    assert cli.main(["--config", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert "(1.0 MB, 9 photos)" in out and "warning: no backup for more than two days" in out
    assert cli.main(["--config", str(cfg), "backup"]) == 0
    out = capsys.readouterr().out
    assert "2 photos, 3 files, 1 albums, 2 people, 1 faces, 1 accounts, 1 share links" in out
    library.catalog.db.bind(MODELS)
    assert cli.main(["--config", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert "2 photos)" in out and "warning" not in out
    newest = backups.newest(folder)
    assert newest is not None
    empty = write_config(
        tmp_path / "empty" / "config.toml",
        cfg.read_text().replace(library.settings.database.url, "sqlite:///restored.db"),
    )
    assert cli.main(["--config", str(empty), "restore", str(newest.path)]) == 0
    out = capsys.readouterr().out
    assert "restored shoebox-" in out and "2 photos, 3 files, 1 albums, 2 people" in out
    assert cli.main(["--config", str(empty), "restore", str(newest.path)]) == 1
    assert "not empty" in capsys.readouterr().err
    shutil.copy(newest.path, tmp_path / "alone.jsonl.gz")  # without its manifest
    assert (
        cli.main(["--config", str(empty), "restore", "--force", str(tmp_path / "alone.jsonl.gz")])
        == 0
    )
    library.catalog.db.bind(MODELS)


# --- the daemon ------------------------------------------------------------------------------


FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed (scripts/setup --test)")
def test_the_daemon_backs_up_at_its_hour(library: Library, tmp_path: Path) -> None:
    """A daemon started (by faketime's clock) just before 03:00 makes its backup at 03:00,
    prunes, and says so; uploads and indexing are not its business meanwhile."""
    from conftest import wait_for
    from test_daemon import Running

    fill()
    folder = library.settings.backup.folder
    folder.mkdir(parents=True)
    for days in (30, 31):  # old ones retention drops (keep_weekly = 0)
        old = folder / backups.name_for(dt.datetime(2025, 5, 1) + dt.timedelta(days=days - 30))
        old.write_bytes(b"copy")
        backups.manifest_path(old).write_text("{}")
    cfg = library.settings.source
    cfg.write_text(cfg.read_text() + "[backup]\nhour = 3\nkeep_daily = 1\nkeep_weekly = 0\n")
    clock = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": "@2025-06-01 02:59:50"}
    running = Running(library, tmp_path, **clock)
    try:
        running.ready()
        wait_for("its line in the log", lambda: running.logged("daily backup "), timeout=60)
    finally:
        assert running.stop() == 0
    (made,) = backups.listing(folder)  # the old ones pruned
    assert dt.datetime(2025, 6, 1, 3) <= made.taken_at < dt.datetime(2025, 6, 1, 3, 1)
    assert made.rows("photo") == 2
    dump.verify(made.path, made.manifest["sha256"])
