"""Grouping faces into people, incrementally, as photos arrive.

Faces are compared by the Euclidean distance of their 128-D embeddings (dlib's face
recognition ResNet: the same person is mostly under 0.5 apart, different people over 0.55).
`threshold` is `[faces] match_distance`, `min_cluster` is `[faces] min_cluster`.

For each new face, in order:
1. **Join a known person.** The person owning the face *nearest* to it (nearest neighbour
   over every face of every person, not a person's average face) gets it, when that face is
   within `threshold`. Never a person the face was rejected from ("not this person"), and
   never a person who already has a face in the same photo (nobody is in a photo twice).
   Matching single faces, not an average, is what lets a child stay one person as they grow:
   their newest photos resemble last year's, not the average of ten years. Hidden people are
   matched too: hiding someone (a stranger) must not make their faces a new person again.
2. **Otherwise wait among the unknown**, and see whether a new person forms around it: for
   the face and each unknown face near it, take that face and the unknown faces within
   `threshold` of it (one per photo, the nearest). Against chaining (A near B near C, A far
   from C), a member stays only if it is within `threshold` of at least half of the others.
   The largest such group that holds the new face, if it has `min_cluster` faces or more,
   becomes a new unnamed person.
3. **Or a suggestion.** A smaller group of two or more is offered on the People page as
   "same person?" (`Suggestion`): a person's yes makes it a person (which then grows as any
   other), a no is remembered and its faces are not offered again.

Faces without an embedding (too small to describe: see `faces.MIN_EMBED_PX`) never take part;
a person can still name them. Confirmed faces (a person's word) are never moved.

The index of embeddings is read from the catalog once per batch of photos (128 float32 values a
face: 100,000 faces are 51 MB) and dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shoebox.catalog.models import Face, FaceRejection, Person, Suggestion, SuggestionFace

DIMENSIONS = 128
_READ = 5000  # faces per query when reading the index
_NOBODY = -1


@dataclass
class FaceIndex:
    """Every face that has an embedding: ids, photos, owners (-1: unknown) and vectors."""

    ids: npt.NDArray[np.int64]
    photos: npt.NDArray[np.int64]
    owners: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]

    @classmethod
    def load(cls) -> FaceIndex:
        ids: list[int] = []
        photos: list[int] = []
        owners: list[int] = []
        blobs: list[bytes] = []
        last = 0
        while True:
            rows: list[Any] = list(
                Face.select(Face.id, Face.photo, Face.person, Face.embedding)
                .where(Face.id > last)
                .order_by(Face.id)
                .limit(_READ)
                .tuples()
            )
            for face_id, photo_id, person_id, blob in rows:
                if len(blob) == DIMENSIONS * 4:
                    ids.append(face_id)
                    photos.append(photo_id)
                    owners.append(_NOBODY if person_id is None else person_id)
                    blobs.append(bytes(blob))
            if len(rows) < _READ:
                break
            last = rows[-1][0]
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, DIMENSIONS)
        return cls(
            np.array(ids, dtype=np.int64),
            np.array(photos, dtype=np.int64),
            np.array(owners, dtype=np.int64),
            vectors,
        )

    def position(self, face_id: int) -> int | None:
        found = np.flatnonzero(self.ids == face_id)
        return int(found[0]) if found.size else None

    def distances(self, i: int) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = np.linalg.norm(self.vectors - self.vectors[i], axis=1)
        return result


def place(face_ids: Iterable[int], threshold: float, min_cluster: int) -> None:
    """Put each of these (new, unconfirmed) faces with a known person, or leave it among the
    unknown and form a new person when enough unknown faces are alike."""
    wanted = list(face_ids)
    if not wanted:
        return
    index = FaceIndex.load()
    rejected: dict[int, set[int]] = {}
    for row in FaceRejection.select().where(FaceRejection.face.in_(wanted)):
        rejected.setdefault(row.face_id, set()).add(row.person_id)
    placed: list[int] = []
    for face_id in wanted:
        i = index.position(face_id)
        if i is None or index.owners[i] != _NOBODY:
            continue
        distances = index.distances(i)
        owner = nearest_person(index, i, distances, threshold, rejected.get(face_id, set()))
        if owner is not None:
            Face.update(person=owner).where(Face.id == face_id).execute()
            index.owners[i] = owner
            placed.append(face_id)
            continue
        members = new_group(index, i, distances, threshold)
        member_ids = [int(index.ids[m]) for m in members]
        if len(members) >= min_cluster:
            created = Person.create(name=None)
            Face.update(person=created.id).where(
                Face.id.in_(member_ids) & Face.person.is_null()
            ).execute()
            index.owners[members] = created.id
            placed.extend(member_ids)
        elif len(members) >= 2:
            suggest(member_ids)
    if placed:  # faces with a person are no one's suggestion any more
        SuggestionFace.delete().where(SuggestionFace.face.in_(placed)).execute()


def suggest(face_ids: list[int]) -> None:
    """Offer these unknown faces as one person: with the faces of the open suggestions they
    are in already, as one suggestion. Faces of a dismissed suggestion are left out."""
    rows = list(
        SuggestionFace.select(SuggestionFace, Suggestion)
        .join(Suggestion)
        .where(SuggestionFace.face.in_(face_ids))
    )
    refused = {r.face_id for r in rows if r.suggestion.dismissed}
    open_ids = {r.suggestion_id for r in rows if not r.suggestion.dismissed}
    faces = {f for f in face_ids if f not in refused}
    if open_ids:
        faces |= {
            r.face_id
            for r in SuggestionFace.select().where(SuggestionFace.suggestion.in_(list(open_ids)))
        }
    if len(faces) < 2:
        return
    db = Suggestion._meta.database
    with db.atomic():
        if open_ids:
            Suggestion.delete().where(Suggestion.id.in_(list(open_ids))).execute()
        created = Suggestion.create()
        SuggestionFace.insert_many(
            [{"suggestion": created.id, "face": f} for f in sorted(faces)]
        ).execute()


def nearest_person(
    index: FaceIndex,
    i: int,
    distances: npt.NDArray[np.float32],
    threshold: float,
    rejected: set[int],
) -> int | None:
    """The person owning the nearest face within `threshold`, skipping people the face was
    rejected from and people already in its photo."""
    in_photo = set(index.owners[(index.photos == index.photos[i]) & (index.owners != _NOBODY)])
    close = np.flatnonzero((distances <= threshold) & (index.owners != _NOBODY))
    for j in close[np.argsort(distances[close], kind="stable")]:
        owner = int(index.owners[j])
        if owner not in rejected and owner not in in_photo:
            return owner
    return None


def new_group(
    index: FaceIndex, i: int, distances: npt.NDArray[np.float32], threshold: float
) -> npt.NDArray[np.intp]:
    """The largest group of alike unknown faces that holds face `i` (positions in `index`)."""
    unknown = index.owners == _NOBODY
    best: npt.NDArray[np.intp] = np.array([i], dtype=np.intp)
    centres = np.flatnonzero(unknown & (distances <= threshold))
    for centre in centres:
        around = distances if centre == i else index.distances(int(centre))
        group = _one_per_photo(index, np.flatnonzero(unknown & (around <= threshold)), around)
        group = _dense(index, group, threshold)
        if i in group and group.size > best.size:
            best = group
    return best


def _one_per_photo(
    index: FaceIndex, members: npt.NDArray[np.intp], around: npt.NDArray[np.float32]
) -> npt.NDArray[np.intp]:
    seen: set[int] = set()
    kept = []
    for m in members[np.argsort(around[members], kind="stable")]:
        photo = int(index.photos[m])
        if photo not in seen:
            seen.add(photo)
            kept.append(m)
    return np.array(sorted(kept), dtype=np.intp)


def _dense(
    index: FaceIndex, members: npt.NDArray[np.intp], threshold: float
) -> npt.NDArray[np.intp]:
    """The members within `threshold` of at least half of the other members."""
    if members.size < 3:
        return members
    vectors = index.vectors[members]
    pairwise = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    near = (pairwise <= threshold).sum(axis=1) - 1  # not counting itself
    keep: npt.NDArray[np.intp] = members[near * 2 >= members.size - 1]
    return keep
