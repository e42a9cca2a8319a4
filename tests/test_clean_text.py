"""Text from outside cannot forge a log line or reach a terminal raw: a file name holding a line
that looks like a failed login, through `shoebox index` and a running daemon, and what the
CLI prints of it afterwards (`errors`, `status`, `photos`, `photos --json`)."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import webtest

from conftest import Library, page_body, wait_for
from shoebox.catalog import shares
from shoebox.catalog.models import IngestError
from shoebox.ingest import limits
from shoebox.logs import TRACE_INDENT, SafeFormatter
from shoebox.printable import json_line, printable, shorten
from shoebox.sample import Shot, write_jpeg
from shoebox_viewer.context import PAGE_TEXT, SHORT_TEXT
from test_cli import shoebox
from test_daemon import Running
from test_viewer_media import log_in, viewer

FORGED = "WARNING shoebox.sftp: failed login for admin from 203.0.113.9"
NAME = f"a\n{FORGED}\n.jpg"
# Anything a terminal or a log reader would act on, but tabs and newlines we print ourselves.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("plain café 東京", "plain café 東京"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("bell\x07 esc\x1b[31m del\x7f", "bell\\x07 esc\\x1b[31m del\\x7f"),
        ("next line\x85 c1\x9b", "next line\\x85 c1\\x9b"),
        ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
        ("rtl\u202egpj.exe iso\u2066x\u2069", "rtl\\u202egpj.exe iso\\u2066x\\u2069"),
        ("not utf-8 \udcff", "not utf-8 \\udcff"),
        ("a\\nb", "a\\nb"),  # a backslash is left alone: it ends no line
    ],
)
def test_printable_escapes_what_ends_a_line_or_moves_the_cursor(given: str, shown: str) -> None:
    assert printable(given) == shown


def test_json_lines_stay_one_line_and_valid() -> None:
    value = {"path": "x\u2028y\x85z\x7f\udcff\n", "title": "東京"}
    line = json_line(value)
    assert not RAW.search(line) and "\n" not in line and len(line.splitlines()) == 1
    assert "東京" in line
    assert json.loads(line)["path"] == value["path"]


def test_shorten_cuts_with_a_mark() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"
    assert len(shorten("word " * 100, 20)) <= 20


def test_a_log_record_is_one_line_and_its_traceback_is_indented() -> None:
    formatter = SafeFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError(f"cannot read {NAME}")
    except ValueError:
        record = logging.LogRecord(
            "shoebox.ingest", logging.ERROR, __file__, 1, "failed: %s", (NAME,), sys.exc_info()
        )
    lines = formatter.format(record).split("\n")
    assert lines[0] == f"ERROR shoebox.ingest: failed: {printable(NAME)}"
    assert len(lines) > 2 and all(line.startswith(TRACE_INDENT) for line in lines[1:])
    assert not any(line.startswith(FORGED) for line in lines)
    journal = SafeFormatter("%(name)s: %(message)s", journal=True).format(record)
    assert journal.startswith("<3>shoebox.ingest: failed: a\\nWARNING")


def _forged_files(folder: Path) -> tuple[Path, Path]:
    """The forged name as a broken file (an error names it, whatever the metadata stage does)
    and as a good photo (listed by `shoebox photos`)."""
    folder.mkdir(parents=True, exist_ok=True)
    broken = folder / NAME
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(64))
    good = write_jpeg(folder / f"b\x1b[2J\u2028{FORGED}\x85.jpg", Shot())
    return broken, good


def _no_forged_line(text: str) -> None:
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)], text
    assert not [line for line in lines if RAW.search(line)], text


def test_shoebox_index_logs_and_prints_no_forged_line(library: Library) -> None:
    _forged_files(library.root / "in")
    cfg = str(library.settings.source)
    done = shoebox("index", "--plain", config=library.settings.source)
    assert done.returncode == 0, done.stderr
    assert printable(NAME) in done.stderr  # the name was logged, escaped
    _no_forged_line(done.stdout + done.stderr)

    errors = shoebox("errors", config=Path(cfg))
    assert printable(NAME) in errors.stdout
    status = shoebox("status", config=Path(cfg))
    table = shoebox("photos", config=Path(cfg))
    as_json = shoebox("photos", "--json", config=Path(cfg))
    for done in (errors, status, table, as_json):
        assert done.returncode == 0, done.stderr
        _no_forged_line(done.stdout + done.stderr)
    assert "\\u2028" in table.stdout and "\\x1b[2J" in table.stdout
    paths = [f["path"] for line in as_json.stdout.splitlines() for f in json.loads(line)["files"]]
    assert any(FORGED in p and "\u2028" in p for p in paths)  # JSON escapes, the value is kept


def test_a_running_daemon_logs_no_forged_line(library: Library, tmp_path: Path) -> None:
    running = Running(library, tmp_path)
    try:
        running.ready()
        _forged_files(library.root / "dropped")
        wait_for(
            "the error row of the forged name",
            lambda: list(IngestError.select().where(IngestError.rel_path.endswith(".jpg"))),
        )
        wait_for("its log line", lambda: running.logged(printable(NAME)))
        assert running.stop() == 0
        _no_forged_line(running.log.read_text())
    finally:
        if running.proc.poll() is None:
            running.stop(signal.SIGKILL)


def test_a_1_mb_xmp_title_is_cut_where_it_is_shown(library: Library, tmp_path: Path) -> None:
    """exiftool writes the title (as extended XMP); the index keeps its first 10,000
    characters (`ingest.limits`, so that MariaDB's TEXT holds it too); the pages show at most
    SHORT_TEXT of it in attributes and PAGE_TEXT on the photo's own page."""
    words = tmp_path / "title.txt"
    words.write_text("Sunset over the bay " * 52_429)  # 1 MiB
    long = write_jpeg(library.root / "long.jpg", Shot())
    done = subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-XMP-dc:Title<={words}", str(long)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    write_jpeg(library.root / "short.jpg", Shot())
    library.index()
    photo = library.photo_of("long.jpg")
    assert len(photo["title"]) == limits.TITLE and photo["title"].endswith("…")

    member = log_in(viewer(library))
    timeline = member.get("/")
    shown = page_body(timeline.text)  # past the <head> and its inline stylesheet
    assert len(shown) < 30_000, len(shown)
    alts = [img.get("alt", "") for img in timeline.html.select(".tile img")]
    assert len(alts) == 2 and max(len(alt) for alt in alts) <= SHORT_TEXT
    assert any(alt.startswith("Sunset over the bay") and alt.endswith("…") for alt in alts)
    grid = member.get("/", {"part": "grid"})  # what infinite scroll fetches
    assert len(grid.body) < 30_000

    page = member.get(f"/photo/{photo['id']}")
    heading = page.html.select_one("h1").get_text()
    assert heading == shorten(photo["title"], PAGE_TEXT) and len(heading) == PAGE_TEXT
    shown = page_body(page.text)
    assert len(shown) < 3 * PAGE_TEXT, len(shown)

    share = shares.create("photo", photo_id=photo["id"])
    visitor = webtest.TestApp(member.app, extra_environ={"REMOTE_ADDR": "192.0.2.8"})
    assert len(page_body(visitor.get(f"/s/{share.token}").text)) < 3 * PAGE_TEXT
