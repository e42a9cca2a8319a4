"""Files waiting for their renditions (the slow phase, `ingest.backlog`).

A file is *pending* when it is present, hashed, and its renditions were made by no recipe or an
older one than `pipeline.RENDITIONS`: the fast phase has put it in the catalog (and its photo
in the timeline), the slow phase has not rendered it yet. Newest first, so that a fresh upload
is rendered before an old backlog. Each query walks the index on (v_renditions, id) once per
older recipe version, so that it stays cheap on a catalog of a million files.
"""

from __future__ import annotations

from typing import Any

from shoebox.catalog.models import File, Root
from shoebox.ingest import pipeline


def condition() -> Any:
    """A Peewee condition on File: the file waits for its renditions."""
    return (File.v_renditions < pipeline.RENDITIONS) & _renderable()


def waits(f: File) -> bool:
    """The file (a row in hand) waits for its renditions, as `condition` says in SQL."""
    return f.status == "present" and f.hash is not None and f.v_renditions < pipeline.RENDITIONS


def _at(version: int) -> Any:
    """The file waits for its renditions, which were made by recipe `version` (0: none)."""
    return (File.v_renditions == version) & _renderable()


def _renderable() -> Any:
    """The file is on disk and identified: what it holds can be rendered."""
    return (File.status == "present") & File.hash.is_null(False)


def pending(limit: int) -> list[File]:
    """Up to `limit` pending files (with their root), new files first, newest first."""
    found: list[File] = []
    for version in range(pipeline.RENDITIONS):
        if len(found) >= limit:
            break
        query = (
            File.select(File, Root)
            .join(Root)
            .where(_at(version))
            .order_by(File.id.desc())
            .limit(limit - len(found))
        )
        found += list(query)
    return found


def count() -> int:
    """How many files wait for their renditions."""
    return sum(int(File.select().where(_at(v)).count()) for v in range(pipeline.RENDITIONS))
