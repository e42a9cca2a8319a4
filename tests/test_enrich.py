"""The later-stage runner: which photos wait for a stage, versions, photos a stage does not
apply to, and failures. The stage here is a small test stage that records what it is given:
the runner is what is under test, not a model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Enriched, File, IngestError, Photo, Root
from shoebox.enrich.runner import Enricher


class Recorder:
    name = "recorder"

    def __init__(self, version: int = 1, fail: frozenset[int] = frozenset()) -> None:
        self.version, self.fail = version, fail
        self.seen: list[int] = []
        self.closed = 0

    def wants(self) -> Any:
        return Photo.lat.is_null(False)

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        self.seen.extend(p.id for p in photos)
        return {p.id: "cannot" for p in photos if p.id in self.fail}

    def close(self) -> None:
        self.closed += 1


def _photo(n: int, lat: float | None) -> int:
    when = dt.datetime(2024, 1, 1) + dt.timedelta(days=n)
    photo = Photo.create(
        type="image", taken_at=when, taken_at_local=when, taken_at_source="x",
        year=2024, month=1, lat=lat, lng=lat,
    )  # fmt: skip
    root = Root.get_or_create(path="/r", path_key="k" * 32)[0]
    File.create(
        root=root, rel_path=f"{n}.jpg", rel_path_raw=f"{n}.jpg".encode(),
        path_key=f"{n:032d}", stem_key=f"{n:032d}", size=1, mtime_ns=1, role="original",
        photo=photo,
    )  # fmt: skip
    return int(photo.id)


def test_each_waiting_photo_is_run_once_and_others_are_marked_done(
    db_url: str, tmp_path: Path
) -> None:
    with Catalog(db_url, tmp_path):
        placed = [_photo(n, 10.0 + n) for n in range(20)]
        unplaced = [_photo(100 + n, None) for n in range(5)]
        stage = Recorder()
        enricher = Enricher([stage])
        assert enricher.waiting() == {"recorder": 25}
        counts = enricher.run_all()
        assert sorted(stage.seen) == sorted(placed)  # never the photos it does not want
        assert counts.done == {"recorder": 20}
        assert enricher.waiting() == {"recorder": 0}
        assert Enriched.select().count() == 25
        assert enricher.step() == 0
        assert all(Enriched.get(Enriched.photo == p).version == 1 for p in unplaced)


def test_a_new_version_runs_the_stage_again_and_nothing_else(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        ids = [_photo(n, 1.0) for n in range(3)]
        Enricher([Recorder()]).run_all()
        newer = Recorder(version=2)
        enricher = Enricher([newer])
        assert enricher.step() == 3
        assert sorted(newer.seen) == sorted(ids)
        assert enricher.step() == 0


def test_a_photo_that_fails_is_recorded_and_not_retried(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        bad = _photo(1, 1.0)
        _photo(2, 2.0)
        stage = Recorder(fail=frozenset({bad}))
        counts = Enricher([stage]).run_all()
        assert counts.failed == 1 and counts.done == {"recorder": 1}
        errors = list(IngestError.select())
        assert [(e.stage, e.rel_path, e.message) for e in errors] == [
            ("recorder", "1.jpg", "cannot")
        ]
        assert Enricher([stage]).step() == 0
        Enricher([stage]).close()
        assert stage.closed == 1


class Broken(Recorder):
    """A stage with a bug: it raises what no stage should."""

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        super().run(photos)
        raise ZeroDivisionError("division by zero")


def test_a_stage_that_raises_fails_its_batch_and_the_run_goes_on(
    db_url: str, tmp_path: Path
) -> None:
    with Catalog(db_url, tmp_path):
        ids = [_photo(n, 1.0) for n in range(3)]
        after = Recorder()
        after.name = "after"
        counts = Enricher([Broken(), after]).run_all()
        assert counts.failed == 3
        assert sorted(after.seen) == sorted(ids)  # the next stage still ran
        messages = {e.message for e in IngestError.select().where(IngestError.stage == "recorder")}
        assert messages == {"unexpected error: ZeroDivisionError('division by zero')"}
        assert Enricher([Broken()]).step() == 0  # marked done: not retried in a loop
