"""The order of the ingest stages, and the version of each recipe, in one place.

For every file that is new or changed, in this order:

1. identify   - hash the content, read its size, sniff its kind (worker process)
2. metadata   - read its tags through the one exiftool process (main process)
3. renditions - decode it and write the grid tile and the preview (worker process)
4. grouping   - attach it to a photo: copies, Live Photos, RAW+JPEG stacks, sidecars

identify and renditions share one read of the file in a worker, while the main process talks
to exiftool; grouping runs in the database transaction that stores the results.

Each file records the version of the recipe that produced what is stored for it. Raising a
version here makes the next index run redo that stage, and only that stage, for every file.
"""

from __future__ import annotations

from typing import Final

IDENTIFY: Final = 1
METADATA: Final = 2  # 2: clocks, zones from positions, sources, Takeout, QuickTime atoms, limits
RENDITIONS: Final = 3  # 2: no JPEG comment carried over; 3: tiles at the picture's shape

STAGES: Final = ("identify", "metadata", "renditions", "grouping")
