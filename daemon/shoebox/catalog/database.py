"""Opening the catalog database from a URL, with the settings each backend needs.

SQLite runs in WAL mode with a large page cache, so one writer and many readers get along.
MariaDB runs on InnoDB in utf8mb4, with DATETIME(6) so that sub-second times survive and
DOUBLE for floats (MariaDB's FLOAT is single precision: metres off on a GPS position).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from peewee import DatabaseError, InterfaceError, MySQLDatabase, OperationalError, SqliteDatabase
from playhouse.shortcuts import ReconnectMixin

from shoebox.catalog.migrations import migrate
from shoebox.catalog.models import MODELS
from shoebox.errors import CatalogError

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
}
BIG_CACHE_MIB = 256  # for readers of a million-photo catalog (see ../shared/notes)


class MariaDB(ReconnectMixin, MySQLDatabase):  # type: ignore[misc]
    """MariaDB through a connection that is made again when the server dropped it (a restart,
    an idle timeout, a KILL), as long as no transaction was under way."""


def connect(url: str, base: Path, cache_mib: int = BIG_CACHE_MIB) -> Any:
    """A Peewee database for `url`; relative SQLite paths are taken from `base`. SQLite gets
    a page cache and a memory map of `cache_mib` each: large for a reader of a big catalog,
    small for a process that mostly writes and should stay small when idle (the daemon)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        name = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
        if not name:
            raise CatalogError(f"database url {url!r} names no file; use sqlite:///catalog.db")
        path = name if name == ":memory:" else str((base / name).resolve())
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pragmas = {**SQLITE_PRAGMAS, "cache_size": -cache_mib * 1024, "mmap_size": cache_mib << 20}
        # Every transaction takes the write lock at its start (BEGIN IMMEDIATE): one that read
        # first and then wanted to write while another connection wrote would get SQLITE_BUSY
        # at once, without waiting out busy_timeout (WAL cannot upgrade a stale snapshot).
        return SqliteDatabase(path, pragmas=pragmas, lock_type="IMMEDIATE")
    if parts.scheme in ("mysql", "mariadb"):
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise CatalogError(f"database url {_redact(url)} names no database")
        return MariaDB(
            dbname,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            charset="utf8mb4",
            field_types={"DATETIME": "DATETIME(6)", "FLOAT": "DOUBLE"},
        )
    raise CatalogError(
        f"database url {_redact(url)}: unknown scheme {parts.scheme!r}; "
        "use sqlite:///path.db or mysql://user:password@host:3306/dbname"
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


class Catalog:
    """An open catalog: the database, bound to the models, at the latest schema."""

    def __init__(
        self, url: str, base: Path, *, cache_mib: int = BIG_CACHE_MIB, upgrade: bool = True
    ) -> None:
        """Open (and, with `upgrade`, migrate) the catalog at `url`. A restore opens it
        without migrating: it makes the schema of the backup itself."""
        self.url = url
        self.applied: list[str] = []
        self.db = connect(url, base, cache_mib)
        try:
            self.db.connect(reuse_if_open=True)
            self.prepare()
            if upgrade:
                self.applied = migrate(self.db)
        except (OperationalError, InterfaceError, DatabaseError) as exc:
            with suppress(Exception):
                self.db.close()
            raise CatalogError(f"cannot open the catalog at {_redact(url)}: {exc}") from exc
        self.db.bind(MODELS)

    def prepare(self) -> None:
        """Before the first table is made: MariaDB's tables inherit the database's character
        set, so make sure it is full UTF-8."""
        if not isinstance(self.db, MySQLDatabase):
            return
        cur = self.db.execute_sql(
            "SELECT default_character_set_name FROM information_schema.schemata "
            "WHERE schema_name = DATABASE()"
        )
        row = cur.fetchone()
        if row and row[0] != "utf8mb4" and not self.db.get_tables():
            self.db.execute_sql("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    @contextmanager
    def exclusive(self, name: str, stop: threading.Event | None = None) -> Iterator[bool]:
        """Hold a lock named `name` that every process of this catalog shares (GET_LOCK on
        MariaDB, a lock file beside an SQLite catalog), waiting for it while another holds
        it. Yields False if `stop` was set while waiting (then nothing is held)."""
        if isinstance(self.db, MySQLDatabase):
            lock = f"shoebox_{name}"
            while not self.db.execute_sql("SELECT GET_LOCK(%s, 1)", (lock,)).fetchone()[0]:
                if stop is not None and stop.is_set():
                    yield False
                    return
            try:
                yield True
            finally:
                self.db.execute_sql("SELECT RELEASE_LOCK(%s)", (lock,))
            return
        path = f"{self.db.database}.{name}.lock"
        with open(path, "a") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if stop is not None and stop.is_set():
                        yield False
                        return
                    time.sleep(0.5)  # another process of this machine holds it
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def explain(self, exc: Exception) -> str:
        """What a failed catalog operation means for a person, and what to do about it."""
        text = str(exc)
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if isinstance(self.db, MySQLDatabase):
            if code in (1021, 1114, 3) or "is full" in text:
                return f"the MariaDB server's disk is full ({text}): free some space there"
            if code in (2003, 2006, 2013) or isinstance(exc, InterfaceError):
                return f"the catalog's MariaDB server cannot be reached ({text})"
            return f"the catalog cannot be written ({text})"
        folder = os.path.dirname(self.db.database) or "."
        with suppress(OSError):
            st = os.statvfs(folder)
            free = st.f_bavail * st.f_frsize
            if free < 16 << 20 or "full" in text:
                return (
                    f"the catalog's disk is full ({free >> 20} MiB free in {folder}; "
                    f"SQLite said: {text}): free some space there"
                )
        if "locked" in text:
            return f"the catalog is busy in another process ({text})"
        return f"the catalog cannot be written ({text})"

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
