"""The admin page (/admin, admins only): each daemon's state and its last check of the
library (`shoebox verify`'s findings: rot, gone and unknown files), as `shoebox status`
reads them from the catalog.
"""

from __future__ import annotations

import bottle

from shoebox.catalog.status import report
from shoebox_viewer import access
from shoebox_viewer.context import Context


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/admin."""

    @app.get("/admin")
    @access.admin
    def admin_page() -> str:
        daemons = report(ctx.settings.sftp.resume_days, recent=0).daemons
        return ctx.render("admin.html", daemons=daemons)
