"""Labels: the labels stage's time per photo on one core, next to the faces stage's, and the
peak memory of one process that indexes a set of real photos and runs places, faces and
labels over them (what the daemon does), through the real pipeline.

The photos are every JPEG of ../shared/corpus (phones, cameras, the face and example photos).
Each stage's first call loads its models and is timed apart; the figures per photo are over
the photos the stage applies to, after loading. Run it on one core, as the target is stated:

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/labels.py [--corpus ../shared/corpus]
"""

from __future__ import annotations

import resource
import sys
import time

from corpus import arguments, library
from shoebox import config
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Label, Photo
from shoebox.enrich.runner import Enricher
from shoebox.enrich.stages import load
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.run import Indexer


def main() -> int:
    corpus, work = arguments(__doc__, "sbl-")
    jpegs = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})
    cfg = library(work, ((path, f"{i:03d}-{path.name}") for i, path in enumerate(jpegs)))
    settings = config.load(cfg)
    catalog = Catalog(settings.database.url, settings.source.parent)
    try:
        Indexer(settings, catalog, interactive=False).index([])
        Backlog(settings, catalog, interactive=False).run()
        stages, off = load(settings)
        for line in off:
            print(line)
        print(f"photos indexed: {Photo.select().count()} (from {len(jpegs)} JPEG files)")
        per_photo: dict[str, float] = {}
        for stage in stages:
            wanted = {p.id for p in Photo.select(Photo.id).where(stage.wants())}
            photos = [p for p in Enricher([stage]).pending(stage) if p.id in wanted]
            if len(photos) < 2:
                print(f"{stage.name}: {len(photos)} photos, nothing to time")
                continue
            started = time.perf_counter()
            stage.run(photos[:1])
            loaded = time.perf_counter()
            cpu = time.process_time()
            failures = stage.run(photos[1:])
            done = time.perf_counter()
            cpu = time.process_time() - cpu
            per_photo[stage.name] = (done - loaded) / (len(photos) - 1)
            print(
                f"{stage.name}: {len(photos)} photos, {len(failures)} failed; load + first photo "
                f"{(loaded - started) * 1000:.0f} ms; then {per_photo[stage.name] * 1000:.0f} ms "
                f"wall, {cpu / (len(photos) - 1) * 1000:.0f} ms CPU a photo"
            )
        if {"faces", "labels"} <= per_photo.keys():
            both = (per_photo["faces"] + per_photo["labels"]) * 1000
            print(f"faces + labels: {both:.0f} ms a photo")
        print(f"labels written: {Label.select().count()}")
        for stage in stages:
            stage.close()
    finally:
        catalog.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB (indexing and every stage: one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
