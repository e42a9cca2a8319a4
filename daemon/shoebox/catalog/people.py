"""People in the catalog: what a person may do with them, and what the viewer reads.

The faces stage (`shoebox.enrich.faces`) finds faces and groups them; everything here is the
household's word, which always wins over the clustering:
- `rename` a person, `set_hidden` (a hidden person keeps collecting faces, so a stranger's
  faces do not form a new person again, but is left out of the people list);
- `merge` one person into another;
- `reject` a face from a person ("not this person": remembered in `FaceRejection`, so the
  clustering never puts that face there again) and `remove_face` (the same, for the person
  the face is with now);
- `assign` a face to a person, or `name_face` (to the person of that name, made if new): both
  confirmed, so re-running the stage keeps them;
- `not_a_face`: the face is deleted and its box remembered (`NotFace`), so the faces stage
  never makes a face there again and the grouping never sees it;
- `suggestions` ("same person?": unknown faces alike but too few to become a person by
  themselves), `accept` one (a new person, confirmed) or `dismiss` it (never offered again).

A person left with no faces and no name is deleted. The photos whose names change go on the
to-write list (`outbox`), for their sidecars. Nothing here imports numpy or the models:
the viewer uses this module. Bad input is a `UsageError`, an unknown id a `NotFound`.

What the viewer reads is read for a viewer (`shoebox.catalog.visibility`): the faces on photos
it does not see are not counted, listed or changed, and a person whose every face is on such
photos is nobody it knows of.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peewee import JOIN, fn

from shoebox.catalog import outbox, visibility
from shoebox.catalog.models import (
    Face,
    FaceRejection,
    NotFace,
    Person,
    Photo,
    Suggestion,
    SuggestionFace,
)
from shoebox.errors import NotFound as NoSuchThing
from shoebox.errors import UsageError

MAX_NAME = 100  # Person.name's column width


class NotFound(NoSuchThing):
    """No person or face with that id (that the viewer knows of)."""


def crop_path(cache: Path, face_id: int) -> Path:
    """Where the faces stage puts a face's crop, and the viewer finds it."""
    return cache / "faces" / f"{face_id}.jpg"


def person(person_id: Any, viewer: visibility.Viewer) -> Any:
    found = Person.get_or_none((Person.id == _id(person_id, "person")) & _known_to(viewer))
    if found is None:
        raise NotFound(f"no person {person_id}")
    return found


def face(face_id: Any, viewer: visibility.Viewer) -> Any:
    found = visibility.restrict(
        Face.select().where(Face.id == _id(face_id, "face")), viewer, Face.photo
    )
    rows = list(found)
    if not rows:
        raise NotFound(f"no face {face_id}")
    return rows[0]


def _known_to(viewer: visibility.Viewer) -> Any:
    """The people a viewer knows of: with a face on a photo it sees, or with no face at all."""
    seen = visibility.visible(viewer, Face.photo)
    if seen is None:
        return Person.id.is_null(False)
    with_faces = Face.select(Face.person).where(Face.person.is_null(False))
    return Person.id.in_(with_faces.where(seen)) | Person.id.not_in(with_faces)


def _faces(viewer: visibility.Viewer) -> Any:
    """The condition on `Face` rows of the photos a viewer sees (True when it sees all)."""
    seen = visibility.visible(viewer, Face.photo)
    return Face.id.is_null(False) if seen is None else seen


def clean_name(name: Any) -> str | None:
    """A person's name as typed: trimmed, one line, at most MAX_NAME characters; "" is None
    (unnamed)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise UsageError("name must be text")
    text = " ".join(name.split())
    if len(text) > MAX_NAME:
        raise UsageError(f"name: at most {MAX_NAME} characters")
    if "|" in text:
        raise UsageError("name: may not hold |")  # it separates names in person:a|b
    return text or None


def rename(who: Any, name: Any) -> None:
    who.name = clean_name(name)
    who.save()
    outbox.mark_person(who.id)


def set_hidden(who: Any, hidden: Any) -> None:
    if not isinstance(hidden, bool):
        raise UsageError("hidden must be true or false")
    who.hidden = hidden
    who.save()


def merge(source: Any, into: Any) -> None:
    """Every face of `source` becomes `into`'s (as it was: confirmed or not); `source`'s
    rejections carry over, and `source` is deleted. `into` keeps its name, or takes
    `source`'s when it has none."""
    if source.id == into.id:
        raise UsageError("a person cannot be merged into themselves")
    db = Person._meta.database
    with db.atomic():
        Face.update(person=into.id).where(Face.person == source.id).execute()
        held = {r.face_id for r in FaceRejection.select().where(FaceRejection.person == into.id)}
        for rejection in FaceRejection.select().where(FaceRejection.person == source.id):
            if rejection.face_id not in held:
                FaceRejection.create(face=rejection.face_id, person=into.id)
        FaceRejection.delete().where(FaceRejection.person == source.id).execute()
        if not into.name and source.name:
            into.name = source.name
            into.save()
        source.delete_instance()
        outbox.mark_person(into.id)


def reject(the_face: Any, who: Any) -> None:
    """ "Not this person": remembered; the face leaves them if it is theirs now."""
    db = Face._meta.database
    with db.atomic():
        if (
            not FaceRejection.select()
            .where((FaceRejection.face == the_face.id) & (FaceRejection.person == who.id))
            .exists()
        ):
            FaceRejection.create(face=the_face.id, person=who.id)
        if the_face.person_id == who.id:
            the_face.person = None
            the_face.confirmed = False
            the_face.save()
        outbox.mark_faces([the_face.id])
    _drop_if_empty(who)


def remove_face(the_face: Any) -> None:
    """A wrong face out of its person: back among the unknown, and never put there again."""
    if the_face.person_id is None:
        raise UsageError(f"face {the_face.id} belongs to nobody")
    reject(the_face, Person.get_by_id(the_face.person_id))


def assign(the_face: Any, who: Any) -> None:
    """The face is this person's, as a person said (confirmed); an earlier "not this person"
    for this pair is forgotten."""
    previous = the_face.person_id
    db = Face._meta.database
    with db.atomic():
        FaceRejection.delete().where(
            (FaceRejection.face == the_face.id) & (FaceRejection.person == who.id)
        ).execute()
        the_face.person = who.id
        the_face.confirmed = True
        the_face.save()
        outbox.mark_faces([the_face.id])
    if previous is not None and previous != who.id:
        _drop_if_empty(Person.get_by_id(previous))


def name_face(the_face: Any, name: Any) -> Any:
    """The face is the person of this name (any case), a new person when nobody has it."""
    text = clean_name(name)
    if text is None:
        raise UsageError("name: give a name")
    who = by_name(text) or Person.create(name=text)
    assign(the_face, who)
    return who


def not_a_face(the_face: Any, cache: Path) -> None:
    """ "Not a face": the face goes, with its crop, its "not this person" memory and its place
    in a suggestion; its box is remembered for the faces stage. A person left with no faces
    and no name goes too."""
    owner = the_face.person_id
    db = Face._meta.database
    with db.atomic():
        NotFace.create(
            photo=the_face.photo_id, x=the_face.x, y=the_face.y, width=the_face.width,
            height=the_face.height,
        )  # fmt: skip
        FaceRejection.delete().where(FaceRejection.face == the_face.id).execute()
        SuggestionFace.delete().where(SuggestionFace.face == the_face.id).execute()
        the_face.delete_instance()
    crop_path(cache, the_face.id).unlink(missing_ok=True)
    if owner is not None:
        left = Person.get_or_none(Person.id == owner)
        if left is not None:
            _drop_if_empty(left)


def suggestion(suggestion_id: Any, viewer: visibility.Viewer) -> Any:
    """A suggestion with at least one face on a photo the viewer sees."""
    sid = _id(suggestion_id, "suggestion")
    seen = SuggestionFace.select(SuggestionFace.suggestion).join(Face).where(_faces(viewer))
    found = Suggestion.get_or_none((Suggestion.id == sid) & Suggestion.id.in_(seen))
    if found is None:
        raise NotFound(f"no suggestion {suggestion_id}")
    return found


def suggestions(viewer: visibility.Viewer, limit: int = 12) -> list[dict[str, Any]]:
    """Open "same person?" suggestions, newest first: each with its faces that still belong
    to nobody (two or more), of the photos the viewer sees."""
    unknown = fn.COUNT(SuggestionFace.id)
    found: list[Any] = list(
        SuggestionFace.select(SuggestionFace.suggestion)
        .join(Face)
        .switch(SuggestionFace)
        .join(Suggestion)
        .where(Face.person.is_null() & (Suggestion.dismissed == False) & _faces(viewer))  # noqa: E712
        .group_by(SuggestionFace.suggestion)
        .having(unknown >= 2)
        .order_by(SuggestionFace.suggestion.desc())
        .limit(limit)
        .tuples()
    )
    ids = [int(row[0]) for row in found]
    faces: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = (
        SuggestionFace.select(SuggestionFace, Face)
        .join(Face)
        .where(SuggestionFace.suggestion.in_(ids) & Face.person.is_null() & _faces(viewer))
        .order_by(Face.id)
    )
    for row in rows:
        faces[row.suggestion_id].append(_face_dict(row.face))
    return [{"id": i, "faces": faces[i]} for i in ids]


def accept(the_suggestion: Any, viewer: visibility.Viewer, name: Any = None) -> Any:
    """A suggestion's faces (those still nobody's, on photos the viewer sees) are one person,
    as a person said: a new one, or the person of that name."""
    if the_suggestion.dismissed:
        raise UsageError(f"suggestion {the_suggestion.id} was refused")
    text = clean_name(name)
    faces = list(
        Face.select()
        .join(SuggestionFace)
        .where(
            (SuggestionFace.suggestion == the_suggestion.id)
            & Face.person.is_null()
            & _faces(viewer)
        )
    )
    if len(faces) < 2:
        raise UsageError("this suggestion holds fewer than two unknown faces now")
    db = Face._meta.database
    with db.atomic():
        who = (by_name(text) if text else None) or Person.create(name=text)
        for the_face in faces:
            assign(the_face, who)
        the_suggestion.delete_instance()
    return who


def dismiss(the_suggestion: Any) -> None:
    """ "Not the same person": the suggestion is kept as refused, so it is not offered again."""
    the_suggestion.dismissed = True
    the_suggestion.save()


def by_name(name: str) -> Any:
    """The person of this name, in any case (the oldest, if two share it)."""
    found = list(
        Person.select().where(fn.LOWER(Person.name) == name.lower()).order_by(Person.id).limit(1)
    )
    return found[0] if found else None


def photos_named(names: list[str]) -> Any:
    """A sub-query of the ids of photos showing anyone of these names (any case; hidden
    people too: `person:` is asked for by name)."""
    lowered = [name.lower() for name in names]
    return Face.select(Face.photo).join(Person).where(fn.LOWER(Person.name).in_(lowered))


def photos_of(person_id: int) -> Any:
    """A sub-query of the ids of the photos showing this person."""
    return Face.select(Face.photo).where(Face.person == person_id)


def listing(viewer: visibility.Viewer, hidden: bool = False) -> list[dict[str, Any]]:
    """The people the viewer knows of, named ones first (by name), then unnamed ones, most
    faces (that it sees) first; with `hidden`, the hidden ones instead."""
    count = fn.COUNT(Face.id)
    rows: Any = (
        Person.select(Person, count.alias("faces"))
        .join(Face, JOIN.LEFT_OUTER, on=(Face.person == Person.id) & _faces(viewer))
        .where((Person.hidden == hidden) & _known_to(viewer))
        .group_by(Person.id)
    )
    people: list[dict[str, Any]] = [
        {
            "id": p.id,
            "name": p.name,
            "hidden": bool(p.hidden),
            "faces": int(p.faces),
            "cover_face_id": cover_face(p.id, viewer),
        }
        for p in rows
    ]
    people.sort(key=lambda p: (p["name"] is None, (p["name"] or "").lower(), -p["faces"]))
    return people


def as_dict(who: Any, viewer: visibility.Viewer) -> dict[str, Any]:
    faces = Face.select().where((Face.person == who.id) & _faces(viewer)).count()
    return {
        "id": who.id,
        "name": who.name,
        "hidden": bool(who.hidden),
        "faces": faces,
        "cover_face_id": cover_face(who.id, viewer),
    }


def cover_face(person_id: int, viewer: visibility.Viewer) -> int | None:
    """The face that stands for a person (of those the viewer sees): a confirmed one if any,
    then the detector's surest."""
    found: list[Any] = list(
        Face.select(Face.id)
        .where((Face.person == person_id) & _faces(viewer))
        .order_by(Face.confirmed.desc(), Face.score.desc(), Face.id)
        .limit(1)
        .tuples()
    )
    return int(found[0][0]) if found else None


def faces_of_person(
    person_id: int, viewer: visibility.Viewer, limit: int = 500
) -> list[dict[str, Any]]:
    rows = (
        Face.select(Face, Photo.taken_at_local)
        .join(Photo)
        .where((Face.person == person_id) & _faces(viewer))
        .order_by(Photo.taken_at.desc(), Face.id.desc())
        .limit(limit)
    )
    return [_face_dict(f, taken=f.photo.taken_at_local.date().isoformat()) for f in rows]


def unknown_faces(viewer: visibility.Viewer, limit: int = 60) -> tuple[int, list[dict[str, Any]]]:
    """How many faces (that the viewer sees) belong to nobody, and the newest of them."""
    waiting = Face.select().where(Face.person.is_null() & _faces(viewer))
    rows = waiting.order_by(Face.id.desc()).limit(limit)
    return waiting.count(), [_face_dict(f) for f in rows]


def faces_in_photo(photo_id: int) -> list[dict[str, Any]]:
    """The faces on one photo, left to right, with their person (hidden people are not
    named here). The caller has checked that its viewer sees the photo."""
    rows = (
        Face.select(Face, Person)
        .join(Person, JOIN.LEFT_OUTER)
        .where(Face.photo == photo_id)
        .order_by(Face.x, Face.id)
    )
    faces = []
    for f in rows:
        who: Any = f.person if f.person_id is not None else None
        shown = who is not None and not who.hidden
        faces.append(
            _face_dict(
                f,
                person_name=(who.name or "") if shown else "",
                person_shown=shown,
            )
        )
    return faces


def _face_dict(f: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "photo_id": f.photo_id,
        "person_id": f.person_id,
        "box": [round(f.x, 4), round(f.y, 4), round(f.width, 4), round(f.height, 4)],
        "score": round(f.score, 3),
        "confirmed": bool(f.confirmed),
        **extra,
    }


def _drop_if_empty(who: Any) -> None:
    if who.name is None and not Face.select().where(Face.person == who.id).exists():
        who.delete_instance()


def _id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UsageError(f"{what}: wants an id")
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise UsageError(f"{what}: wants an id, not {text[:20]!r}")
    return int(text)
