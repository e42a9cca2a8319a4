"""Labels in the viewer: the /labels page (each word the labels stage found, how many photos
show it and a sample tile, linking to `label:WORD` in the search). What it lists, and a
photo's labels for the photo page, are read by `shoebox.catalog.labels`.
"""

from __future__ import annotations

import bottle

from shoebox.catalog import labels
from shoebox_viewer import access
from shoebox_viewer.context import Context, url


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/labels."""

    @app.get("/labels")
    @access.browse
    def labels_page() -> str:
        return ctx.render(
            "labels.html", labels=labels.listing(access.who().sees), search_url=url("search")
        )
