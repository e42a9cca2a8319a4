"""Faces: how many faces the faces stage finds by size, how many false ones, its time per photo
on one core and its peak memory; how well it groups them into people. Everything goes through
the real pipeline (index, renditions, the faces stage, the clustering).

Made-up group shots (the default): faces of ../shared/corpus, cut out with a soft edge, are
pasted at known sizes (16 to 200 px wide, never wider than on their own photo: an upscaled face
is not a real one) and places into 12-MP pictures (4000 x 3000, either way up) made from the
corpus's photos without faces, scaled up: group shots of 4 to 10 faces, and family photos of 0
to 3. Faces behind masks are counted apart. A pasted
face counts as found when a face box overlaps it (IoU 0.3) or sits on it at about its size.
The truth is the model's own box on the face's source photo, seen whole in one square (where
the face is large), so it does not move with the squares and second looks being measured.
False faces are counted on the corpus's own pictures (every photo, HEIC, RAW and PNG there),
against the faces counted by eye (KNOWN), and on the group shots (boxes on no pasted face).
The corpus's labelled faces (LABELS) then give the grouping's pairwise precision and recall.

A family's own photos (`--people FOLDER`): one sub-folder per person, holding photos of that
person (alone is best). The report gives, per person, the precision and recall of the person
the grouping made for them (the person found in most of their photos), and both again by the
face's width in pixels. Faces the grouping left unknown count as missed.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/faces.py --workdir /tmp/sbf
    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/faces.py --people ~/family --workdir /tmp/sbp
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from corpus import library
from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Face, File, Person, Photo
from shoebox.enrich import tiles
from shoebox.enrich.clusters import place
from shoebox.enrich.faces import FacesStage
from shoebox.enrich.runner import Enricher
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.run import Indexer

T = "photoprism__photoprism/internal/ai/face/testdata/"
# (corpus path, left edge of the face's box as a fraction, who, a child?)
LABELS = [
    (T + "1.jpg", 0.45, "man", False),  # mask and glasses
    (T + "16.jpg", 0.29, "man", False),
    (T + "17.jpg", 0.26, "man", False),
    (T + "18.jpg", 0.34, "man", False),
    (T + "overlap/2.jpg", 0.26, "man", False),
    (T + "overlap/3.jpg", 0.50, "man", False),
    (T + "overlap/4.jpg", 0.46, "man", False),
    (T + "1.jpg", 0.19, "woman", False),  # mask
    (T + "12.jpg", 0.52, "woman", False),
    (T + "16.jpg", 0.52, "woman", False),
    (T + "17.jpg", 0.45, "woman", False),
    (T + "overlap/2.jpg", 0.48, "woman", False),
    (T + "overlap/3.jpg", 0.10, "woman", False),
    (T + "overlap/4.jpg", 0.12, "woman", False),
    (T + "5.jpg", 0.49, "caller", False),
    ("drewnoakes__metadata-extractor-images/jpg/Canon EOS 7D.jpg", 0.41, "model", False),
    ("ianare__exif-py/tests/resources/jpg/invalid/image00971.jpg", 0.79, "boy", True),
]
# Faces in the corpus's pictures, counted by eye; every other picture there shows none (cats,
# a dog, a fox, a cartoon, landscapes). 18.jpg: a woman far behind the man; 3.jpg: a walker
# too far away to count; no_exif.jpg: the actor on a film poster.
KNOWN = {
    T + "1.jpg": 2, T + "12.jpg": 1, T + "16.jpg": 2, T + "17.jpg": 2, T + "18.jpg": 2,
    T + "5.jpg": 1, T + "overlap/2.jpg": 2, T + "overlap/3.jpg": 2, T + "overlap/4.jpg": 2,
    "drewnoakes__metadata-extractor-images/jpg/Canon EOS 7D.jpg": 1,
    "ianare__exif-py/tests/resources/jpg/invalid/image00971.jpg": 1,
    "ianare__exif-py/tests/resources/jpg/xmp/no_exif.jpg": 1,
    "drewnoakes__metadata-extractor-images/nef/Issue 247-1.nef": 1,  # a boy in safety glasses
}  # fmt: skip
MAY_HAVE = {T + "3.jpg": 1}
MASKED = {T + "1.jpg"}  # every face on these photos is behind a mask
_SEP = "__"  # between a person's folder name and the photo's number, in the library  # a face found here is neither counted found nor false
SIZES = (16, 20, 24, 32, 40, 48, 64, 80, 100, 140, 200)
PICTURES = {".jpg", ".jpeg", ".png", ".heic", ".avif", ".webp", ".tif", ".tiff", ".dng", ".nef"}
PICTURES |= {".cr3", ".rw2", ".raf", ".gif"}
BACKGROUNDS = [
    T + "13.jpg", T + "19.jpg", T + "7.jpg",
    "ianare__exif-py/tests/resources/jpg/gps/DSCN0010.jpg",
    "photoprism__photoprism/internal/meta/testdata/gps-2000.jpg",
    "photoprism__photoprism/assets/examples/elephants.jpg",
    "photoprism__photoprism/internal/meta/testdata/digikam.jpg",
    "photoprism__photoprism/assets/examples/beach_wood.jpg",
    "photoprism__photoprism/internal/meta/testdata/ship.jpg",
    "photoprism__photoprism/internal/meta/testdata/Iceland-sRGB.jpg",
]  # fmt: skip


@dataclass(frozen=True)
class Pasted:
    """A face in a made-up group shot: its box in pixels and its width when pasted."""

    left: float
    top: float
    width: float
    height: float
    size: int
    masked: bool


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--photos", type=int, default=40, help="made-up group shots")
    parser.add_argument("--family", type=int, default=20, help="made-up photos of 0-3 faces")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--people", type=Path, default=None, help="a folder per person")
    args = parser.parse_args()
    work: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbf-"))
    shutil.rmtree(work, ignore_errors=True)
    if args.people is not None:
        return family(args.people, work)
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    return groups(args.corpus, work, args.photos, args.family, args.seed)


def groups(corpus: Path, work: Path, count: int, family: int, seed: int) -> int:
    originals = work / "made"
    originals.mkdir(parents=True)
    truth = _make_group_shots(corpus, originals, count, family, random.Random(seed))
    rels = sorted(
        str(p.relative_to(corpus))
        for p in corpus.rglob("*")
        if p.suffix.lower() in PICTURES and p.is_file()
    )
    copies = [(corpus / rel, f"corpus-{i:03d}{Path(rel).suffix}") for i, rel in enumerate(rels)]
    copies += [(path, path.name) for path in sorted(originals.iterdir())]
    settings, catalog = _library(work, copies)
    try:
        print(f"smallest_face {settings.faces.smallest_face} px")
        stage = FacesStage(settings)
        described = [0, 0.0]  # faces, ms of CPU
        times = _run_stage(stage, described)
        by_name = {f.rel_path: f.photo_id for f in File.select() if f.photo_id is not None}
        made = [n for n in truth if n in by_name]
        _recall(truth, by_name)
        corpus_false, corpus_photos = _corpus_false(rels, by_name)
        faces_in = Counter(f.photo_id for f in Face.select(Face.photo))
        print("\ntime a 12-MP photo on one core (process CPU, the whole stage: decode, detection,")
        print("embeddings, crops, catalog), by the faces found on it:")
        print("| faces | photos | p50 ms | p95 ms | mean ms |")
        print("|---|---|---|---|---|")
        for low, high in ((0, 0), (1, 3), (0, 3), (4, 7), (8, 99), (4, 99)):
            picked = [times.get(by_name[n]) for n in made if low <= faces_in[by_name[n]] <= high]
            label = f"{low}-{high}" if high < 99 else f"{low}+"
            print(
                f"| {label} | {len(picked)} | {_pct(picked, 50):.0f} | {_pct(picked, 95):.0f} "
                f"| {_mean(picked):.0f} |"
            )
        corpus_times = [times.get(by_name[n]) for n in by_name if n.startswith("corpus-")]
        corpus_times = [t for t in corpus_times if t is not None]
        print(f"corpus pictures: {len(corpus_times)}, mean {_mean(corpus_times):.0f} ms")
        faces, ms = described
        print(f"embeddings: {faces} faces, {ms / max(1, faces):.0f} ms CPU each")
        print(
            f"\nfalse faces: {corpus_false} on {corpus_photos} corpus pictures "
            f"({corpus_false * 100 / max(1, corpus_photos):.1f} per 100 photos)"
        )
        print("\ngrouping of the corpus's labelled faces:")
        names = {rel: name for (_, name), rel in zip(copies, rels, strict=False)}
        labelled = _label_faces(names)
        corpus_ids = [by_name[name] for name in names.values() if name in by_name]
        for threshold in (settings.faces.match_distance, 0.55, 0.6):
            _recluster(corpus_ids, threshold, settings.faces.min_cluster)
            _report(labelled, threshold, settings.faces.min_cluster)
        stage.close()
    finally:
        catalog.close()
    _peak()
    return 0


def _library(work: Path, copies: list[tuple[Path, str]]) -> tuple[config.Settings, Catalog]:
    cfg = library(work, copies)
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    Indexer(settings, catalog, interactive=False).index([])
    Backlog(settings, catalog, interactive=False).run()
    return settings, catalog


def _run_stage(stage: FacesStage, described: list[Any] | None = None) -> dict[int, float | None]:
    """Run the stage photo by photo; each photo's process CPU time in ms (the first photo,
    which loads the models, is timed apart and left out). `described` adds up the faces
    described (embeddings) and their CPU time."""
    photos = Enricher([stage]).pending(stage)
    wanted = {p.id for p in Photo.select(Photo.id).where(stage.wants())}
    photos = [p for p in photos if p.id in wanted]
    started = time.process_time()
    models = stage._load()
    if described is not None:
        describe = models.describe

        def timed(picture: Image.Image, box: Any) -> bytes:
            began = time.process_time()
            try:
                return describe(picture, box)
            finally:
                described[0] += 1
                described[1] += (time.process_time() - began) * 1000

        models.describe = timed  # type: ignore[method-assign]
    stage.run(photos[:1])
    print(f"models loaded and first photo: {(time.process_time() - started) * 1000:.0f} ms CPU")
    times: dict[int, float | None] = {photos[0].id: None}
    for photo in photos[1:]:
        started = time.process_time()
        stage.run([photo])
        times[photo.id] = (time.process_time() - started) * 1000
    return times


def _make_group_shots(
    corpus: Path, folder: Path, count: int, family: int, rng: random.Random
) -> dict[str, list[Pasted]]:
    faces = _source_faces(corpus)
    truth: dict[str, list[Pasted]] = {}
    for n in range(count + family):
        with Image.open(corpus / BACKGROUNDS[n % len(BACKGROUNDS)]) as opened:
            background = ImageOps.exif_transpose(opened).convert("RGB")
        size = (4000, 3000) if background.width >= background.height else (3000, 4000)
        picture = background.resize(size, Image.Resampling.BICUBIC)
        taken: list[tuple[float, float, float, float]] = []
        pasted = []
        for _ in range(rng.randint(4, 10) if n < count else rng.randint(0, 3)):
            width = rng.choice(SIZES)
            fitting = [f for f in faces if f[1][2] >= width]  # never upscaled
            source, (fx, fy, fw, fh), masked = rng.choice(fitting)
            zoom = width / fw
            cut = source.resize(
                (max(1, round(source.width * zoom)), max(1, round(source.height * zoom))),
                Image.Resampling.LANCZOS,
            )
            box = (fx * zoom, fy * zoom, fw * zoom, fh * zoom)
            spot = _free_spot(picture.size, cut.size, taken, rng)
            if spot is None:
                continue
            mask = Image.new("L", cut.size, 0)
            left, top, w, h = box
            ImageDraw.Draw(mask).ellipse(
                (left - 0.2 * w, top - 0.35 * h, left + 1.2 * w, top + 1.2 * h), fill=255
            )
            mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, w * 0.04)))
            picture.paste(cut, spot, mask)
            pasted.append(Pasted(spot[0] + left, spot[1] + top, w, h, width, masked))
        name = f"group-{n:03d}.jpg" if n < count else f"family-{n - count:03d}.jpg"
        picture.save(folder / name, quality=90)
        truth[name] = pasted
    return truth


def _source_faces(
    corpus: Path,
) -> list[tuple[Image.Image, tuple[float, float, float, float], bool]]:
    """Each face of the corpus's face photos (KNOWN), cut out with room around it, its box
    in the cut-out, and whether it is behind a mask. The boxes are the model's own on the
    whole photo in one square (of those, the KNOWN count of largest): the truth must not
    change with what is measured (the squares, the second looks)."""
    import numpy as np

    from shoebox.enrich.faces import Detector

    detector = Detector()
    found = []
    for rel in KNOWN:
        with Image.open(corpus / rel) as opened:
            photo = ImageOps.exif_transpose(opened).convert("RGB")
        zoom = tiles.MODEL_PX / max(photo.size)
        whole = photo.resize((round(photo.width * zoom), round(photo.height * zoom)))
        boxes = sorted(detector._detect(np.asarray(whole)), key=lambda b: -b.width)
        for small in sorted(boxes[: KNOWN[rel]], key=lambda b: -b.score):
            box = tiles.Box(
                small.left / zoom,
                small.top / zoom,
                small.width / zoom,
                small.height / zoom,
                small.score,
            )
            margin = 0.6
            left = max(0, round(box.left - margin * box.width))
            top = max(0, round(box.top - margin * box.height))
            right = min(photo.width, round(box.left + (1 + margin) * box.width))
            bottom = min(photo.height, round(box.top + (1 + margin) * box.height))
            cut = photo.crop((left, top, right, bottom))
            place = (box.left - left, box.top - top, box.width, box.height)
            found.append((cut, place, rel in MASKED))
    detector.close()
    return found


def _free_spot(
    picture: tuple[int, int],
    cut: tuple[int, int],
    taken: list[tuple[float, float, float, float]],
    rng: random.Random,
) -> tuple[int, int] | None:
    for _ in range(50):
        left = rng.randrange(0, picture[0] - cut[0])
        top = rng.randrange(0, picture[1] - cut[1])
        spot = (left, top, left + cut[0], top + cut[1])
        if all(spot[2] < t[0] or spot[0] > t[2] or spot[3] < t[1] or spot[1] > t[3] for t in taken):
            taken.append(spot)
            return left, top
    return None


def _matches(face: Any, pasted: Pasted, width: int, height: int) -> bool:
    left, top = face.x * width, face.y * height
    w, h = face.width * width, face.height * height
    inter_w = max(0.0, min(left + w, pasted.left + pasted.width) - max(left, pasted.left))
    inter_h = max(0.0, min(top + h, pasted.top + pasted.height) - max(top, pasted.top))
    inter = inter_w * inter_h
    iou = inter / (w * h + pasted.width * pasted.height - inter)
    centre = (
        abs(left + w / 2 - pasted.left - pasted.width / 2) < pasted.width / 2
        and abs(top + h / 2 - pasted.top - pasted.height / 2) < pasted.height / 2
        and 0.5 < w / pasted.width < 2
    )
    return iou >= 0.3 or centre


def _recall(truth: dict[str, list[Pasted]], by_name: dict[str, int]) -> None:
    """Recall by face width, faces in the open and behind masks apart."""
    found: Counter[tuple[bool, int]] = Counter()
    total: Counter[tuple[bool, int]] = Counter()
    false = 0
    for name, pasted in truth.items():
        photo = Photo.get_by_id(by_name[name])
        faces = list(Face.select().where(Face.photo == photo.id))
        used = set()
        for face_truth in pasted:
            key = (face_truth.masked, face_truth.size)
            total[key] += 1
            hits = [f for f in faces if _matches(f, face_truth, photo.width, photo.height)]
            if hits:
                found[key] += 1
                used.update(f.id for f in hits)
        for face in (f for f in faces if f.id not in used):
            false += 1
            print(
                f"  off the pasted faces: {name} at {face.x * photo.width:.0f},"
                f"{face.y * photo.height:.0f}, {face.width * photo.width:.0f} px wide, "
                f"score {face.score:.2f}"
            )
    print(f"\nmade-up photos: {len(truth)} of 12 MP, {sum(total.values())} faces")
    print("| face width (px) | " + " | ".join(str(s) for s in SIZES) + " | 40 and more |")
    print("|---" * (len(SIZES) + 2) + "|")
    for masked, label in ((False, "found"), (True, "found, behind masks")):
        cells = []
        for sizes in [[s] for s in SIZES] + [[s for s in SIZES if s >= 40]]:
            hit = sum(found[masked, s] for s in sizes)
            all_ = sum(total[masked, s] for s in sizes)
            cells.append(f"{hit / all_:.0%} of {all_}" if all_ else "-")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"boxes on no pasted face: {false} ({false * 100 / len(truth):.1f} per 100 photos)")


def _corpus_false(rels: list[str], by_name: dict[str, int]) -> tuple[int, int]:
    """Faces found beyond those counted by eye, over the corpus's pictures the stage ran on."""
    false = 0
    photos = 0
    seen: set[int] = set()
    for i, rel in enumerate(rels):
        name = f"corpus-{i:03d}{Path(rel).suffix}"
        photo_id = by_name.get(name)
        if photo_id is None or photo_id in seen:
            continue
        seen.add(photo_id)
        photo = Photo.get_by_id(photo_id)
        if photo.type == "video" or photo.thumb_hash is None:
            continue
        photos += 1
        found = Face.select().where(Face.photo == photo_id).count()
        extra = found - KNOWN.get(rel, 0) - MAY_HAVE.get(rel, 0)
        if extra > 0:
            print(f"  false: {extra} on {rel}")
            false += extra
    return false, photos


def _label_faces(names: dict[str, str]) -> dict[int, tuple[str, bool]]:
    """face id -> (who, child)."""
    found = {}
    for rel, left, who, child in LABELS:
        file = File.get(File.rel_path == names[rel])
        faces = list(Face.select().where(Face.photo == file.photo_id))
        near = sorted((f for f in faces if abs(f.x - left) < 0.08), key=lambda f: abs(f.x - left))
        if near:
            found[near[0].id] = (who, child)
        else:
            print(f"  missed: {who} in {rel}")
    return found


def _recluster(photo_ids: list[int], threshold: float, min_cluster: int) -> None:
    """The grouping again over these photos' faces alone (the made-up group shots repeat the
    corpus's faces, and would be grouped with them)."""
    Face.update(person=None).execute()
    Person.delete().execute()
    Face.delete().where(Face.photo.not_in(photo_ids)).execute()
    ids = [f.id for f in Face.select(Face.id).order_by(Face.photo, Face.id)]
    place(ids, threshold, min_cluster)


def _report(labelled: dict[int, tuple[str, bool]], threshold: float, min_cluster: int) -> None:
    owner = {f.id: f.person_id for f in Face.select().where(Face.id.in_(list(labelled)))}
    counts = {"all": [0, 0, 0], "children": [0, 0, 0]}  # together+same, together, same
    for a, b in itertools.combinations(sorted(labelled), 2):
        same = labelled[a][0] == labelled[b][0]
        together = owner[a] is not None and owner[a] == owner[b]
        groups = ["all"] + (["children"] if labelled[a][1] or labelled[b][1] else [])
        for group in groups:
            counts[group][0] += int(same and together)
            counts[group][1] += int(together)
            counts[group][2] += int(same)
    people = len({p for p in owner.values() if p is not None})
    unknown = sum(p is None for p in owner.values())
    print(
        f"match_distance {threshold}, min_cluster {min_cluster}: "
        f"{people} people, {unknown} labelled faces unknown"
    )
    for group, (hits, joined, alike) in counts.items():
        precision = f"{hits / joined:.2f}" if joined else "n/a (no pairs put together)"
        recall = f"{hits / alike:.2f}" if alike else "n/a (no pairs of one person)"
        print(f"  {group:9} precision {precision}, recall {recall}  ({hits}/{joined}/{alike})")


def family(folder: Path, work: Path) -> int:
    """Precision and recall per person and by face size, for a folder per person."""
    people = sorted(p for p in folder.iterdir() if p.is_dir())
    copies = []
    for who in people:
        for i, path in enumerate(sorted(who.rglob("*"))):
            if path.suffix.lower() in PICTURES and path.is_file():
                copies.append((path, f"{who.name}{_SEP}{i:05d}{path.suffix}"))
    if not copies:
        print(f"no photos in sub-folders of {folder}", file=sys.stderr)
        return 2
    settings, catalog = _library(work, copies)
    try:
        stage = FacesStage(settings)
        times = [t for t in _run_stage(stage).values() if t is not None]
        stage.close()
        labelled = {}  # photo id -> who
        for f in File.select(File.rel_path, File.photo):
            if f.photo_id is not None:
                labelled[f.photo_id] = f.rel_path.split(_SEP, 1)[0]
        _family_report(labelled, [p.name for p in people])
        print(f"\n{len(labelled)} photos, {_mean(times):.0f} ms a photo on one core")
    finally:
        catalog.close()
    _peak()
    return 0


def _family_report(labelled: dict[int, str], names: list[str]) -> None:
    faces = list(Face.select())
    on_photo: dict[int, list[Any]] = defaultdict(list)
    for face in faces:
        on_photo[face.photo_id].append(face)
    widths = {p.id: p.width or 0 for p in Photo.select(Photo.id, Photo.width)}
    print("| person | photos | grouped as | precision | recall |")
    print("|---|---|---|---|---|")
    by_size: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # right, grouped, labelled
    for who in names:
        photos = [p for p, w in labelled.items() if w == who]
        votes = Counter(f.person_id for p in photos for f in on_photo[p] if f.person_id)
        if not votes:
            print(f"| {who} | {len(photos)} | nobody | - | 0.00 |")
            continue
        person = votes.most_common(1)[0][0]
        mine = [f for f in faces if f.person_id == person]
        right = [f for f in mine if labelled.get(f.photo_id) == who]
        found_in = {f.photo_id for f in right}
        precision = len(right) / len(mine)
        recall = len(found_in) / len(photos)
        print(f"| {who} | {len(photos)} | #{person} | {precision:.2f} | {recall:.2f} |")
        for face in mine:
            bucket = _bucket(face.width * widths[face.photo_id])
            by_size[bucket][1] += 1
            by_size[bucket][0] += int(labelled.get(face.photo_id) == who)
        for p in photos:  # the person's face: the one grouped as them, or the only face there
            theirs = [f for f in on_photo[p] if f.person_id == person] or (
                on_photo[p] if len(on_photo[p]) == 1 else []
            )
            if theirs:
                by_size[_bucket(theirs[0].width * widths[p])][2] += 1
    print("\n| face width (px) | precision | recall |")
    print("|---|---|---|")
    for bucket in sorted(by_size, key=lambda b: int(b.split("-")[0].rstrip("+"))):
        right, grouped, alike = by_size[bucket]
        precision = f"{right / grouped:.2f}" if grouped else "-"
        recall = f"{right / alike:.2f}" if alike else "-"
        print(f"| {bucket} | {precision} | {recall} |")


def _bucket(width: float) -> str:
    for low, high in ((0, 40), (40, 80), (80, 160), (160, 320)):
        if width < high:
            return f"{low}-{high}"
    return "320+"


def _mean(values: list[Any]) -> float:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else 0.0


def _pct(values: list[Any], percent: int) -> float:
    values = sorted(v for v in values if v is not None)
    return values[min(len(values) - 1, len(values) * percent // 100)] if values else 0.0


def _peak() -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB (the indexing's main process, the models, the stage)")


if __name__ == "__main__":
    sys.exit(main())
