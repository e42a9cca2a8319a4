"""Visible first, rendered after: the fast phase puts every photo in the catalog without
decoding anything, the slow phase renders the files that wait (`ingest.backlog`), the later
stages wait for both; and an index stopped in the slow phase (a real Ctrl-C on a real
`shoebox index`) is finished by the next one, to the same catalog as an uninterrupted run."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conftest import Library, wait_for, write_config
from shoebox import config
from shoebox.catalog import pending
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import MODELS, File, IngestError, Photo
from shoebox.catalog.status import report
from shoebox.enrich.runner import Enricher
from shoebox.ingest import pipeline, priority
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.renditions import rendition_path
from shoebox.ingest.run import Indexer
from shoebox.sample import Shot, write_jpeg, write_video


@dataclasses.dataclass
class Counting:
    """A later stage that only counts the photos it is given."""

    name: str = "counting"
    version: int = 1
    seen: int = 0

    def wants(self) -> Any:
        return Photo.id.is_null(False)

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        self.seen += len(photos)
        return {}

    def close(self) -> None:
        pass


def test_photos_are_visible_before_their_renditions(library: Library) -> None:
    for i in range(3):
        write_jpeg(library.root / f"IMG_{i}.jpg", Shot(), seed=i)
    write_video(library.root / "clip.mp4", seconds=1)
    cache = library.settings.library.cache

    summary = Indexer(library.settings, library.catalog, interactive=False).index()

    assert (summary.new, summary.failed) == (4, 0)
    photos = library.photos()
    assert len(photos) == 4
    for photo in photos:  # each shown by the file its tile will come from, not there yet
        assert photo["thumb_hash"] is not None
        assert not rendition_path(cache, photo["thumb_hash"], "tile").exists()
    assert pending.count() == 4 and len(pending.pending(3)) == 3
    assert report(30).waiting == 4
    stage = Counting()
    assert Enricher([stage]).waiting() == {"counting": 0}  # the later stages read renditions

    rendered = Backlog(library.settings, library.catalog, interactive=False).run()

    assert (rendered.rendered, rendered.failed, rendered.unfinished) == (4, 0, 0)
    assert pending.count() == 0 and report(30).waiting == 0
    assert [p["thumb_hash"] for p in library.photos()] == [p["thumb_hash"] for p in photos]
    for photo in photos:
        assert rendition_path(cache, photo["thumb_hash"], "tile").exists()
    assert File.select().where(File.v_renditions == pipeline.RENDITIONS).count() == 4
    assert Enricher([stage]).waiting() == {"counting": 4}
    # nothing left for either phase
    again = Indexer(library.settings, library.catalog, interactive=False).index()
    assert (again.unchanged, again.refreshed) == (4, 0)
    assert Backlog(library.settings, library.catalog, interactive=False).step() == 0


def test_a_stop_leaves_the_rest_waiting(library: Library) -> None:
    for i in range(4):
        write_jpeg(library.root / f"IMG_{i}.jpg", Shot(), seed=i)
    Indexer(library.settings, library.catalog, interactive=False).index()
    stop = threading.Event()
    stop.set()
    backlog = Backlog(library.settings, library.catalog, interactive=False, stop=stop)
    assert backlog.run().unfinished == 4
    assert pending.count() == 4
    stop.clear()
    assert backlog.step(3) == 3  # newest first
    (left,) = pending.pending(10)
    assert left.id == min(f.id for f in File.select())


def test_the_slow_phase_runs_at_low_priority() -> None:
    """In a child process (the priority cannot be raised back): nice 10 and SCHED_IDLE."""
    code = (
        "import os\n"
        "from shoebox.ingest import priority\n"
        "priority.lower()\n"
        "print(os.nice(0), os.sched_getscheduler(0) == os.SCHED_IDLE)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == [str(os.nice(0) + 10), "True"]
    assert callable(priority.idle_io)


# --- a stopped index, resumed -----------------------------------------------------------------


def index_command(cfg: Path) -> list[str]:
    return [sys.executable, "-m", "shoebox", "--config", str(cfg), "index", "--plain"]


def catalog_view(cache: Path) -> dict[str, Any]:
    """What an index run leaves, in terms that do not depend on the catalog's ids or place."""
    files = sorted(
        (f.rel_path, f.hash, f.status, f.role, f.v_identify, f.v_metadata, f.v_renditions,
         bool(f.rendered), f.photo.thumb_hash if f.photo_id else None)
        for f in File.select()
    )  # fmt: skip
    photos = sorted(
        (p.type, str(p.taken_at), p.thumb_hash, p.width, p.height, bool(p.missing))
        for p in Photo.select()
    )
    errors = sorted((e.rel_path, e.stage, e.message) for e in IngestError.select())
    renditions = sorted(
        str(path.relative_to(cache))
        for path in cache.rglob("*")
        if path.is_file() and not path.name.startswith(".tmp-") and path.suffix == ".jpg"
    )
    return {"files": files, "photos": photos, "errors": errors, "renditions": renditions}


def test_an_index_stopped_while_rendering_resumes_to_the_same_catalog(
    library: Library, tmp_path: Path
) -> None:
    for i in range(60):
        write_jpeg(library.root / f"2023/IMG_{i:03d}.jpg", Shot(), size=(1600, 1200), seed=i)
    write_video(library.root / "2023/clip.mp4", seconds=1)
    (library.root / "2023/broken.jpg").write_bytes(
        (library.root / "2023/IMG_000.jpg").read_bytes()[:3000]
    )
    quiet = "[places]\nenabled = false\n[faces]\nenabled = false\n[labels]\nenabled = false\n"

    # uninterrupted, into a catalog of its own
    whole = tmp_path / "whole"
    shutil.copytree(library.root, whole / "originals", symlinks=True)
    cfg = write_config(
        tmp_path / "etc" / "whole.toml",
        f'[library]\noriginals = ["{whole / "originals"}"]\ncache = "{whole / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{whole / "catalog.db"}"\n[ingest]\nworkers = 1\n' + quiet,
    )
    done = subprocess.run(index_command(cfg), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Catalog(config.load(cfg).database.url, cfg.parent):
        expected = catalog_view(whole / "cache")
    library.catalog.db.bind(MODELS)
    assert len(expected["photos"]) == 62 and len(expected["errors"]) == 1

    # stopped by Ctrl-C while it renders, then run again
    cache = tmp_path / "cache"
    cfg = write_config(
        tmp_path / "etc" / "stopped.toml",
        f'[library]\noriginals = ["{library.root}"]\ncache = "{cache}"\n'
        f'[database]\nurl = "{library.settings.database.url}"\n[ingest]\nworkers = 1\n' + quiet,
    )
    cli = subprocess.Popen(
        index_command(cfg), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    made = cache / "renditions"
    wait_for(
        "a few renditions made",
        lambda: made.is_dir() and sum(1 for _ in made.rglob("*-tile.jpg")) >= 3,
        timeout=120,
    )
    os.killpg(cli.pid, signal.SIGINT)  # as a terminal's Ctrl-C
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 130, err
    assert b"visible: 62 new" in out  # the fast phase was over: every photo in the catalog
    assert Photo.select().count() == 62
    left = pending.count()
    assert 0 < left < 61, "not stopped while rendering"

    again = subprocess.run(index_command(cfg), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "visible: 0 new, 0 changed, 0 moved, 62 unchanged" in again.stdout
    rendered, failed = map(
        int, re.findall(r"renditions: (\d+) rendered, (\d+) failed", again.stdout)[0]
    )
    assert rendered + failed == left  # none done twice
    assert pending.count() == 0
    assert catalog_view(cache) == expected
