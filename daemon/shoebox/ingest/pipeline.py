"""The order of the ingest stages, and the version of each recipe, in one place.

For every file that is new or changed, in two phases:

The fast phase (`ingest.run`), after which the photo is in the catalog and the timeline:

1. identify   - hash the content, read its size, sniff its kind (worker process)
2. metadata   - read its tags through the one exiftool process (main process)
3. grouping   - attach it to a photo: copies, Live Photos, RAW+JPEG stacks, sidecars

The slow phase (`ingest.backlog`), for the files that wait for it (`catalog.pending`):

4. renditions - decode it and write the grid tile and the preview (worker process, at the
                lowest priority)

Then the later stages (`enrich`: places, faces, labels), for photos whose files are rendered.

identify runs in the workers while the main process talks to exiftool; grouping runs in the
database transaction that stores the results. Nothing is decoded in the fast phase.

Each file records the version of the recipe that produced what is stored for it. Raising a
version here makes the next index run redo that stage, and only that stage, for every file.
"""

from __future__ import annotations

from typing import Final

IDENTIFY: Final = 1
METADATA: Final = 2  # 2: clocks, zones from positions, sources, Takeout, QuickTime atoms, limits
RENDITIONS: Final = 3  # 2: no JPEG comment carried over; 3: tiles at the picture's shape

STAGES: Final = ("identify", "metadata", "grouping", "renditions")
