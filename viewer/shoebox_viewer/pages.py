"""The household's HTML pages: the timeline (and search), a photo, albums, favourites, the
archive and the folders view.

Every page of photos is the same grid of month sections (`_grid.html`), read from the search
engine a page at a time by keyset cursor; `?cursor=` continues a grid, `?month=YYYY-MM` jumps
to a month, and `&part=grid` returns just the grid fragment that the infinite scroll appends.
Links from a grid to a photo carry its context (`?q=` or `?album=`), so that previous and next
on the photo page walk the same list. The template filters registered here (`badge`, `size`,
`month_label`) are there for the share pages too.

A month's section is split into days (`by_day`), and the grid is justified: rows of tiles at
their photos' shapes (`shape`), or squares when the `sb_grid` cookie says so (`grid_squares`).

Everything is read for the requester (`access.who().sees`): another member's private photos
are in no grid, folder, album count or photo page (404, as for a photo that does not exist).
The photo page of one's own photo has the button that makes it private or the household's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import bottle

from shoebox.catalog import albums, people, search, visibility
from shoebox.catalog.cache import TILE_ASPECTS
from shoebox.catalog.folders import children as folders_of
from shoebox.catalog.models import Account, AlbumPhoto, File, Photo, Place, Root
from shoebox.catalog.photos import EDITED, GUESSED, format_exposure
from shoebox.errors import UsageError
from shoebox_viewer import access, labels
from shoebox_viewer.context import Context, url

PAGE_SIZE = 120  # tiles per page of a grid
EAGER_TILES = 20  # the first tiles of a page's grid, loaded at once (the first screen's)
_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SHAPES = 20  # a tile's aspect ratio is rounded to 1/20: the classes .a10 to .a60 of app.css
GRID_COOKIE = "sb_grid"  # "squares": the grids are of squares (set by app.js's toggle)


@dataclass(frozen=True)
class Grid:
    """One page of a grid: its month groups, the link to the next page, and the total."""

    groups: list[tuple[str, str, list[dict[str, Any]]]]  # key "2024-07", label, items
    next_url: str | None
    total: int | None
    error: str


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
            lambda: album_query(album_id, sees()),
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
            return grid_page(_nothing, {}, scrubber=False, **values)
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


def _nothing() -> search.Query:
    """The query of no photos: the top of the folders view lists only folders."""
    return search.Query(text="", filters=Photo.id < 0)


def _quoted(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise UsageError("this folder's name holds both kinds of quote; search for it instead")


def album_query(album_id: int, viewer: visibility.Viewer) -> search.Query:
    """The album's photos that the viewer sees, archived ones too (someone chose to put them
    there)."""
    members = AlbumPhoto.select(AlbumPhoto.photo).where(AlbumPhoto.album == album_id)
    return search.Query(
        text=f"album:{album_id}",
        filters=Photo.id.in_(members),
        archived_given=True,
        viewer=viewer,
    )


def read_grid(query: search.Query) -> Grid:
    """The page of `query` that `?cursor=` or `?month=` asks for, grouped by month."""
    request = bottle.request
    cursor = request.query.get("cursor") or None
    month = request.query.get("month") or ""
    try:
        if month and not cursor:
            found = _MONTH.match(month)
            if not found or not 1 <= int(found[2]) <= 12:
                raise UsageError(f"month: wants YYYY-MM, not {month[:20]!r}")
            cursor = search.cursor_for_month(query, int(found[1]), int(found[2]))
            if cursor is None:
                return Grid([], None, 0, "")
        page = search.page(query, cursor=cursor, limit=PAGE_SIZE, total=cursor is None)
    except UsageError as exc:
        return Grid([], None, None, str(exc))
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.query.items() if k not in ("cursor", "month", "part")}
        params["cursor"] = page.next_cursor
        next_url = url(request.path) + "?" + urlencode(params)
    return Grid(group_by_month(page.items), next_url, page.total, "")


def group_by_month(
    items: list[dict[str, Any]],
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Items in timeline order split into months: (key "2024-07", label, items)."""
    return _grouped(items, len("2024-07"), month_label)


def _grouped(
    items: list[dict[str, Any]], width: int, label: Callable[[str], str]
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Runs of items whose local date starts alike (its first `width` characters)."""
    groups: list[tuple[str, str, list[dict[str, Any]]]] = []
    for item in items:
        key = (item["taken_at_local"] or item["taken_at"])[:width]
        if not groups or groups[-1][0] != key:
            groups.append((key, label(key), []))
        groups[-1][2].append(item)
    return groups


def grid_squares() -> bool:
    """Whether this browser asked for grids of squares (the `sb_grid` cookie of app.js)."""
    return bool(bottle.request.get_cookie(GRID_COOKIE) == "squares")


def group_by_day(
    items: list[dict[str, Any]],
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """A month's items split into days (by local date): (key "2024-07-14", label, items)."""
    return _grouped(items, len("2024-07-14"), day_label)


def day_label(key: str) -> str:
    """ "2025-06-14" -> "Saturday 14 June"."""
    try:
        day = dt.date.fromisoformat(key)
    except ValueError:
        return key
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def tile_shape(item: dict[str, Any]) -> str:
    """The class that gives a tile of the justified grid its photo's shape: "a27" for an
    aspect ratio of 27/20, rounded into TILE_ASPECTS (the tile rendition's own range); "a20",
    a square, for a photo of unknown size."""
    width, height = item.get("width"), item.get("height")
    if not width or not height or width < 0 or height < 0:
        return f"a{SHAPES}"
    low, high = TILE_ASPECTS
    return f"a{round(min(max(width / height, low), high) * SHAPES)}"


def month_label(key: str) -> str:
    """ "2024-07" -> "July 2024"."""
    try:
        year, month = key.split("-")
        return f"{MONTHS[int(month) - 1]} {int(year)}"
    except (ValueError, IndexError):
        return key


def _photo_context(viewer: visibility.Viewer) -> tuple[search.Query, dict[str, str]]:
    """The list the photo was opened from (`?album=` or `?q=`), for previous and next; the
    timeline when there is none or it cannot be read."""
    album = bottle.request.query.get("album", "")
    if album.isascii() and album.isdigit() and len(album) < 19:
        return album_query(int(album), viewer), {"album": album}
    text = _q()
    if text:
        try:
            return search.parse(text, viewer=viewer), {"q": text}
        except UsageError:
            pass
    return search.parse("", viewer=viewer), {}


def photo_view(photo: Any) -> dict[str, Any]:
    """What the photo page shows, formatted."""
    files = list(File.select(File, Root).join(Root).where(File.photo == photo.id).order_by(File.id))
    camera = " ".join(v for v in camera_words(photo.camera_make, photo.camera_model) if v).strip()
    exposure = exposure_words(
        format_exposure(photo.exposure_time), photo.f_number, photo.focal_length, photo.iso
    )
    owner = Account.get_or_none(Account.id == photo.owner_id) if photo.owner_id else None
    local: dt.datetime = photo.taken_at_local
    place = None
    if photo.lat is not None and photo.lng is not None:
        lat, lng = photo.lat, photo.lng
        named = Place.get_or_none(Place.photo == photo.id)
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
        "duration": _duration(photo.duration) if photo.duration else "",
        "place": place,
        "favorite": bool(photo.favorite),
        "archived": bool(photo.archived),
        "missing": bool(photo.missing),
        "private": photo.visibility == visibility.PRIVATE,
        "owner": owner.name if owner else None,
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


def camera_words(make: str | None, model: str | None) -> tuple[str | None, str | None]:
    if make and model and model.lower().startswith(make.lower()):
        return None, model  # "Canon" "Canon EOS R6"
    return make, model


def exposure_words(
    exposure: str | None, f_number: float | None, focal_length: float | None, iso: int | None
) -> str:
    """ "1/250 s · f/5.6 · 35 mm · ISO 200", of what is known."""
    words = [
        f"{exposure} s" if exposure else "",
        f"f/{f_number:g}" if f_number else "",
        f"{focal_length:g} mm" if focal_length else "",
        f"ISO {iso}" if iso else "",
    ]
    return " · ".join(w for w in words if w)


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def badge(item: dict[str, Any]) -> str:
    """The tile's badge: a video's length, LIVE, RAW, how many files a stack holds, or how
    many shots a burst holds."""
    if item.get("shots"):
        return f"{item['shots']} shots"
    if item["type"] == "video":
        return _duration(item["duration"]) if item["duration"] else "VIDEO"
    if item["type"] == "live":
        return "LIVE"
    files = [f for f in item["files"] if f["role"] in ("original", "raw")]
    if item["type"] == "raw" or any(f["role"] == "raw" for f in files):
        return "RAW+JPEG" if len(files) > 1 else "RAW"
    return f"{len(files)} files" if len(files) > 1 else ""


def no_preview(item: dict[str, Any]) -> tuple[str, str]:
    """What shows a photo that has no rendition: its file type ("HEIC", "CR3") and why there
    is no picture. `item` is a grid item (files with "path") or a photo_view (with "name")."""
    originals = [f for f in item["files"] if f["role"] in ("original", "raw")] or item["files"]
    name = (originals[0].get("path") or originals[0].get("name") or "") if originals else ""
    kind = os.path.splitext(name)[1].lstrip(".").upper()[:8] or item["type"].upper()
    if originals and all(f["status"] == "missing" for f in originals):
        return kind, "its file is missing"
    if item["type"] == "raw":
        return kind, "a RAW file without a preview inside that can be shown"
    if item["type"] == "video":
        return kind, "no picture could be taken from this video"
    return kind, f"no preview: {kind} files cannot be read here"


def human_size(size: int) -> str:
    """1234567 -> "1.2 MB"."""
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "KB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"
