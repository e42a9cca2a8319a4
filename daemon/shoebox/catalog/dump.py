"""A portable, consistent copy of the catalog, and the way back into an empty one on either
backend (a SQLite copy restores into MariaDB and back).

The format (version 1) is one gzip stream of UTF-8 JSON lines:

    {"shoebox_backup": 1, "created_at": "2025-05-01T03:00:00Z", "backend": "sqlite",
     "migrations": [1, 2, 3, 4, 7]}
    {"table": "photo", "columns": ["id", "type", ...], "blobs": []}
    [1, "image", ...]                     one line a row, values in column order
    ...
    {"end": {"photo": {"rows": 123, "sha256": "..."}, ...}}

Bytes (paths as exact bytes, face embeddings) are base64; datetimes are
"YYYY-MM-DD HH:MM:SS[.ffffff]", which both backends take back as they were; NULL is null;
floats keep every digit. A table's hash covers its header line and its rows, so a changed,
lost or reordered line is found before anything is written; gzip's own check finds a damaged
stream, and a stream without its last line was cut short.

Consistency while the daemon and viewers write: all tables are read in one read transaction
(SQLite in WAL mode gives it a snapshot and lets writers go on; MariaDB gets START
TRANSACTION WITH CONSISTENT SNAPSHOT under REPEATABLE READ). Rows stream through a cursor
(an unbuffered one on MariaDB), so memory does not grow with the catalog.

`restore` makes the schema the copy was taken at (the migrations it lists), loads the rows
with foreign-key checks off (SQLite checks them all afterwards), then runs the migrations
that came after. `daemon_state` is not copied: it is about processes running elsewhere;
nor is `photo_count`, which the triggers on `photo` fill again as the photos go back in.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pymysql.cursors  # type: ignore[import-untyped]
from peewee import DatabaseError, InterfaceError, MySQLDatabase

from shoebox.catalog import migrations
from shoebox.errors import BackupError

FORMAT = 1
# what running processes say of themselves; the photo counts, which the photos' triggers
# make again as the photos are restored (or migration 15 does, for an older copy)
LEFT_OUT = frozenset({"daemon_state", "photo_count"})
NOT_DATA = frozenset({"schema_version", "daemon_state"})  # an empty catalog may hold these
_FETCH = 2000  # rows a fetch
_INSERT = 1000  # rows an INSERT
_TRANSACTION = 20_000  # rows a transaction, loading into MariaDB
_FLUSH = 1 << 20  # bytes handed to gzip at once
_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# What reading or writing the catalog raises here: through our own cursors, the drivers' own.
DATABASE_ERRORS = (sqlite3.Error, pymysql.err.Error, DatabaseError, InterfaceError)


@dataclass
class Table:
    rows: int = 0
    sha256: str = ""


@dataclass
class Manifest:
    """What a copy holds: when and from which backend it was made, the migrations of its
    schema, and each table's row count and hash."""

    created_at: str
    backend: str
    migrations: list[int]
    tables: dict[str, Table] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "backend": self.backend,
            "migrations": self.migrations,
            "tables": {n: {"rows": t.rows, "sha256": t.sha256} for n, t in self.tables.items()},
        }

    def count(self, table: str) -> int:
        found = self.tables.get(table)
        return found.rows if found else 0


def _line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _converters(types: list[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    """Which columns need a conversion to JSON: bytes to base64, a driver's datetime to text."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, kind in enumerate(types):
        kind = kind.lower()
        if "blob" in kind or "binary" in kind:
            found.append((i, lambda v: _b64(bytes(v))))
        elif kind.startswith(("datetime", "timestamp", "date", "time")):
            found.append((i, str))  # SQLite holds text already; str() of a datetime is the same
    return found


def _backend(db: Any) -> str:
    return "mariadb" if isinstance(db, MySQLDatabase) else "sqlite"


def _quote(db: Any, name: str) -> str:
    """A table's or column's name for SQL: only [a-z0-9_] names are ever put in a statement
    (shoebox's own are; a damaged or forged backup's others are refused here)."""
    if not name or not set(name) <= _NAME:
        raise BackupError(f"{name[:40]!r} is not a name a shoebox catalog uses")
    left, right = db.quote  # '""' on SQLite, '``' on MariaDB
    return f"{left}{name}{right}"


# --- writing ---------------------------------------------------------------------------------


def write(db: Any, out: IO[bytes], *, level: int = 6) -> Manifest:
    """Copy every table of the catalog (in one read transaction) into `out`, compressed."""
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    manifest = Manifest(created, _backend(db), [])
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as gz:
        buffer: list[bytes] = []
        size = 0

        def emit(line: bytes) -> None:
            nonlocal size
            buffer.append(line)
            size += len(line)
            if size >= _FLUSH:
                gz.write(b"".join(buffer))
                buffer.clear()
                size = 0

        with _snapshot(db) as conn:
            manifest.migrations = migrations.applied_versions(db)
            emit(
                _line(
                    {
                        "shoebox_backup": FORMAT,
                        "created_at": created,
                        "backend": manifest.backend,
                        "migrations": manifest.migrations,
                    }
                )
            )
            for table in sorted(db.get_tables()):
                if table in LEFT_OUT:
                    continue
                manifest.tables[table] = _write_table(db, conn, table, emit)
        emit(_line({"end": {n: t.__dict__ for n, t in manifest.tables.items()}}))
        gz.write(b"".join(buffer))
    return manifest


def _write_table(db: Any, conn: Any, table: str, emit: Callable[[bytes], None]) -> Table:
    columns = db.get_columns(table)
    names = [c.name for c in columns]
    types = [c.data_type for c in columns]
    header = _line(
        {
            "table": table,
            "columns": names,
            "blobs": [c.name for c in columns if "blob" in c.data_type.lower()],
        }
    )
    digest = hashlib.sha256(header)
    emit(header)
    convert = _converters(types)
    keys = db.get_primary_keys(table) or names[:1]
    columns = ", ".join(_quote(db, n) for n in names)
    order = ", ".join(_quote(db, k) for k in keys)
    sql = f"SELECT {columns} FROM {_quote(db, table)} ORDER BY {order}"  # noqa: S608
    rows = 0
    for found in _stream(db, conn, sql):
        row = list(found)
        for i, fn in convert:
            if row[i] is not None:
                row[i] = fn(row[i])
        line = _line(row)
        digest.update(line)
        emit(line)
        rows += 1
    return Table(rows, digest.hexdigest())


class _snapshot:
    """The calling thread's connection in one read transaction that sees one moment."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def __enter__(self) -> Any:
        conn = self.db.connection()
        if isinstance(self.db, MySQLDatabase):
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        else:
            conn.execute("BEGIN")  # deferred: the first read takes the snapshot
        return conn

    def __exit__(self, *exc: object) -> None:
        self.db.connection().rollback()  # nothing was written


def _stream(db: Any, conn: Any, sql: str) -> Iterator[tuple[Any, ...]]:
    if isinstance(db, MySQLDatabase):
        cursor = conn.cursor(pymysql.cursors.SSCursor)  # rows as they come, not all at once
    else:
        cursor = conn.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(_FETCH):
            yield from batch
    finally:
        cursor.close()


# --- reading and checking --------------------------------------------------------------------


class _Hashing:
    """A file read through, hashed as it goes (the manifest beside a copy holds its SHA-256)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        return data

    def readable(self) -> bool:
        return True


@dataclass
class _Section:
    name: str
    columns: list[str]
    blobs: list[str]


def _lines(path: Path, sha256: str | None = None) -> Iterator[tuple[bytes, Any]]:
    """Each line of a copy with its decoded value; BackupError when it is damaged."""
    try:
        with open(path, "rb") as raw:
            hashing = _Hashing(raw)
            with gzip.GzipFile(fileobj=cast(IO[bytes], hashing), mode="rb") as gz:
                for line in gz:
                    try:
                        yield line, json.loads(line)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise BackupError(f"{path} is damaged: a line is not JSON") from None
            if sha256 is not None and hashing.sha256.hexdigest() != sha256:
                raise BackupError(f"{path} is damaged: its SHA-256 differs from its manifest's")
    except EOFError:
        raise BackupError(f"{path} was cut short (its compressed stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise BackupError(f"{path} is damaged or not a shoebox backup ({exc})") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path} ({exc.strerror or exc})") from None


def _sections(path: Path, sha256: str | None = None) -> Iterator[tuple[str, Any, bytes]]:
    """(kind, value, the line's bytes): "header" first, then "table" (a `_Section`) and its
    "row"s (lists) for each table, then "end". The shape is checked here, hashes in `verify`."""
    lines = _lines(path, sha256)
    first = next(lines, None)
    if first is None or not isinstance(first[1], dict) or "shoebox_backup" not in first[1]:
        raise BackupError(f"{path} is not a shoebox backup (it does not start with its header)")
    if first[1]["shoebox_backup"] != FORMAT:
        raise BackupError(
            f"{path} is in backup format {first[1]['shoebox_backup']}; this shoebox reads "
            f"format {FORMAT}: restore it with the shoebox version that made it, or a newer one"
        )
    yield "header", first[1], first[0]
    ended = False
    for raw, value in lines:
        if ended:
            raise BackupError(f"{path} is damaged: lines follow its end line")
        if isinstance(value, list):
            yield "row", value, raw
        elif isinstance(value, dict) and "table" in value:
            section = _Section(value["table"], value["columns"], value.get("blobs", []))
            yield "table", section, raw
        elif isinstance(value, dict) and "end" in value:
            ended = True
            yield "end", value["end"], raw
        else:
            raise BackupError(f"{path} is damaged: a line is neither a row nor a table")
    if not ended:
        raise BackupError(f"{path} was cut short (its end line is missing)")


def verify(path: Path, sha256: str | None = None) -> Manifest:
    """Read a copy through and check it: its format, every table's rows against their hash
    and count, its end, and (if given) the whole file's SHA-256. Writes nothing."""
    manifest: Manifest | None = None
    digests: dict[str, Any] = {}
    counts: dict[str, int] = {}
    table: str | None = None
    for kind, value, raw in _sections(path, sha256):
        if kind == "header":
            manifest = Manifest(value["created_at"], value["backend"], list(value["migrations"]))
        elif kind == "table":
            table = value.name
            digests[table], counts[table] = hashlib.sha256(raw), 0
        elif kind == "row":
            if table is None:
                raise BackupError(f"{path} is damaged: a row before any table")
            digests[table].update(raw)
            counts[table] += 1
        else:
            assert manifest is not None
            if set(value) != set(digests):
                raise BackupError(f"{path} is damaged: its tables differ from its end line's")
            for name, declared in value.items():
                got = Table(counts[name], digests[name].hexdigest())
                if got.rows != declared.get("rows") or got.sha256 != declared.get("sha256"):
                    raise BackupError(
                        f"{path} is damaged: table {name} does not match its hash "
                        f"({got.rows} rows read, {declared.get('rows')} written)"
                    )
                manifest.tables[name] = got
    assert manifest is not None  # `_sections` starts with the header or raises
    return manifest


# --- restoring -------------------------------------------------------------------------------


def data_tables(db: Any) -> list[str]:
    """The tables that hold rows, besides the schema's own and the daemons' states (an empty
    catalog, migrated or not, has none)."""
    found = []
    for table in sorted(set(db.get_tables()) - NOT_DATA):
        sql = f"SELECT 1 FROM {_quote(db, table)} LIMIT 1"  # noqa: S608 - through `_quote`
        if db.execute_sql(sql).fetchone():
            found.append(table)
    return found


def running_daemons(db: Any) -> list[str]:
    """The daemons that said within three minutes that they run on this catalog."""
    from shoebox.catalog.models import DaemonState, utcnow
    from shoebox.catalog.status import SILENT_AFTER

    if "daemon_state" not in db.get_tables():
        return []
    with db.bind_ctx([DaemonState]):
        query = DaemonState.select(DaemonState.worker).where(
            DaemonState.state != "stopped", DaemonState.seen_at > utcnow() - SILENT_AFTER
        )
        return [row.worker for row in query]


@dataclass
class Restored:
    manifest: Manifest
    migrated: list[str]  # the migrations run after the rows were in


def restore(
    db: Any, path: Path, *, force: bool, sha256: str | None, prepare: Callable[[], None]
) -> Restored:
    """Replace the catalog in `db` by the copy at `path`. Checks the whole copy first, and
    refuses a catalog that holds rows (unless `force`) or that a daemon runs on, before
    anything is written. `prepare` readies an empty database (MariaDB: its character set)."""
    manifest = verify(path, sha256)
    known = {number for number, _, _ in migrations.MIGRATIONS}
    newer = sorted(set(manifest.migrations) - known)
    if newer:
        raise BackupError(
            f"{path} was made by a newer shoebox (its catalog has migrations {newer}, which "
            "this one does not know): upgrade shoebox, then restore"
        )
    running = running_daemons(db)
    if running:
        raise BackupError(
            f"a daemon runs on this catalog ({', '.join(running)}): stop it and the viewers, "
            "then restore"
        )
    holding = data_tables(db)
    if holding and not force:
        raise BackupError(
            f"the catalog is not empty (rows in {', '.join(holding[:5])}"
            + (", ..." if len(holding) > 5 else "")
            + "): restore replaces everything in it; stop the daemon and the viewers and run "
            "it again with --force"
        )
    _drop_all(db)
    prepare()
    migrations.migrate(db, only=manifest.migrations)
    _load(db, path, sha256)
    return Restored(manifest, migrations.migrate(db))


def _foreign_keys(db: Any, on: bool) -> None:
    if isinstance(db, MySQLDatabase):
        db.execute_sql(f"SET FOREIGN_KEY_CHECKS = {int(on)}")
    else:
        db.execute_sql(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def _drop_all(db: Any) -> None:
    _foreign_keys(db, False)
    try:
        for table in db.get_tables():
            db.execute_sql(f"DROP TABLE {_quote(db, table)}")
    finally:
        _foreign_keys(db, True)
    if not isinstance(db, MySQLDatabase):
        db.execute_sql("VACUUM")  # give the dropped tables' pages back to the disk


class _Loader:
    """Rows into one table at a time, `_INSERT` a statement."""

    def __init__(self, db: Any, path: Path) -> None:
        self.db, self.path = db, path
        self.conn = db.connection()
        self.tables = set(db.get_tables())
        self.sql = ""
        self.blobs: list[int] = []
        self.batch: list[list[Any]] = []
        self.table = ""
        self.uncommitted = 0

    def start(self, section: _Section) -> None:
        self.flush()
        if section.name not in self.tables:
            raise BackupError(
                f"{self.path}: table {section.name!r} is not one the backup's migrations make"
            )
        have = {c.name for c in self.db.get_columns(section.name)}
        if have != set(section.columns):
            raise BackupError(
                f"{self.path}: table {section.name} has columns {sorted(section.columns)}, "
                f"but its migrations make {sorted(have)}"
            )
        self.table = section.name
        table = _quote(self.db, section.name)
        self.db.execute_sql(f"DELETE FROM {table}")  # noqa: S608 - schema_version's own rows
        marks = ", ".join([self.db.param] * len(section.columns))
        columns = ", ".join(_quote(self.db, c) for c in section.columns)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
        self.blobs = [section.columns.index(b) for b in section.blobs]

    def add(self, row: list[Any]) -> None:
        for i in self.blobs:
            if row[i] is not None:
                row[i] = base64.b64decode(row[i])
        self.batch.append(row)
        if len(self.batch) >= _INSERT:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        cursor = self.conn.cursor()
        try:
            cursor.executemany(self.sql, self.batch)
        finally:
            cursor.close()
        self.uncommitted += len(self.batch)
        self.batch.clear()
        if isinstance(self.db, MySQLDatabase) and self.uncommitted >= _TRANSACTION:
            self.conn.commit()
            self.db.execute_sql("BEGIN")
            self.uncommitted = 0


def _load(db: Any, path: Path, sha256: str | None) -> None:
    """The copy's rows into the tables its migrations made: in one transaction on SQLite,
    in transactions of `_TRANSACTION` rows on MariaDB; foreign keys are checked after."""
    loader = _Loader(db, path)
    _foreign_keys(db, False)
    try:
        db.execute_sql("BEGIN")
        for kind, value, _ in _sections(path, sha256):
            if kind == "table":
                loader.start(value)
            elif kind == "row":
                loader.add(value)
        loader.flush()
        if not isinstance(db, MySQLDatabase):
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise BackupError(f"{path}: {len(broken)} rows point at rows it does not hold")
        loader.conn.commit()
    except BackupError:
        loader.conn.rollback()
        raise
    except DATABASE_ERRORS as exc:
        loader.conn.rollback()
        raise BackupError(
            f"restoring table {loader.table} failed ({exc}); the catalog may be left "
            "part-restored: run the restore again with --force"
        ) from exc
    finally:
        _foreign_keys(db, True)
