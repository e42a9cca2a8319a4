"""The to-write list (`shoebox.catalog.outbox`) written beside the library, a batch at a
time: each photo's XMP sidecars (`shoebox.sidecars`), each album's files
(`shoebox.albumfiles`). The daemon runs it with `[library] write_sidecars` on."""

from __future__ import annotations

import logging

from shoebox import albumfiles, sidecars
from shoebox.catalog import outbox

log = logging.getLogger("shoebox.beside")


def write_batch(exiftool: str, limit: int) -> tuple[int, bool]:
    """Write the files of up to `limit` photos and albums on the list, and take them off it
    (unless marked again meanwhile). One whose root is left alone goes to the back of the
    list. How many were written, and whether more may wait."""
    rows = outbox.take(limit)
    writer = sidecars.Writer(exiftool)
    written, later = [], []
    try:
        for row in rows:
            try:
                if row.kind == "photo":
                    writer.write(row.target)
                else:
                    albumfiles.write(row.target)
                written.append(row)
            except sidecars.LeftAlone:
                later.append(row)
    finally:
        writer.close()
        outbox.done(written)
    for kind in ("photo", "album"):
        outbox.mark(kind, [r.target for r in later if r.kind == kind])
    if written:
        log.info("wrote beside the library the files of %d photos and albums", len(written))
    return len(written), len(rows) == limit and len(later) < len(rows)
