"""Shared fixtures. Every test that touches the catalog runs twice: on SQLite and on the real
MariaDB at 127.0.0.1:3306 (a database made for the test and dropped after it), as peewee's own
suite does. Set SHOEBOX_TEST_MYSQL to another URL prefix to use another server. Without a
server the MariaDB runs are skipped, unless SHOEBOX_TEST_REQUIRE_MARIADB=1 (as in CI)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest

from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.ingest.run import Indexer, Summary

MYSQL = os.environ.get("SHOEBOX_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def mysql_admin() -> Any:
    parts = urlsplit(MYSQL)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    name = f"shoebox_test_{secrets.token_hex(6)}"
    try:
        admin = mysql_admin()
    except pymysql.err.OperationalError as exc:
        if os.environ.get("SHOEBOX_TEST_REQUIRE_MARIADB") == "1":
            raise
        pytest.skip(f"no MariaDB at {MYSQL} ({exc})")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1")  # shoebox must fix it
    try:
        yield f"{MYSQL}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `condition` until it is true (and return it), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)  # the polling interval; the deadline decides
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass
class Library:
    """A library root, its settings and an open catalog, for one test."""

    root: Path
    settings: config.Settings
    catalog: Catalog

    def index(self, *paths: Path) -> Summary:
        return Indexer(self.settings, self.catalog, interactive=False).index(list(paths))

    def photos(self, query: str = "") -> list[dict[str, Any]]:
        from shoebox.catalog.photos import search

        return list(search(query))

    def photo_of(self, name: str) -> dict[str, Any]:
        """The photo holding the file whose path ends with `name`."""
        found = [
            p for p in self.photos() if any(f["path"].endswith("/" + name) for f in p["files"])
        ]
        assert len(found) == 1, f"{name}: {len(found)} photos hold it"
        return found[0]


@pytest.fixture
def library(tmp_path: Path, db_url: str) -> Iterator[Library]:
    root = tmp_path / "originals"
    root.mkdir()
    cfg = write_config(
        tmp_path / "etc" / "config.toml",
        f'[library]\noriginals = ["{root}"]\ncache = "{tmp_path / "cache"}"\n'
        f'[database]\nurl = "{db_url}"\n[ingest]\nworkers = 2\n'
        '[sftp]\nlisten = "127.0.0.1:0"\n',
    )
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    try:
        yield Library(root, settings, catalog)
    finally:
        catalog.close()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS
