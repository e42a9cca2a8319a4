"""Labels as the viewer shows them: every word the labels stage found with how many photos
show it and a sample, and one photo's labels.

Only the `Label` rows the daemon's labels stage writes are read (the classifier is never
loaded here). Counts leave out archived and missing photos, as the search does, and the
photos the viewer does not see.
"""

from __future__ import annotations

from typing import Any

from peewee import fn

from shoebox.catalog import visibility
from shoebox.catalog.models import Label, Photo

_FALSE = False  # compared as a value, so linters leave `== False` alone


def _visible(viewer: visibility.Viewer) -> Any:
    shown = (Photo.archived == _FALSE) & (Photo.missing == _FALSE)
    seen = visibility.visible(viewer)
    return shown if seen is None else shown & seen


def listing(viewer: visibility.Viewer) -> list[dict[str, Any]]:
    """Every word with its number of photos (that the viewer sees) and the photo that shows it
    most surely, the most common words first."""
    count = fn.COUNT(Label.id)
    rows: list[Any] = list(
        Label.select(Label.name, count.alias("photos"))
        .join(Photo)
        .where(_visible(viewer))
        .group_by(Label.name)
        .order_by(count.desc(), Label.name)
        .tuples()
    )
    return [
        {"name": name, "photos": int(photos), "sample": _sample(name, viewer)}
        for name, photos in rows
    ]


def _sample(name: str, viewer: visibility.Viewer) -> int | None:
    best: list[Any] = list(
        Label.select(Label.photo)
        .join(Photo)
        .where((Label.name == name) & _visible(viewer))
        .order_by(Label.confidence.desc(), Photo.taken_at.desc())
        .limit(1)
        .tuples()
    )
    return int(best[0][0]) if best else None


def of_photo(photo_id: int) -> list[dict[str, Any]]:
    """A photo's labels, the surest first, with the confidence in percent (the caller has
    checked that its requester sees the photo)."""
    rows = Label.select().where(Label.photo == photo_id).order_by(Label.confidence.desc())
    return [{"name": row.name, "percent": round(row.confidence * 100)} for row in rows]
