"""The durable "to write" list: what the family changed in the catalog that the daemon has yet
to write beside the library. A *photo* on it wants its XMP sidecars rewritten (favourite and
archive flags, the names on its faces: `shoebox.sidecars`); an *album* wants its album files
rewritten, or removed when the album is gone (`shoebox.albumfiles`).

The viewer and the command line only mark (an upsert: marking again moves `marked_at` on).
The daemon takes a batch, writes the files, and drops the rows it wrote, unless they were
marked again meanwhile: those stay for its next turn. A crash between writing a file and
dropping its row writes that file once more, nothing worse.

The list also says which files beside the library are older than the catalog: while a photo
or an album is on it, the index does not take its sidecar or album file back in. Rows stay
while `[library] write_sidecars` is off, so turning it on writes everything that changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from peewee import MySQLDatabase

from shoebox.catalog.models import Album, Face, PendingWrite, Person, Photo, utcnow

Kind = Literal["photo", "album"]
_CHUNK = 500


def mark(kind: Kind, ids: Iterable[int]) -> None:
    """Put these photos or albums on the list (again)."""
    wanted = sorted(set(ids))
    now = utcnow()
    db = PendingWrite._meta.database
    for start in range(0, len(wanted), _CHUNK):
        rows = [
            {"kind": kind, "target": i, "marked_at": now} for i in wanted[start : start + _CHUNK]
        ]
        insert = PendingWrite.insert_many(rows)
        if isinstance(db, MySQLDatabase):
            insert.on_conflict(update={PendingWrite.marked_at: now}).execute()
        else:
            insert.on_conflict(
                conflict_target=[PendingWrite.kind, PendingWrite.target],
                update={PendingWrite.marked_at: now},
            ).execute()


def mark_person(person_id: int) -> None:
    """The photos showing this person (their regions carry the person's name)."""
    mark("photo", photos_with_faces(Face.person == person_id))


def mark_faces(face_ids: Iterable[int]) -> None:
    mark("photo", photos_with_faces(Face.id.in_(list(face_ids))))


def photos_with_faces(condition: Any) -> list[int]:
    rows: Any = Face.select(Face.photo).where(condition).distinct().tuples()
    return [row[0] for row in rows]


def mark_everything() -> None:
    """Every photo that holds something the family made, and every album (after a migration,
    or to write the whole library's files again)."""
    flagged: Any = Photo.select(Photo.id).where(Photo.favorite | Photo.archived).tuples()
    mark("photo", (row[0] for row in flagged))
    named = Face.person.in_(Person.select(Person.id).where(Person.name.is_null(False)))
    mark("photo", photos_with_faces(named))
    albums: Any = Album.select(Album.id).tuples()
    mark("album", (row[0] for row in albums))


def pending(kind: Kind, ids: Iterable[int]) -> set[int]:
    """Which of these photos or albums wait to be written."""
    wanted = list(set(ids))
    found: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        rows: Any = (
            PendingWrite.select(PendingWrite.target)
            .where(
                PendingWrite.kind == kind, PendingWrite.target.in_(wanted[start : start + _CHUNK])
            )
            .tuples()
        )
        found.update(row[0] for row in rows)
    return found


def take(limit: int) -> list[PendingWrite]:
    """The oldest rows, at most `limit`."""
    return list(
        PendingWrite.select().order_by(PendingWrite.marked_at, PendingWrite.id).limit(limit)
    )


def done(rows: Iterable[PendingWrite]) -> None:
    """These rows were written: drop those not marked again since they were taken."""
    for row in rows:
        PendingWrite.delete().where(
            PendingWrite.id == row.id, PendingWrite.marked_at == row.marked_at
        ).execute()


def waiting() -> int:
    return int(PendingWrite.select().count())
