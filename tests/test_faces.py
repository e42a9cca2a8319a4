"""The faces stage on real photos (the shared corpus): how many faces each photo shows, the
same man and the same woman found again across photos and kept apart, crops on disk, and
re-runs that keep what a person confirmed. Needs the `faces` extra and the corpus; skips
without either."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Library
from shoebox.catalog import people, visibility
from shoebox.catalog.models import Enriched, Face, Person, Photo
from shoebox.config import Settings
from shoebox.enrich.runner import Enricher
from shoebox.enrich.stages import load

FACES = "photoprism__photoprism/internal/ai/face/testdata"
# Faces per photo, checked by eye (3.jpg: a far-away walker; 8.jpg: hair over the face).
COUNTS = {
    "1.jpg": 2, "12.jpg": 1, "13.jpg": 0, "16.jpg": 2, "17.jpg": 2, "18.jpg": 2, "19.jpg": 0,
    "3.jpg": 0, "5.jpg": 1, "7.jpg": 0, "8.jpg": 0,
    "overlap/2.jpg": 2, "overlap/3.jpg": 2, "overlap/4.jpg": 2,
}  # fmt: skip
# The man with dark hair: the face of his in each photo, as (photo, left edge of the box).
MAN = {"1.jpg": 0.45, "16.jpg": 0.29, "17.jpg": 0.26, "18.jpg": 0.34,
       "overlap/2.jpg": 0.26, "overlap/3.jpg": 0.50, "overlap/4.jpg": 0.46}  # fmt: skip
# Faces in the open (no mask, no stick in the mouth, no profile): these the clustering must join.
CLEAR = {"17.jpg", "18.jpg", "overlap/2.jpg", "overlap/3.jpg", "overlap/4.jpg"}
WOMAN = {"1.jpg": 0.19, "12.jpg": 0.52, "16.jpg": 0.52, "17.jpg": 0.45,
         "overlap/2.jpg": 0.48, "overlap/3.jpg": 0.10, "overlap/4.jpg": 0.12}  # fmt: skip


@pytest.fixture(scope="module")
def models() -> Any:
    pytest.importorskip("mediapipe", reason="the faces extra is not installed")
    pytest.importorskip("dlib", reason="the faces extra is not installed")
    from shoebox.enrich.faces import Models

    loaded = Models()
    yield loaded
    loaded.close()


def _preview(path: Path) -> Any:
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((1600, 1600))
    return image


@pytest.mark.corpus
def test_faces_found_per_photo(corpus: Path, models: Any) -> None:
    found = {name: len(models.faces(_preview(corpus / FACES / name))) for name in COUNTS}
    assert found == COUNTS


@pytest.mark.corpus
def test_same_person_is_near_and_others_far(corpus: Path, models: Any) -> None:
    import numpy as np

    def vector(name: str, left: float) -> Any:
        faces = models.faces(_preview(corpus / FACES / name))
        face = min(faces, key=lambda f: abs(f.x - left))
        return np.frombuffer(face.embedding, dtype=np.float32)

    man = {n: vector(n, x) for n, x in MAN.items()}
    woman = {n: vector(n, x) for n, x in WOMAN.items()}
    clear = [v for n, v in man.items() if n in CLEAR]
    same = [float(np.linalg.norm(a - b)) for a in clear for b in clear if a is not b]
    apart = [float(np.linalg.norm(a - b)) for a in man.values() for b in woman.values()]
    assert max(same) < 0.5  # the threshold joins every clear face of his
    assert min(apart) > 0.55  # and none of hers
    assert float(np.median(apart)) > 0.8


def _faces_library(library: Library, corpus: Path) -> Library:
    for name in COUNTS:
        target = library.root / name.replace("/", "-")
        shutil.copyfile(corpus / FACES / name, target)
    library.index()
    return library


def _stage(settings: Settings) -> Any:
    stages, off = load(settings)
    faces = [s for s in stages if s.name == "faces"]
    assert faces, off
    return faces[0]


def _count(library: Library, name: str) -> int:
    photo = library.photo_of(name.replace("/", "-"))
    return int(Face.select().where(Face.photo == photo["id"]).count())


def _person_of(library: Library, name: str, left: float) -> int | None:
    photo = library.photo_of(name.replace("/", "-"))
    face = min(Face.select().where(Face.photo == photo["id"]), key=lambda f: abs(f.x - left))
    return face.person_id


@pytest.mark.corpus
def test_stage_groups_the_man_and_the_woman(library: Library, corpus: Path, models: Any) -> None:
    _faces_library(library, corpus)
    stage = _stage(library.settings)
    enricher = Enricher([stage])
    try:
        counts = enricher.run_all()
    finally:
        enricher.close()
    assert counts.failed == 0
    per_photo = {n: _count(library, n) for n in COUNTS}
    assert {n: c for n, c in per_photo.items() if COUNTS[n]} == {
        n: c for n, c in COUNTS.items() if c
    }
    # The previews are re-encoded: on 19.jpg (flowers) the detector sees a face at 0.61.
    assert sum(c for n, c in per_photo.items() if not COUNTS[n]) <= 1
    man = {_person_of(library, n, x) for n, x in MAN.items() if n in CLEAR}
    woman = {_person_of(library, n, x) for n, x in WOMAN.items()} - {None}
    assert len(man) == 1 and None not in man  # one person, found again across photos
    assert woman and not woman & man  # nobody holds faces of both
    assert _person_of(library, "5.jpg", 0.49) is None  # seen once: waits among the unknown
    assert Person.select().count() == 1 + len(woman)
    for face in Face.select():
        crop = people.crop_path(library.settings.library.cache, face.id)
        assert crop.stat().st_size > 1000
    # person: search, in any case, after naming
    (man_id,) = man
    people.rename(people.person(man_id, visibility.OPERATOR), "Tom")
    found = {p["id"] for p in library.photos("person:tom")}
    assert found == {p.id for p in Photo.select().join(Face).where(Face.person == man_id)}
    assert {library.photo_of(n.replace("/", "-"))["id"] for n in CLEAR} <= found
    assert Enriched.select().where(Enriched.stage == "faces").count() == Photo.select().count()


@pytest.mark.corpus
def test_rerun_keeps_confirmed_and_rejections(library: Library, corpus: Path, models: Any) -> None:
    _faces_library(library, corpus)
    stage = _stage(library.settings)
    enricher = Enricher([stage])
    enricher.run_all()
    photo = library.photo_of("overlap-4.jpg")["id"]
    faces = list(Face.select().where(Face.photo == photo).order_by(Face.x))
    woman, man = faces  # the woman is on the left
    anna = people.name_face(woman, "Anna")
    people.reject(man, people.person(man.person_id, visibility.OPERATOR))
    rejected_from = man.person_id
    stage.version = 2  # a new recipe: every photo runs again
    enricher.run_all()
    enricher.close()
    again = list(Face.select().where(Face.photo == photo).order_by(Face.x))
    assert [f.id for f in again] == [woman.id, man.id]  # the same faces, not new rows
    assert again[0].person_id == anna.id and again[0].confirmed
    assert again[1].person_id != rejected_from
    assert {n: _count(library, n) for n in COUNTS if COUNTS[n]} == {
        n: c for n, c in COUNTS.items() if c
    }


def test_stage_is_off_without_the_extra(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real(name, *a)
    )
    stages, off = load(library.settings)
    assert "faces" not in [s.name for s in stages]
    assert "faces: off (install the faces extra: pip install 'shoebox[faces]')" in off
