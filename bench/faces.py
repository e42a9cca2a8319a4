"""Faces: clustering precision and recall on a labelled set, the stage's time per photo, and
peak memory, through the real pipeline (index, previews, the faces stage, the clustering).

The labelled set is every photo with a face in ../shared/corpus, labelled by eye (LABELS):
two adults seen in several photos (a man and a woman), three people seen once (a man on a
video call, a woman in a studio portrait, and a boy of about ten). That is all the corpus
holds: one child, seen once, so for children only precision can be measured (that the boy
is not put with an adult), not recall. Faces that are not labelled (the detector's false
positives, a face too small to tell) still go through the stage but are left out of the
figures.

Pairwise figures: over every pair of labelled faces, "same" is one person (faces that wait
among the unknown are each alone); precision = pairs rightly together / pairs together,
recall = pairs rightly together / pairs that should be. Then the clustering alone is re-run
over the same embeddings at other thresholds.

    .venv/bin/python bench/faces.py [--corpus ../shared/corpus] [--workdir /tmp/sbf]
"""

from __future__ import annotations

import itertools
import resource
import sys
import time
from pathlib import Path

from corpus import arguments, library
from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Face, File, Person
from shoebox.enrich.clusters import place
from shoebox.enrich.faces import FacesStage
from shoebox.enrich.runner import Enricher
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
# Photos without faces, to see false positives and the time of a photo with nobody on it.
EMPTY = [T + n for n in ("13.jpg", "19.jpg", "3.jpg", "7.jpg", "8.jpg")]


def main() -> int:
    corpus, work = arguments(__doc__, "sbf-")
    names: dict[str, str] = {}
    for i, rel in enumerate(sorted({p for p, *_ in LABELS} | set(EMPTY))):
        names[rel] = f"{i:02d}-{Path(rel).name}"
    cfg = library(work, ((corpus / rel, name) for rel, name in names.items()))
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    try:
        Indexer(settings, catalog, interactive=False).index([])
        stage = FacesStage(settings)
        enricher = Enricher([stage])
        photos = enricher.pending(stage)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        stage.run(photos[:1])  # loads the models: timed apart
        loaded = time.perf_counter()
        stage.run(photos[1:])
        done = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        faces = Face.select().count()
        print(f"photos: {len(photos)}, faces found: {faces}, labelled faces: {len(LABELS)}")
        print(f"model load + first photo: {(loaded - started) * 1000:.0f} ms")
        per = (done - loaded) / max(1, len(photos) - 1)
        print(
            f"stage per photo (after loading): {per * 1000:.0f} ms wall, "
            f"{cpu / len(photos) * 1000:.0f} ms CPU (all photos, loading included)"
        )
        labelled = _label_faces(names)
        for threshold in (settings.faces.match_distance, 0.45, 0.55, 0.6):
            if threshold != settings.faces.match_distance:
                _recluster(threshold, settings.faces.min_cluster)
            _report(labelled, threshold, settings.faces.min_cluster)
        stage.close()
    finally:
        catalog.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB (indexing, models, clustering: one process)")
    return 0


def _label_faces(names: dict[str, str]) -> dict[int, tuple[str, bool]]:
    """face id -> (who, child)."""
    found = {}
    for rel, left, who, child in LABELS:
        file = File.get(File.rel_path == names[rel])
        faces = list(Face.select().where(Face.photo == file.photo_id))
        near = [f for f in faces if abs(f.x - left) < 0.05]
        if near:
            found[near[0].id] = (who, child)
        else:
            print(f"  missed: {who} in {rel}")
    return found


def _recluster(threshold: float, min_cluster: int) -> None:
    Face.update(person=None).execute()
    Person.delete().execute()
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
    children = [f for f, (_, child) in labelled.items() if child]
    with_adult = [
        f for f in children
        if owner[f] is not None
        and any(owner[g] == owner[f] for g in labelled if not labelled[g][1])
    ]  # fmt: skip
    print(f"  children put with an adult: {len(with_adult)} of {len(children)}")


if __name__ == "__main__":
    sys.exit(main())
