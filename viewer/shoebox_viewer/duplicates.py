"""Near-duplicates in the viewer: the /duplicates review page (groups of photos that look the
same, as `shoebox.catalog.likeness` finds them among those the requester sees) and its API,
where a member keeps one photo of a group and the others are archived (never deleted; the
Archive page brings one back).
"""

from __future__ import annotations

import bottle

from shoebox.catalog import likeness
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/duplicates, /api/duplicates and /api/duplicates/keep."""

    @app.get("/duplicates")
    @access.browse
    def duplicates_page() -> str:
        return ctx.render("duplicates.html", groups=likeness.review(access.who().sees))

    @app.get("/api/duplicates")
    @access.browse
    def duplicates() -> str:
        return jsonio.answer({"groups": likeness.review(access.who().sees)})

    @app.post("/api/duplicates/keep")
    @access.change
    def keep() -> str:
        body = jsonio.body({"keep", "archive"})
        archived = likeness.keep(access.who().sees, body.get("keep"), body.get("archive"))
        return jsonio.answer({"kept": body["keep"], "archived": archived})
