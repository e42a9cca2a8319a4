"""Running the later stages: which photos wait for which stage, small batches for the daemon
(between uploads) and whole runs for `shoebox index`.

A stage is anything with the `Stage` shape. Its version is kept per photo in `Enriched`; raising
it makes every photo wait for that stage again, and for no other. Photos a stage does not
apply to (`wants`, e.g. places needs a position) are marked done without any work. A photo
waits until none of its files waits for its renditions (`catalog.pending`): the stages read
them. A photo that makes a stage fail is logged, recorded in `ingest_error` and marked done, so it is not
retried in a loop; a new stage version tries it again. A stage that raises something
unexpected (a bug) fails the photos of that batch alike, with its traceback in the log; the
run goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from peewee import JOIN, fn

from shoebox.catalog import pending
from shoebox.catalog.models import Enriched, File, IngestError, Photo, utcnow
from shoebox.errors import StageError

log = logging.getLogger("shoebox.enrich")

BATCH = 8  # photos per stage call: small, so an upload is never kept waiting long


class Stage(Protocol):
    name: str  # at most 16 characters: the `Enriched.stage` and `ingest_error.stage` value
    version: int

    def wants(self) -> Any:
        """A Peewee condition on Photo: the photos this stage applies to."""

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        """Do the work for these photos and write the results; return {photo id: error
        message} for the photos it could not handle (raising is for programming errors)."""

    def close(self) -> None:
        """Give back the memory of loaded models; the next `run` loads them again."""


@dataclass
class Counts:
    done: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def line(self) -> str:
        parts = [f"{name} {count}" for name, count in self.done.items()]
        return ", ".join(parts) + (f", {self.failed} failed" if self.failed else "")


class Enricher:
    """The later stages over one catalog (which must be open)."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    def pending(self, stage: Stage, limit: int | None = None) -> list[Any]:
        """Photos (not missing) that wait for `stage`, newest first."""
        query = _waiting(stage).order_by(Photo.taken_at.desc(), Photo.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return list(query)

    def waiting(self) -> dict[str, int]:
        """How many photos wait for each stage (counted, not read)."""
        return {stage.name: int(_waiting(stage).count()) for stage in self.stages}

    def step(self) -> int:
        """One small batch of the first stage with work; the number of photos it took."""
        for stage in self.stages:
            photos = self.pending(stage, BATCH)
            if photos:
                self._run(stage, photos, Counts())
                return len(photos)
        return 0

    def run_all(
        self, stop: threading.Event | None = None, tick: Callable[[int], None] | None = None
    ) -> Counts:
        """Every waiting photo through every stage (for `shoebox index`)."""
        counts = Counts()
        for stage in self.stages:
            while not (stop and stop.is_set()):
                photos = self.pending(stage, BATCH * 4)
                if not photos:
                    break
                self._run(stage, photos, counts)
                if tick:
                    tick(len(photos))
        return counts

    def close(self) -> None:
        for stage in self.stages:
            stage.close()

    def _run(self, stage: Stage, photos: list[Any], counts: Counts) -> None:
        wanted_ids = {
            row.id
            for row in Photo.select(Photo.id).where(
                Photo.id.in_([p.id for p in photos]) & stage.wants()
            )
        }
        wanted = [p for p in photos if p.id in wanted_ids]
        started = time.monotonic()
        try:
            failures = stage.run(wanted) if wanted else {}
        except StageError as exc:  # the whole stage cannot run (a model will not load)
            failures = {p.id: str(exc) for p in wanted}
        except Exception as exc:  # a bug in a stage fails its batch, not the run
            log.exception("%s failed on photos %s", stage.name, [p.id for p in wanted])
            failures = {p.id: f"unexpected error: {exc!r}" for p in wanted}
        if wanted:
            log.debug(
                "%s: %d photos in %.2f s", stage.name, len(wanted), time.monotonic() - started
            )
        for photo_id, message in failures.items():
            self._record_error(stage.name, photo_id, message)
        counts.done[stage.name] = counts.done.get(stage.name, 0) + len(wanted) - len(failures)
        counts.failed += len(failures)
        _mark_done(stage, [p.id for p in photos])

    @staticmethod
    def _record_error(stage: str, photo_id: int, message: str) -> None:
        first = list(
            File.select(File.root, File.rel_path, File.path_key)
            .where(File.photo == photo_id)
            .order_by(File.id)
            .limit(1)
        )
        log.warning("photo %d: %s: %s", photo_id, stage, message)
        if first:
            f = first[0]
            IngestError.create(
                root=f.root_id, rel_path=f.rel_path, path_key=f.path_key, stage=stage,
                message=message,
            )  # fmt: skip


def _waiting(stage: Stage) -> Any:
    """The photos (not missing, rendered) with no row of `stage` at its version."""
    unrendered = File.select(File.id).where((File.photo == Photo.id) & pending.condition())
    return (
        Photo.select()
        .join(
            Enriched,
            JOIN.LEFT_OUTER,
            on=(Enriched.photo == Photo.id) & (Enriched.stage == stage.name),
        )
        .where(
            (Photo.missing == False)  # noqa: E712
            & (Enriched.id.is_null() | (Enriched.version < stage.version))
            & ~fn.EXISTS(unrendered)
        )
    )


def _mark_done(stage: Stage, photo_ids: list[int]) -> None:
    if not photo_ids:
        return
    db = Enriched._meta.database
    with db.atomic():
        Enriched.delete().where(
            (Enriched.stage == stage.name) & Enriched.photo.in_(photo_ids)
        ).execute()
        Enriched.insert_many(
            [
                {"photo": pid, "stage": stage.name, "version": stage.version, "done_at": utcnow()}
                for pid in photo_ids
            ]
        ).execute()
