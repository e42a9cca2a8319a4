"""The household's HTML pages: the timeline (and search), a photo, albums, favourites, the
archive and the folders view.

Every page of photos is the same grid of month sections (`_grid.html`, read by `grid`);
`&part=grid` returns just the grid fragment that the infinite scroll appends. Links from a
grid to a photo carry its context (`?q=` or `?album=`), so that previous and next on the photo
page walk the same list. The template filters registered here (`badge`, `size`, `month_label`
from `formats`; `by_day` and `shape` from `grid`) are there for the share pages too.

Everything is read for the requester (`access.who().sees`): another member's private photos
are in no grid, folder, album count or photo page (404, as for a photo that does not exist).
The photo page of one's own photo has the button that makes it private or the household's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import bottle

from shoebox.catalog import albums, labels, lists, people, photos, places, search, visibility
from shoebox.catalog.folders import children as folders_of
from shoebox.catalog.photos import EDITED, GUESSED, format_exposure
from shoebox.errors import UsageError
from shoebox_viewer import access
from shoebox_viewer.context import Context, url
from shoebox_viewer.formats import (
    MONTHS,
    badge,
    camera_words,
    duration,
    exposure_words,
    human_size,
    month_label,
    no_preview,
)
from shoebox_viewer.grid import EAGER_TILES, Grid, grid_squares, group_by_day, read_grid, tile_shape


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The member pages, and the template filters the grids use."""
    ctx.templates.filters.update(
        badge=badge, size=human_size, month_label=month_label, no_preview=no_preview,
        by_day=group_by_day, shape=tile_shape,
    )  # fmt: skip
    ctx.templates.globals.update(grid_squares=grid_squares, EAGER_TILES=EAGER_TILES)

    def grid_page(
        make: Callable[[], search.Query],
        context: dict[str, str],
        *,
        scrubber: bool = True,
        **values: Any,
    ) -> str:
        """A page of photos, or with `part=grid` only its grid (for the infinite scroll).
        `context` goes onto the photo links, for previous and next; `scrubber` is whether
        the page has the jump-to-month column (of the months that `make`'s photos are in)."""
        error = ""
        query: search.Query | None = None
        try:
            query = make()
        except UsageError as exc:
            error = str(exc)
        grid = read_grid(query) if query is not None else Grid([], None, None, "")
        error = error or grid.error
        if error:
            bottle.response.status = 400
        shared = {
            "grid": grid,
            "prefix": url(""),
            "ctx_qs": "?" + urlencode(context) if context else "",
            "can_change": access.who().can_change,
        }
        if bottle.request.query.get("part") == "grid":
            return ctx.render("_grid.html", **shared)
        query_string = {"q": _q()} if _q() else {}
        jumped = bool(bottle.request.query.get("cursor") or bottle.request.query.get("month"))
        values.setdefault("heading", "Photos")
        values.setdefault("share_kind", "")
        return ctx.render(
            "photos.html",
            q=_q(),
            error=error,
            # the jump-to-month column is filled in by app.js from /api/months: counting the
            # months of a filtered library costs as much as the page itself
            months_q=query.text if scrubber and query is not None and not error else None,
            month_qs=urlencode(query_string),
            newest_url=url(bottle.request.path) + "?" + urlencode(query_string) if jumped else "",
            **shared,
            **values,
        )

    def sees() -> visibility.Viewer:
        return access.who().sees

    @app.get("/")
    @app.get("/search")
    @access.browse
    def timeline() -> str:
        text = _q()
        query = bottle.request.query
        return grid_page(
            lambda: search.parse(text, viewer=sees()),
            {"q": text} if text else {},
            share_kind="search" if text else "",
            share_target=text,
            memories_slot=not (text or query.get("cursor") or query.get("month")),
        )

    @app.get("/favorites")
    @access.browse
    def favorites() -> str:
        text = "favorite:yes"
        return grid_page(
            lambda: search.parse(text, viewer=sees()),
            {"q": text},
            heading="Favourites",
            search_box=False,
        )

    @app.get("/archive")
    @access.browse
    def archive() -> str:
        text = "archived:yes"
        return grid_page(
            lambda: search.parse(text, viewer=sees()),
            {"q": text},
            heading="Archive",
            search_box=False,
            note="Archived photos are hidden from the timeline and from searches.",
        )

    @app.get("/album/<album_id:int>")
    @access.browse
    def album_page(album_id: int) -> str:
        album = albums.as_dict(album_id, sees())
        if album is None:
            raise bottle.HTTPError(404, "no such album")
        return grid_page(
            lambda: lists.album(album_id, sees()),
            {"album": str(album_id)},
            heading=album["title"],
            album=album,
            search_box=False,
            share_kind="album",
            share_target=album_id,
        )

    @app.get("/albums")
    @access.browse
    def albums_page() -> str:
        return ctx.render("albums.html", albums=albums.listing(sees()), prefix=url(""))

    @app.get("/folders")
    @app.get("/folders/<path:path>")
    @access.browse
    def folders(path: str = "") -> str:
        folder = path.strip("/")
        if any(part in ("", ".", "..") for part in folder.split("/")) and folder:
            raise bottle.HTTPError(404, "no such folder")
        subfolders = folders_of(folder, sees())
        crumbs = []
        if folder:
            parts = folder.split("/")
            crumbs = [("/".join(parts[: i + 1]), part) for i, part in enumerate(parts)]
        values: dict[str, Any] = {
            "heading": folder.rsplit("/", 1)[-1] if folder else "Folders",
            "folders": subfolders,
            "crumbs": crumbs,
            "folder": folder,
            "search_box": False,
        }
        if not folder:  # no photos: no months to jump to
            return grid_page(lists.nothing, {}, scrubber=False, **values)
        text = "folder:" + _quoted(folder)
        return grid_page(lambda: search.parse(text, viewer=sees()), {"q": text}, **values)

    @app.get("/photo/<photo_id:int>")
    @access.browse
    def photo_page(photo_id: int) -> str:
        current = access.who()
        photo = visibility.get(current.sees, photo_id)
        if photo is None:
            raise bottle.HTTPError(404, "no such photo")
        query, context = _photo_context(current.sees)
        newer, older = search.neighbours(query, photo.taken_at, photo.id)
        qs = "?" + urlencode(context) if context else ""
        album_id = int(context["album"]) if "album" in context else None
        in_albums = albums.albums_of(photo_id)
        shown = photo_view(photo)
        shown["yours"] = photo.owner_id is not None and photo.owner_id == current.account_id
        return ctx.render(
            "photo.html",
            photo=shown,
            prefix=url(""),
            ctx_qs=qs,
            prev_url=url(f"photo/{newer}") + qs if newer else None,
            next_url=url(f"photo/{older}") + qs if older else None,
            back_url=(url(f"album/{album_id}") if album_id else url("") + qs),
            can_change=access.who().can_change,
            can_download=True,
            in_albums=in_albums,
            all_albums=albums.listing(current.sees) if current.can_change else [],
            context_album=albums.as_dict(album_id, current.sees) if album_id else None,
            share_kind="photo",
            share_target=photo_id,
            faces=people.faces_in_photo(photo_id),
            labels=labels.of_photo(photo_id),
        )


def _q() -> str:
    text: str = bottle.request.query.getunicode("q", default="") or ""
    return text.strip()


def _quoted(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise UsageError("this folder's name holds both kinds of quote; search for it instead")


def _photo_context(viewer: visibility.Viewer) -> tuple[search.Query, dict[str, str]]:
    """The list the photo was opened from (`?album=` or `?q=`), for previous and next; the
    timeline when there is none or it cannot be read."""
    album = bottle.request.query.get("album", "")
    if album.isascii() and album.isdigit() and len(album) < 19:
        return lists.album(int(album), viewer), {"album": album}
    text = _q()
    if text:
        try:
            return search.parse(text, viewer=viewer), {"q": text}
        except UsageError:
            pass
    return search.parse("", viewer=viewer), {}


def photo_view(photo: Any) -> dict[str, Any]:
    """What the photo page shows, formatted."""
    files = photos.all_files(photo.id)
    camera = " ".join(v for v in camera_words(photo.camera_make, photo.camera_model) if v).strip()
    exposure = exposure_words(
        format_exposure(photo.exposure_time), photo.f_number, photo.focal_length, photo.iso
    )
    local: dt.datetime = photo.taken_at_local
    place = None
    if photo.lat is not None and photo.lng is not None:
        lat, lng = photo.lat, photo.lng
        named = places.of_photo(photo.id)
        words = [named.city, named.region, named.country] if named else []
        place = {
            "lat": f"{lat:.5f}",
            "lng": f"{lng:.5f}",
            "name": ", ".join(dict.fromkeys(w for w in words if w)),  # Kyoto, Kyoto: once
            "map_url": "https://www.openstreetmap.org/?"
            + urlencode({"mlat": f"{lat:.6f}", "mlon": f"{lng:.6f}"})
            + f"#map=15/{lat:.5f}/{lng:.5f}",
            "places_url": url("places") + f"#{lat:.5f},{lng:.5f},10",
        }
    return {
        "id": photo.id,
        "type": photo.type,
        "title": photo.title,
        "description": photo.description,
        "date": f"{local:%a} {local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}",
        "iso_date": local.isoformat(),
        "zone": _zone(photo.timezone, photo.timezone_name),
        "zone_value": photo.timezone_name or photo.timezone or "",
        "guessed": photo.taken_at_source == GUESSED,
        "edited": photo.taken_at_source == EDITED,
        "keywords": ", ".join(json.loads(photo.keywords)) if photo.keywords else "",
        "camera": camera,
        "lens": photo.lens_model,
        "exposure": exposure,
        "dimensions": f"{photo.width} \u00d7 {photo.height}"
        if photo.width and photo.height
        else "",
        "duration": duration(photo.duration) if photo.duration else "",
        "place": place,
        "favorite": bool(photo.favorite),
        "archived": bool(photo.archived),
        "missing": bool(photo.missing),
        "private": photo.visibility == visibility.PRIVATE,
        "owner": photos.owner_name(photo.owner_id),
        "thumb_hash": photo.thumb_hash,
        "files": [
            {
                "id": f.id,
                "name": f.rel_path,
                "size": f.size,
                "role": f.role,
                "mime": f.mime or "",
                "status": f.status,
            }
            for f in files
        ],
    }


def _zone(offset: str | None, name: str | None) -> str:
    if not offset:
        return "time zone unknown"
    return f"{name.replace('_', ' ')}, UTC{offset}" if name else f"UTC{offset}"
