"""Shared fixtures. Every test that touches the catalog runs twice: on SQLite and on the real
MariaDB at 127.0.0.1:3306 (a database made for the test and dropped after it), as peewee's own
suite does. Set SHOEBOX_TEST_MYSQL to another URL prefix to use another server. Without a
server the MariaDB runs are skipped, unless SHOEBOX_TEST_REQUIRE_MARIADB=1 (as in CI)."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest

from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import MODELS
from shoebox.ingest.backlog import Backlog
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


def page_body(html: str) -> str:
    """A page after its <head>: the head holds the inline stylesheet (shoebox_viewer.assets),
    whose selectors and comments name the page's classes and words."""
    _, found, body = html.partition("</head>")
    assert found, "not a whole page"
    return body


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `condition` until it is true (and return it), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)  # the polling interval; the deadline decides
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_rendered(timeout: float = 120.0) -> None:
    """Wait until no file waits for its renditions: a daemon's slow phase is done (call it
    once the files are in the catalog)."""
    from shoebox.catalog import pending

    wait_for("every file rendered", lambda: pending.count() == 0, timeout)


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def add_photo(root_id: int, rel_path: str, taken: Any, **values: Any) -> int:
    """A photo with one file straight into the catalog, as the ingest would leave it (its
    search text included); returns its id."""
    from shoebox.catalog import text
    from shoebox.catalog.models import Photo

    local = values.pop("taken_at_local", taken)
    role = values.pop("role", "original")
    values.setdefault("thumb_hash", "0" * 64)  # a rendition's name (None: a placeholder shows)
    photo = Photo.create(
        type=values.pop("type", "image"),
        taken_at=taken,
        taken_at_local=local,
        taken_at_source="exif",
        year=local.year,
        month=local.month,
        **values,
    )
    add_file(root_id, int(photo.id), rel_path, role=role)
    text.store(photo, [rel_path])  # as the ingest's grouping does
    return int(photo.id)


def add_file(root_id: int, photo_id: int, rel_path: str, **values: Any) -> int:
    """One more file of a photo (`role="raw"`, `"live-video"`...) straight into the catalog,
    rendered (as both phases leave it); returns its id."""
    from shoebox.catalog.models import File
    from shoebox.ingest import pipeline

    values = {"role": "original", "size": 123_456, "mime": "image/jpeg",
              "v_renditions": pipeline.RENDITIONS, "rendered": True, **values}  # fmt: skip
    row = File.create(
        root=root_id, rel_path=rel_path, rel_path_raw=rel_path.encode(),
        path_key=secrets.token_hex(16), stem_key=secrets.token_hex(16), mtime_ns=1,
        photo=photo_id, hash="0" * 64, **values,
    )  # fmt: skip
    return int(row.id)


# Markers that make the helpers below misbehave on a file that holds one (anywhere in its bytes).
EXIFTOOL_DIES = b"EXIFTOOL-DIES"  # exiftool is killed (kill -9) while it reads the file
EXIFTOOL_HANGS = b"EXIFTOOL-HANGS"  # exiftool never answers
FFMPEG_HANGS = b"FFMPEG-HANGS"  # ffmpeg never ends
WORKER_HANGS = b"WORKER-HANGS"  # the worker process that runs ffmpeg is stopped (SIGSTOP)
WORKER_DIES = b"WORKER-DIES"  # the worker process that runs ffmpeg is killed (kill -9)


def misbehaving_helpers(folder: Path) -> tuple[Path, Path]:
    """An "exiftool" and an "ffmpeg" to configure as `[ingest] exiftool` and `ffmpeg`: they run
    the real programs, except on a file that holds one of the markers above. They note the
    process ids they stop or kill in `folder/pids`, so that a test can check none is left."""
    folder.mkdir(parents=True, exist_ok=True)
    pids = folder / "pids"
    exiftool = folder / "exiftool"
    exiftool.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, subprocess, sys, time\n"
        'real = subprocess.Popen(["exiftool", *sys.argv[1:]], stdin=subprocess.PIPE)\n'
        f"with open({str(pids)!r}, 'a') as out:\n"
        "    out.write(f'{os.getpid()}\\n{real.pid}\\n')\n"
        "for line in sys.stdin.buffer:\n"
        '    if not line.startswith(b"-"):  # a file to read, as exiftool would\n'
        "        try:\n"
        '            data = open(line.rstrip(b"\\n"), "rb").read()\n'
        "        except OSError:\n"
        '            data = b""\n'
        f"        if {EXIFTOOL_DIES!r} in data:\n"
        "            os.killpg(0, signal.SIGKILL)  # this script and the real exiftool\n"
        f"        if {EXIFTOOL_HANGS!r} in data:\n"
        "            time.sleep(3600)\n"
        "    real.stdin.write(line)\n"
        "    real.stdin.flush()\n"
    )
    ffmpeg = folder / "ffmpeg"
    ffmpeg.write_text(
        "#!/bin/sh\n"
        "for arg; do case $arg in file:*) input=${arg#file:};; esac; done\n"
        f'if grep -q {FFMPEG_HANGS.decode()} "$input"; then echo $$ >> {pids}; exec sleep 3600; fi\n'
        f'if grep -q {WORKER_HANGS.decode()} "$input"; then echo $PPID >> {pids}; kill -STOP $PPID; exit 1; fi\n'
        f'if grep -q {WORKER_DIES.decode()} "$input"; then kill -KILL $PPID; exit 1; fi\n'
        'exec ffmpeg "$@"\n'
    )
    for helper in (exiftool, ffmpeg):
        helper.chmod(0o755)
    return exiftool, ffmpeg


def left_running(folder: Path) -> list[int]:
    """The processes noted by `misbehaving_helpers` that still run (zombies are not counted)."""
    alive = []
    pids = folder / "pids"
    for pid in {int(p) for p in pids.read_text().split()} if pids.exists() else set():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def status_text(settings: config.Settings) -> str:
    """What the real `shoebox status` prints for this configuration."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "shoebox", "--config", str(settings.source), "status"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout


@dataclass
class Library:
    """A library root, its settings and an open catalog, for one test."""

    root: Path
    settings: config.Settings
    catalog: Catalog

    def index(self, *paths: Path) -> Summary:
        """Both phases, as `shoebox index` runs them: `failed` counts the renditions' too."""
        summary = Indexer(self.settings, self.catalog, interactive=False).index(list(paths))
        summary.failed += Backlog(self.settings, self.catalog, interactive=False).run().failed
        return summary

    def photos(self, query: str = "") -> list[dict[str, Any]]:
        from shoebox.catalog import search, visibility  # everything, as `shoebox photos` lists it

        found = search.parse(query, everything=True, viewer=visibility.OPERATOR)
        return list(search.iterate(found))

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


@dataclass
class ViewerServer:
    """A real viewer (waitress, several threads) on 127.0.0.1 over an indexed sample library
    with enough extra photos to scroll, and an admin account, for browser tests."""

    url: str  # "http://127.0.0.1:PORT/"
    name: str  # the admin's login
    password: str
    settings: config.Settings
    root: Path
    catalog: Catalog | None = None  # the session's own; None for a test's own server

    def login(self, page: Any, target: str = "") -> None:
        """Log a Playwright page in through the real login form."""
        page.goto(self.url + "login?next=/" + target)
        page.fill("input[name=name]", self.name)
        page.fill("input[name=password]", self.password)
        page.click("button[type=submit]")
        page.wait_for_url(self.url + target)


SCROLL_PHOTOS = 150  # small extra photos in 2021, so that the timeline has pages to scroll


@contextmanager
def serving(settings: config.Settings, threads: int = 8) -> Iterator[str]:
    """The viewer for these settings (the catalog already open) served by waitress on a free
    port of 127.0.0.1 in a thread; yields its URL ("http://127.0.0.1:PORT/")."""
    import threading

    import waitress
    from waitress import wasyncore

    from shoebox_viewer.app import make_app

    server = waitress.create_server(
        make_app(settings), host="127.0.0.1", port=0, threads=threads, ident="shoebox"
    )
    thread = threading.Thread(target=server.run, name="viewer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"
    finally:
        # closed by its own loop (closing its sockets from here raced the loop's select: "Bad
        # file descriptor" in the thread), whose map is then empty, so the loop ends
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def indexed_for_admin(
    tmp: Path, root: Path, *, workers: int
) -> tuple[config.Settings, Catalog, str, str]:
    """`root` indexed into a new SQLite catalog in `tmp`, as the uploads of an admin `ada`
    with a random password: (settings, the open catalog, name, password)."""
    from shoebox.catalog.models import Account
    from shoebox.passwords import hash_password

    cfg = write_config(
        tmp / "etc" / "config.toml",
        f'[library]\noriginals = ["{root}"]\ncache = "{tmp / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{tmp / "catalog.db"}"\n[ingest]\nworkers = {workers}\n',
    )
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    # the admin's upload folder holds the library: the photos are hers (and the household's)
    name, password = "ada", secrets.token_urlsafe(12)
    Account.create(name=name, password_hash=hash_password(password), folder=str(root), role="admin")
    Indexer(settings, catalog, interactive=False).index([])
    Backlog(settings, catalog, interactive=False).run()
    return settings, catalog, name, password


@pytest.fixture(scope="session")
def viewer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    """The sample library (`shoebox.sample`) plus SCROLL_PHOTOS small JPEGs, indexed into a
    SQLite catalog (with their places named) as the uploads of the admin, served by `make_app`
    on a free port until the session ends."""
    import datetime as dt

    from shoebox.enrich.places import PlacesStage
    from shoebox.enrich.runner import Enricher
    from shoebox.sample import Shot, make_library, write_jpeg

    tmp = tmp_path_factory.mktemp("viewer")
    root = tmp / "originals"
    make_library(root)
    start = dt.datetime(2021, 3, 1, 12, 0, 0)
    for i in range(SCROLL_PHOTOS):
        taken = start + dt.timedelta(days=i // 2, hours=i % 2)
        write_jpeg(root / f"2021/scroll/S{i:03d}.jpg", Shot(taken, "+00:00"), (96, 72), seed=i)
    settings, catalog, name, password = indexed_for_admin(tmp, root, workers=4)
    # the places stage only (the Places page needs it; the others would slow every session)
    enricher = Enricher([PlacesStage(settings.library.cache)])
    enricher.run_all()
    enricher.close()
    try:
        with serving(settings) as url:
            yield ViewerServer(url, name, password, settings, root, catalog)
    finally:
        catalog.close()


@pytest.fixture(autouse=True)
def _models_on_the_session_viewer(request: pytest.FixtureRequest) -> None:
    """A test of the session's viewer finds the models bound to its catalog again: a test
    before it (a `library` on MariaDB, whatever the order or the worker) may have bound them
    to a catalog of its own, dropped since."""
    if "viewer_server" in request.fixturenames:
        server = request.getfixturevalue("viewer_server")
        assert server.catalog is not None
        server.catalog.db.bind(MODELS)


@dataclass
class ViewerClient:
    """The viewer in-process (WebTest) over a library whose photos a test adds as catalog rows,
    with three accounts: ada (admin), max (member), vic (viewer), all with PASSWORD."""

    library: Library
    app: Any  # a webtest.TestApp logged in as ada
    root_id: int

    PASSWORD = "correct horse"  # noqa: S105 - a test account

    def client(self, name: str | None = "ada") -> Any:
        """A new browser: logged in through the real form as `name`, or nobody (None)."""
        import webtest

        from shoebox_viewer.app import make_app

        app = webtest.TestApp(make_app(self.library.settings))
        if name is not None:
            form = app.get("/login").forms[0]
            form["name"], form["password"] = name, self.PASSWORD
            assert form.submit().status_int == 303
        return app

    def csrf(self, app: Any = None) -> dict[str, str]:
        """The header a page's script sends with every change."""
        return {"X-CSRF-Token": (app or self.app).cookies["sb_csrf"]}

    def add_photo(self, rel_path: str, taken: Any, **values: Any) -> int:
        """A photo with one file, straight into the catalog; returns its id."""
        return add_photo(self.root_id, rel_path, taken, **values)

    def add_file(self, photo_id: int, rel_path: str, **values: Any) -> int:
        """One more file of a photo (a RAW, a Live Photo's video); returns its id."""
        return add_file(self.root_id, photo_id, rel_path, **values)


@pytest.fixture
def viewer_client(library: Library) -> ViewerClient:
    from shoebox.catalog.models import Account, Root
    from shoebox.passwords import hash_password

    hashed = hash_password(ViewerClient.PASSWORD)
    for name, role in (("ada", "admin"), ("max", "member"), ("vic", "viewer")):
        Account.create(name=name, password_hash=hashed, folder=str(library.root), role=role)
    root = Root.create(path=str(library.root), path_key="r" * 32)
    client = ViewerClient(library, None, int(root.id))
    client.app = client.client("ada")
    return client


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright drives it, `playwright install` never runs
BROWSER_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module. Not for the whole session: Playwright's sync
    API keeps an asyncio loop running in the main thread while it is open, and later tests
    that call asyncio.run() would fail."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    playwright_api.expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Any, problems: list[str], **options: Any) -> tuple[Any, Any]:
    """A new browser context (no cookies; `options` for its viewport, touch, ...) and its
    page, which adds script errors and CSP refusals to `problems`."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    return context, page


@pytest.fixture
def page(browser: Any, viewer_server: ViewerServer) -> Iterator[Any]:
    """A fresh browser context, logged in; fails the test on any script error or CSP report."""
    problems: list[str] = []
    context, logged_in = new_page(browser, problems)
    viewer_server.login(logged_in)
    try:
        yield logged_in
    finally:
        context.close()
    assert problems == []


# The sizes the browser tests try, and the screenshots of docs/screenshots/ they take.
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def open_page(browser: Any, viewer_server: ViewerServer, size: str, problems: list[str]) -> Any:
    """A logged-in page at this size (a phone has touch); its context closes with the page."""
    phone = size == "phone"
    _, page = new_page(
        browser, problems, viewport=SIZES[size], has_touch=phone, is_mobile=phone,
        device_scale_factor=1,
    )  # fmt: skip
    viewer_server.login(page)
    return page


@pytest.fixture(params=["desktop", "phone"])
def sized(request: Any, browser: Any, viewer_server: ViewerServer) -> Iterator[tuple[str, Any]]:
    """(size, a logged-in page at that size); fails the test on a script error or CSP report."""
    problems: list[str] = []
    page = open_page(browser, viewer_server, request.param, problems)
    try:
        yield request.param, page
    finally:
        page.context.close()
    assert problems == []


def shot(page: Any, name: str) -> None:
    """A screenshot for docs/screenshots/, in 128 colours (small enough for the repository)."""
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), type="png")
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def loaded(page: Any, selector: str) -> None:
    """Wait until the image of `selector` has been decoded."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
        timeout=BROWSER_TIMEOUT_MS,
    )
