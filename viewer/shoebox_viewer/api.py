"""The JSON API the pages use: photos (paged, by query), one photo, favourite and archive
flags, hand edits of dates, places and text (`shoebox.edits`), who sees photos (their owner makes them private or the household's), the month
scrubber, folders, and albums (list, create, rename, cover, delete, add and remove photos).

Photos are in the shape of `shoebox.catalog.photos.as_dict` (what `shoebox photos --json`
prints, with paths relative to their library root), and only those the requester sees. Reads
need `browse`, writes `change` (and the CSRF header, which `access` checks for every POST and
DELETE, unless a token sent them). Bad input is a 400 with {"error": ...}, an unknown id (or
one of a photo the requester does not see) a 404; errors are made JSON by the application's
error handler for every /api/ path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import bottle

from shoebox import edits
from shoebox.catalog import albums, lists, search, selection, visibility
from shoebox.catalog.folders import children as folders_of
from shoebox.errors import UsageError
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context

DEFAULT_LIMIT = 100


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The /api/ routes."""

    def sees() -> visibility.Viewer:
        return access.who().sees

    def touches() -> visibility.Viewer:
        """The photos a change may touch: those seen, but never another member's private
        ones (an admin may see them, with `admins_see_private`, and only see them)."""
        return dataclasses.replace(sees(), everything=False)

    @app.get("/api/photos")
    @access.browse
    def photos() -> str:
        query = search.parse(_text("q"), viewer=sees())
        return jsonio.answer(_page(query))

    @app.get("/api/photos/<photo_id:int>")
    @access.browse
    def photo(photo_id: int) -> str:
        return jsonio.answer(_photo(photo_id, sees()))

    @app.post("/api/photos/visibility")
    @access.change
    def change_visibility() -> str:
        body = jsonio.body({"ids", "visibility"})
        changed = visibility.set_visibility(sees(), body.get("ids"), body.get("visibility"))
        return jsonio.answer({"ids": changed, "visibility": body["visibility"]})

    @app.post("/api/photos/edit")
    @access.change
    def edit_photos() -> str:
        ids, change = edits.parse(jsonio.body())
        edited = edits.apply(touches(), ids, change, access.who().account_id)
        return jsonio.answer({"ids": edited, "photo": _photo(edited[0], sees())})

    @app.post("/api/photos/flags")
    @access.change
    def change_flags() -> str:
        body = jsonio.body({"ids", *selection.FLAGS})
        ids = body.pop("ids", None)
        return jsonio.answer({"ids": selection.set_flags(touches(), ids, body), **body})

    @app.post("/api/photos/<photo_id:int>")
    @access.change
    def change_photo(photo_id: int) -> str:
        selection.set_photo_flags(touches(), photo_id, jsonio.body())
        return jsonio.answer(_photo(photo_id, sees()))

    @app.get("/api/months")
    @access.browse
    def months() -> str:
        query = search.parse(_text("q"), viewer=sees())
        return jsonio.answer(
            [{"year": y, "month": m, "count": n} for y, m, n in search.months(query)]
        )

    @app.get("/api/folders")
    @access.browse
    def folders() -> str:
        folder = _text("path").strip("/")
        if folder and any(part in ("", ".", "..") for part in folder.split("/")):
            raise UsageError(f"path: wants a folder such as 2024/summer, not {folder[:80]!r}")
        found = folders_of(folder, sees())
        return jsonio.answer(
            {"path": folder, "folders": [{"path": p, "name": n, "count": c} for p, n, c in found]}
        )

    @app.get("/api/albums")
    @access.browse
    def album_list() -> str:
        items = albums.listing(sees())
        return jsonio.answer({"total": len(items), "items": items})

    @app.post("/api/albums")
    @access.change
    def album_create() -> str:
        body = jsonio.body()
        album = albums.create(body.get("title"), access.who().account_id)
        bottle.response.status = 201
        return jsonio.answer(albums.as_dict(album.id, sees()))

    @app.get("/api/albums/<album_id:int>")
    @access.browse
    def album(album_id: int) -> str:
        found = _album_dict(album_id, sees())
        return jsonio.answer({**found, "photos": _page(lists.album(album_id, sees()))})

    @app.post("/api/albums/<album_id:int>")
    @access.change
    def album_change(album_id: int) -> str:
        body = jsonio.body()
        found = _album(album_id)
        unknown = set(body) - {"title", "cover_id"}
        if unknown:
            raise UsageError(f"unknown field {sorted(unknown)[0]!r}; send title or cover_id")
        if "title" in body:
            albums.rename(found, body["title"])
        if "cover_id" in body:
            albums.set_cover(found, body["cover_id"], touches())
        return jsonio.answer(_album_dict(album_id, sees()))

    @app.delete("/api/albums/<album_id:int>")
    @access.change
    def album_delete(album_id: int) -> str:
        albums.delete(_album(album_id))
        return jsonio.answer({"deleted": album_id})

    @app.post("/api/albums/<album_id:int>/photos")
    @access.change
    def album_photos(album_id: int) -> str:
        body = jsonio.body()
        found = _album(album_id)
        unknown = set(body) - {"add", "remove"}
        if unknown:
            raise UsageError(f"unknown field {sorted(unknown)[0]!r}; send add or remove")
        add = albums.photo_ids(body.get("add", []), "add")
        remove = albums.photo_ids(body.get("remove", []), "remove")
        added = albums.add_photos(found, add, touches())
        removed = albums.remove_photos(found, remove, touches())
        return jsonio.answer({**_album_dict(album_id, sees()), "added": added, "removed": removed})


def _text(name: str) -> str:
    value: str = bottle.request.query.getunicode(name, default="") or ""
    return value


def _number(name: str, default: int) -> int:
    raw = bottle.request.query.get(name)
    return default if raw is None or raw == "" else search.paging(name, raw)


def _page(query: search.Query) -> dict[str, Any]:
    cursor = bottle.request.query.get("cursor") or None
    result = search.page(
        query,
        cursor=cursor,
        offset=_number("offset", 0),
        limit=_number("limit", DEFAULT_LIMIT),
    )
    return {"total": result.total, "items": result.items, "next_cursor": result.next_cursor}


def _photo(photo_id: int, viewer: visibility.Viewer) -> dict[str, Any]:
    found = lists.photo(photo_id, viewer)
    if found is None:
        raise bottle.HTTPError(404, f"no photo {photo_id}")
    return found


def _album(album_id: int) -> Any:
    found = albums.get(album_id)
    if found is None:
        raise bottle.HTTPError(404, f"no album {album_id}")
    return found


def _album_dict(album_id: int, viewer: visibility.Viewer) -> dict[str, Any]:
    found = albums.as_dict(album_id, viewer)
    if found is None:
        raise bottle.HTTPError(404, f"no album {album_id}")
    return found
