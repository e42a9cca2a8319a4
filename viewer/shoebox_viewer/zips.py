"""The members' zips, streamed while they are built (`archives`): `/zip?ids=1,2,3` (a
selection) and `/album/<id>/zip`, of the photos the member sees. A share link's zip is in
`shares.py`.
"""

from __future__ import annotations

import bottle

from shoebox.catalog import albums, selection
from shoebox_viewer import access, archives
from shoebox_viewer.context import Context


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The members' zips: a selection and an album, of the photos the member sees."""

    @app.get("/zip")
    @access.browse
    def selection_zip() -> bottle.HTTPResponse:
        ids = albums.photo_ids_text(bottle.request.query.get("ids") or "", "ids")
        found = selection.files_of(selection.seen(access.who().sees, ids))
        return archives.response(found, "shoebox photos", folders=True)

    @app.get("/album/<album_id:int>/zip")
    @access.browse
    def album_zip(album_id: int) -> bottle.HTTPResponse:
        found = albums.get(album_id)
        if found is None:
            raise bottle.HTTPError(404, "not found")
        files = selection.files_of(selection.in_album(access.who().sees, album_id))
        return archives.response(files, found.title or "album", folders=True)
