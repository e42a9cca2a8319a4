"""Many photos changed at once: favourite and archive for the viewer's selection bar.

Every id must be a photo the viewer sees (NotFound names the first that is not, and then
nothing changes): a bulk action never reaches past what one photo's page could do. The
changed photos go on the outbox's list, for their sidecars beside the library.
"""

from __future__ import annotations

from typing import Any

from shoebox.catalog import albums, outbox
from shoebox.catalog.models import Photo, utcnow
from shoebox.catalog.visibility import Viewer, restrict
from shoebox.errors import NotFound, UsageError

FLAGS = ("favorite", "archived")


def set_flags(viewer: Viewer, ids: object, flags: dict[str, object]) -> list[int]:
    """Set `favorite` and/or `archived` (true or false) on these photos; returns their ids."""
    wanted = albums.photo_ids(ids, "ids")
    unknown = set(flags) - set(FLAGS)
    if unknown or not flags:
        named = repr(sorted(unknown)[0]) if unknown else "nothing"
        raise UsageError(f"send favorite or archived (true or false), not {named}")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false")
    if not wanted:
        return []
    rows: Any = restrict(Photo.select(Photo.id).where(Photo.id.in_(wanted)), viewer).tuples()
    seen = {row[0] for row in list(rows)}
    for photo_id in wanted:
        if photo_id not in seen:
            raise NotFound(f"no photo {photo_id}")
    Photo.update(**flags, updated_at=utcnow()).where(Photo.id.in_(wanted)).execute()
    outbox.mark("photo", wanted)
    return wanted
