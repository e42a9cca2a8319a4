"""The `shoebox` command as a user runs it: messages, exit codes, JSON output, progress."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Library, write_config
from shoebox.progress import Reporter

REQUIRED = [
    "id",
    "type",
    "files",
    "taken_at",
    "taken_at_local",
    "taken_at_source",
    "timezone",
    "lat",
    "lng",
    "altitude",
    "camera_make",
    "camera_model",
    "lens_model",
    "iso",
    "exposure",
    "f_number",
    "focal_length",
    "focal_length_35mm",
    "width",
    "height",
    "orientation",
    "duration",
    "codec",
    "title",
    "description",
    "keywords",
    "artist",
    "copyright",
    "rating",
]


def shoebox(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shoebox"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300, check=False)


def test_sample_library_end_to_end(library: Library) -> None:
    cfg = str(library.settings.source)
    made = shoebox("sample", str(library.root))
    assert made.returncode == 0, made.stderr
    assert "wrote 7 sample files" in made.stdout
    first = shoebox("--config", cfg, "index", "--plain")
    assert first.returncode == 0, first.stderr
    assert "visible: 7 new, 0 changed, 0 moved, 0 unchanged, 0 missing, 0 failed" in first.stdout
    again = shoebox("--config", cfg, "index", "--plain")
    assert "0 new, 0 changed, 0 moved, 7 unchanged" in again.stdout

    listed = shoebox("--config", cfg, "photos", "--json")
    assert listed.returncode == 0, listed.stderr
    photos = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(photos) == 7
    for photo in photos:
        assert set(REQUIRED) <= set(photo), set(REQUIRED) - set(photo)
        for file in photo["files"]:
            assert {"path", "size", "mime", "hash", "role"} <= set(file)
        assert photo["taken_at"].endswith("Z")
        for value in photo.values():
            assert value != "", photo  # unknown is null, never an empty string
    kyoto = shoebox("--config", cfg, "photos", "--json", "camera:sony")
    (sony,) = [json.loads(line) for line in kyoto.stdout.splitlines()]
    assert (sony["timezone"], sony["exposure"], sony["f_number"]) == ("+09:00", "1/250", 5.6)
    table = shoebox("--config", cfg, "photos", "year:2023")
    assert table.stdout.count("iPhone 13") == 2
    assert "2 photos" in table.stderr
    status = shoebox("--config", cfg, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[:4] == [
        "daemons:  none running",
        "queue:    0 paths waiting (0 due now, 0 being indexed)",
        "files:    7 indexed, 0 waiting for renditions",
        "photos:   7",
    ]
    assert lines[4].startswith("last:     20") and lines[4].endswith(" UTC")
    assert lines[5] == "uploads:  0 partial, waiting for their clients to resume them"
    assert lines[6].startswith("backups:  none yet in ") and lines[6].endswith("makes one now)")
    assert lines[7:] == ["errors:   0 files (shoebox errors lists them)"]


def test_migrate_reports_what_it_did(library: Library) -> None:
    out = shoebox("--config", str(library.settings.source), "migrate")
    assert out.returncode == 0
    assert "the catalog is up to date" in out.stdout  # the fixture's catalog migrated already


def test_bad_config_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml", '[library]\noriginals = ["/p"]\n[ingest]\nworkerz = 2\n'
    )
    out = shoebox("index", config=cfg)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"shoebox: {cfg}: unknown key [ingest] workerz; known keys in [ingest]: "
        "workers, max_pixels, exiftool, ffmpeg, video_timeout, file_timeout, exiftool_timeout, "
        "memory_limit_mb"
    )


def test_no_config_says_how_to_give_one(tmp_path: Path) -> None:
    env_free = subprocess.run(
        [sys.executable, "-m", "shoebox", "index"],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert env_free.returncode == 2
    assert "pass --config PATH or set SHOEBOX_CONFIG" in env_free.stderr


def test_path_outside_the_roots_is_refused(library: Library, tmp_path: Path) -> None:
    out = shoebox("index", str(tmp_path), config=library.settings.source)
    assert out.returncode == 2
    assert "is not inside a library root" in out.stderr
    assert "Traceback" not in out.stderr


def test_progress_lines_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "shoebox.progress")
    with Reporter("indexing", interactive=False, every=0.0) as progress:
        progress.start(4)
        progress.advance(2)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("indexing: 2/4 files, ")
    assert "files/s, about" in line
