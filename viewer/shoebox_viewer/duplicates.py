"""Near-duplicates in the viewer: the /duplicates review page (groups of photos that look the
same, as `shoebox.catalog.likeness` finds them among those the requester sees) and its API,
where a member keeps one photo of a group and the others are archived (never deleted; the
Archive page brings one back).
"""

from __future__ import annotations

from typing import Any

import bottle

from shoebox.catalog import likeness
from shoebox.catalog.models import Photo
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/duplicates, /api/duplicates and /api/duplicates/keep."""

    @app.get("/duplicates")
    @access.browse
    def duplicates_page() -> str:
        return ctx.render("duplicates.html", groups=listing())

    @app.get("/api/duplicates")
    @access.browse
    def duplicates() -> str:
        return jsonio.answer({"groups": listing()})

    @app.post("/api/duplicates/keep")
    @access.change
    def keep() -> str:
        body = jsonio.body({"keep", "archive"})
        archived = likeness.keep(access.who().sees, body.get("keep"), body.get("archive"))
        return jsonio.answer({"kept": body["keep"], "archived": archived})


def listing() -> list[list[dict[str, Any]]]:
    """The requester's near-duplicate groups, each photo with what tells copies apart."""
    found = likeness.groups(access.who().sees)
    wanted = [i for group in found for i in group]
    rows = {
        p.id: p
        for p in Photo.select(
            Photo.id, Photo.taken_at_local, Photo.width, Photo.height, Photo.sharpness
        ).where(Photo.id.in_(wanted))
    }
    return [
        [
            {
                "id": i,
                "taken_at_local": rows[i].taken_at_local.isoformat(),
                "width": rows[i].width,
                "height": rows[i].height,
                "sharpness": round(rows[i].sharpness or 0.0, 1),
            }
            for i in group
        ]
        for group in found
    ]
