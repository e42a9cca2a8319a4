"""The faces stage on real photos (the shared corpus): how many faces each photo shows, the
same man and the same woman found again across photos and kept apart, crops on disk, re-runs
that keep what a person confirmed and never bring back what a person called "not a face",
small faces in a 12-MP picture and faces turned by EXIF orientation. Needs the `faces` extra
and the corpus; skips without either. The tiling's geometry (`tiles`) is tested on its own,
without models."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Library
from shoebox.catalog import people, visibility
from shoebox.catalog.models import Enriched, Face, Person, Photo
from shoebox.config import Settings
from shoebox.enrich.runner import Enricher
from shoebox.enrich.stages import load

FACES = "photoprism__photoprism/internal/ai/face/testdata"
# Faces per photo, checked by eye (3.jpg: a far-away walker, 30 px wide, found since the
# detector looks at photos in tiles; 8.jpg: hair over the face).
COUNTS = {
    "1.jpg": 2, "12.jpg": 1, "13.jpg": 0, "16.jpg": 2, "17.jpg": 2, "18.jpg": 2, "19.jpg": 0,
    "3.jpg": 1, "5.jpg": 1, "7.jpg": 0, "8.jpg": 0,
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


def _picture(path: Path) -> Any:
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


SMALLEST = 40  # [faces] smallest_face's default


@pytest.mark.corpus
def test_faces_found_per_photo(corpus: Path, models: Any) -> None:
    found = {name: len(models.faces(_picture(corpus / FACES / name), SMALLEST)) for name in COUNTS}
    assert found == COUNTS


@pytest.mark.corpus
def test_same_person_is_near_and_others_far(corpus: Path, models: Any) -> None:
    import numpy as np

    def vector(name: str, left: float) -> Any:
        faces = models.faces(_picture(corpus / FACES / name), SMALLEST)
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


@pytest.mark.corpus
@pytest.mark.parametrize("zoom", [1, 3])  # 3: a 12-MP-sized picture, where dlib scales down
def test_embedding_from_the_region_is_the_one_from_the_whole_picture(
    corpus: Path, models: Any, zoom: int
) -> None:
    from PIL import Image

    from shoebox.enrich import tiles

    compared = 0
    for name in ("16.jpg", "17.jpg", "5.jpg", "overlap/3.jpg"):
        picture = _picture(corpus / FACES / name)
        picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.BILINEAR)
        whole = np.ascontiguousarray(np.asarray(picture, dtype=np.uint8))
        for face in models.faces(picture, SMALLEST * zoom):
            w, h = picture.size
            box = tiles.Box(face.x * w, face.y * h, face.width * w, face.height * h, face.score)
            rect = models.rectangle(
                round(box.left), round(box.top),
                round(box.left + box.width), round(box.top + box.height),
            )  # fmt: skip
            shape = models.landmarks(whole, rect)
            expected = np.array(models.encoder.compute_face_descriptor(whole, shape))
            got = np.frombuffer(face.embedding, dtype=np.float32)
            assert np.abs(got - expected.astype(np.float32)).max() <= 1e-6, name
            compared += 1
    assert compared >= 6  # 7 faces; at 3x, one is missed


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
    assert sum(c for n, c in per_photo.items() if not COUNTS[n]) == 0  # no false faces
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
    rejected_from = man.person_id
    assert rejected_from is not None
    people.reject(man, people.person(rejected_from, visibility.OPERATOR))
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


# --- tiles: where the detector looks, without models -----------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "smallest"),
    [(4000, 3000, 40), (3000, 4000, 20), (1600, 1200, 40), (640, 480, 16), (8000, 6000, 40),
     (5000, 200, 30), (150, 100, 40)],
)  # fmt: skip
def test_every_face_lies_whole_in_a_square_at_a_level_that_sees_it(
    width: int, height: int, smallest: int
) -> None:
    """A face from `smallest` px up, anywhere, is inside one square of a level where it is
    RELIABLE_PX (FIT of it at worst) to MODEL_PX / 2 wide (or of level 0 when larger)."""
    from shoebox.enrich import tiles

    levels = tiles.plan(width, height, smallest)
    assert levels[0].squares == ((0, 0),) and levels[0].scale == 192 / max(width, height)
    assert [lv.scale for lv in levels] == sorted(lv.scale for lv in levels)
    assert levels[-1].scale <= max(1.0, levels[0].scale)  # a small picture: seen larger
    rng = np.random.default_rng(width + height + smallest)
    for _ in range(300):
        side = float(rng.uniform(smallest, max(smallest + 1, min(width, height))))
        left = float(rng.uniform(0, max(0.0, width - side)))
        top = float(rng.uniform(0, max(0.0, height - side)))
        assert any(_sees(lv, left, top, side, width, height) for lv in levels), (left, top, side)


def _sees(level: Any, left: float, top: float, side: float, width: int, height: int) -> bool:
    from shoebox.enrich import tiles

    seen = side * level.scale
    if seen < min(tiles.RELIABLE_PX * tiles.FIT, side):
        return False
    if level.scale == tiles.MODEL_PX / max(width, height):
        return True  # level 0: the whole picture in one square
    x, y, s = left * level.scale, top * level.scale, seen
    return seen <= tiles.MODEL_PX / 2 and any(
        sx <= x
        and x + s <= sx + tiles.MODEL_PX + 1
        and sy <= y
        and y + s <= sy + tiles.MODEL_PX + 1
        for sx, sy in level.squares
    )


def test_finest_scale_and_cost_grow_with_the_smallest_face() -> None:
    from shoebox.enrich import tiles

    assert tiles.finest_scale(4000, 3000, 40) == tiles.RELIABLE_PX / 40
    assert tiles.finest_scale(4000, 3000, 8) == 1.0  # never finer than the picture
    assert tiles.finest_scale(300, 200, 200) == 192 / 300  # never coarser than the whole
    squares = [sum(len(lv.squares) for lv in tiles.plan(4000, 3000, s)) for s in (80, 40, 20)]
    assert squares[0] < squares[1] < squares[2]
    assert [len(tiles.plan(150, 100, s)) for s in (40, 10)] == [1, 1]  # small: one look


def test_plan_fits_the_finest_level_to_the_picture() -> None:
    """A 12-MP photo from 40 px: the finest level a little under 0.4 (faces of 40 px seen 14
    px wide, not 16) fits 9 x 7 squares instead of 10 x 8, and the coarser levels shrink with
    it: 88 squares instead of 109 (90 for a phone's 4032 x 3024)."""
    from shoebox.enrich import tiles

    for width, height, squares in (
        (4000, 3000, [1, 4, 20, 63]),
        (3000, 4000, [1, 4, 20, 63]),
        (4032, 3024, [1, 6, 20, 63]),
    ):
        levels = tiles.plan(width, height, 40)
        assert tiles.FIT * 0.4 <= levels[-1].scale < 0.4
        assert [len(lv.squares) for lv in levels] == squares
    assert tiles.plan(1600, 1200, 40)[-1].scale == 0.4  # nothing to save: as wanted


def test_merge_keeps_the_surest_of_one_face() -> None:
    from shoebox.enrich.tiles import Box, merge

    face = Box(100, 100, 40, 40, 0.9)
    shifted = Box(104, 98, 42, 40, 0.7)  # the same face from the next square
    part = Box(110, 110, 15, 15, 0.65)  # half of it, in a square that cuts it
    other = Box(141, 100, 40, 40, 0.6)  # a neighbour, touching
    far = Box(900, 10, 20, 20, 0.5)
    assert merge([shifted, part, face, other, far]) == [face, other, far]
    assert merge([face, shifted]) == [face]
    assert merge([]) == []
    assert Box(0, 0, 10, 10, 1).iou(Box(5, 0, 10, 10, 1)) == pytest.approx(1 / 3)


# --- the stage on the pictures it meets ------------------------------------------------------


def _paste_faces(corpus: Path, target: Path, sizes: list[int], orientation: int = 1) -> list[Any]:
    """A 4000 x 3000 picture (a corpus photo without faces, scaled up) with the man's face of
    17.jpg pasted at these widths along a row; the boxes (fractions of the upright picture)."""
    from PIL import Image, ImageDraw, ImageFilter

    from shoebox.enrich.faces import Detector

    source = _picture(corpus / FACES / "17.jpg")
    detector = Detector()
    box = max(detector.boxes(source, 40), key=lambda b: b.width)
    detector.close()
    picture = _picture(corpus / FACES / "13.jpg").resize((4000, 3000))
    truth = []
    x = 200
    for width in sizes:
        zoom = width / box.width
        cut = source.resize((round(source.width * zoom), round(source.height * zoom)))
        left, top = box.left * zoom, box.top * zoom
        w, h = box.width * zoom, box.height * zoom
        margin = (round(left - 0.3 * w), round(top - 0.4 * h), round(left + 1.3 * w))
        cut = cut.crop((*margin, round(top + 1.3 * h)))
        mask = Image.new("L", cut.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, cut.width, cut.height), fill=255)
        picture.paste(cut, (x, 1500), mask.filter(ImageFilter.GaussianBlur(2)))
        truth.append(((x + left - margin[0]) / 4000, (1500 + top - margin[1]) / 3000))
        x += cut.width + 150
    exif = Image.Exif()
    if orientation == 6:  # stored turned a quarter to the left, to be shown turned back
        picture = picture.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    picture.save(target, quality=90, exif=exif)
    return truth


@pytest.mark.corpus
@pytest.mark.parametrize("orientation", [1, 6])
def test_small_faces_in_a_12_mp_photo(
    library: Library, corpus: Path, models: Any, orientation: int
) -> None:
    """A row of faces 48 to 160 px wide in a 12-MP photo (the whole frame shows the detector
    none of them), upright or turned by EXIF orientation: every one found, where it is."""
    if library.settings.database.url.startswith("mysql"):
        pytest.skip("the catalog plays no part here: once is enough")
    truth = _paste_faces(corpus, library.root / "row.jpg", [48, 64, 96, 160], orientation)
    library.index()
    stage = _stage(library.settings)
    enricher = Enricher([stage])
    try:
        assert enricher.run_all().failed == 0
    finally:
        enricher.close()
    faces = sorted(Face.select(), key=lambda f: f.x)
    assert len(faces) == len(truth)
    for face, (x, y) in zip(faces, truth, strict=True):
        assert abs(face.x - x) < 0.01 and abs(face.y - y) < 0.02
    assert all(len(f.embedding) == 512 for f in faces)  # big enough to be described


@pytest.mark.corpus
def test_not_a_face_is_not_found_again(library: Library, corpus: Path, models: Any) -> None:
    _faces_library(library, corpus)
    stage = _stage(library.settings)
    enricher = Enricher([stage])
    enricher.run_all()
    photo = library.photo_of("overlap-4.jpg")["id"]
    woman, man = sorted(Face.select().where(Face.photo == photo), key=lambda f: f.x)
    people.not_a_face(man, library.settings.library.cache)
    stage.version += 1  # a new recipe: every photo runs again
    enricher.run_all()
    enricher.close()
    again = list(Face.select().where(Face.photo == photo))
    assert [f.id for f in again] == [woman.id]  # the other one is not back


def test_a_photo_of_unknown_size_without_a_preview_fails_alone(library: Library) -> None:
    """A photo whose size is unknown and whose renditions are missing is the faces stage's
    recorded failure, not a division by zero that stopped the daemon's indexer."""
    import datetime as dt

    from conftest import add_photo
    from shoebox.catalog.models import IngestError, Root
    from shoebox.enrich.faces import FacesStage

    pytest.importorskip("mediapipe", reason="the faces extra is not installed")
    root = Root.create(path=str(library.root), path_key="r" * 32)
    photo_id = add_photo(root.id, "gone.jpg", dt.datetime(2024, 1, 1), width=None, height=None)
    stage = FacesStage(library.settings)
    try:
        failures = stage.run([Photo.get_by_id(photo_id)])
    finally:
        stage.close()
    assert "cannot read the preview" in failures[photo_id]
    assert IngestError.select().count() == 0  # the runner records it, not the stage
