"""Tiles, previews, originals and playable videos, by id only.

The member routes are `/tile/<photo_id>`, `/preview/<photo_id>`, `/large/<photo_id>` (full
screen: `large.py`), `/original/<file_id>` and `/video/<photo_id>`, for the photos the requester sees (`shoebox.catalog.visibility`; any
other id is 404, like one that does not exist). `Media` does the work for them and for share
links (`shares.py`), which check that an id belongs to the share before they ask. No path
from a URL ever reaches the file system: files are found from catalog rows (a root's path and
a file's exact bytes), and renditions from content hashes. Renditions hold no metadata but
their colour profile (the ingest writes them so).

A photo is in the catalog before its renditions are made (the ingest's slow phase makes them
later). Until then its tile and preview are pending: the thumbnail inside its file or a
placeholder (`embedded`), never stored by the browser and marked `X-Shoebox-Pending: 1`. The
pages mark such pictures (`rendition_pending`) and ask `/api/rendered?ids=...` (members only)
which of them are made, to swap them in without a reload (app.js).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bottle

from shoebox import embedded
from shoebox.catalog import albums, photos, visibility
from shoebox.catalog.cache import LARGE, PREVIEW, TILE, rendition_file, rendition_path
from shoebox.catalog.photos import decoder_kind, rendered_from, video_file
from shoebox_viewer import access, jsonio, large, signed
from shoebox_viewer.context import Context, url
from shoebox_viewer.http import IMMUTABLE, send_file
from shoebox_viewer.transcode import (
    TranscodeError,
    bare_copy,
    playable_copy,
    plays_as_is,
    probe,
)

if TYPE_CHECKING:  # the rows `shoebox.catalog.photos` reads
    from shoebox.catalog.models import File

log = logging.getLogger("shoebox.viewer")

PENDING_HEADER = "X-Shoebox-Pending"  # on a tile or preview sent before its rendition exists
MAX_ID = 2**63 - 1  # the catalog's ids are BIGINT at most: anything larger is no id


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def not_found() -> bottle.HTTPError:
    return bottle.HTTPError(404, "not found")


@dataclass
class Media:
    """Sends the media of catalog rows. Remembers, per content hash, what ffprobe said about
    videos whose catalog values did not tell whether a browser plays them; `making` bounds how
    many full-screen renditions are made at once."""

    ctx: Context
    probed: dict[str, bool] = field(default_factory=dict)
    making: threading.Semaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(large.MAKING)
    )

    def rendition(
        self, photo_id: int, name: str, viewer: visibility.Viewer, cache_control: str = IMMUTABLE
    ) -> bottle.HTTPResponse:
        """The tile or preview that shows this photo, if the viewer sees it (pending, while
        it is not made yet: `pending`)."""
        content_hash, width, height = self._seen(photo_id, viewer, "width", "height")
        return self._send_rendition(photo_id, content_hash, name, cache_control, (width, height))

    def large(
        self,
        photo_id: int,
        viewer: visibility.Viewer,
        *,
        originals: bool,
        cache_control: str = IMMUTABLE,
    ) -> bottle.HTTPResponse:
        """The full-screen picture of this photo, if the viewer sees it (`large.py`): the
        original when `originals` allows it and a browser shows it as it is, else the large
        rendition, made now if need be, else the preview."""
        content_hash, kind, width, height = self._seen(photo_id, viewer, "type", "width", "height")
        source = rendered_from(photo_id, content_hash) if kind != "video" else None
        shape = (width, height)
        if source is None:
            return self._send_rendition(photo_id, content_hash, PREVIEW, cache_control, shape)
        path, settings = file_path(source), self.ctx.settings
        if (
            originals
            and large.shown_as_is(settings, source, width, height)
            and os.path.isfile(path)
        ):
            return send_file(
                path,
                content_type=source.mime,
                etag=f'"{content_hash}-original"',
                cache_control=cache_control,
            )
        made = large.made(settings, self.making, path, decoder_kind(source), content_hash)
        name = LARGE if made else PREVIEW
        return self._send_rendition(photo_id, content_hash, name, cache_control, shape)

    def _seen(self, photo_id: int, viewer: visibility.Viewer, *columns: str) -> tuple[Any, ...]:
        """The photo's content hash (`thumb_hash`) and these columns, if the viewer sees it and
        it has renditions; else 404."""
        found = photos.seen_columns(viewer, photo_id, *columns) if valid_id(photo_id) else None
        if not found or not found[0]:
            raise not_found()
        return found

    def _send_rendition(
        self,
        photo_id: int,
        content_hash: str,
        name: str,
        cache_control: str,
        shape: tuple[int | None, int | None],
    ) -> bottle.HTTPResponse:
        path = rendition_path(self.ctx.settings.library.cache, content_hash, name)
        if not path.is_file():
            return self.pending(photo_id, content_hash, shape)
        return send_file(
            os.fsencode(path),
            content_type="image/jpeg",
            etag=f'"{content_hash}-{name}"',
            cache_control=cache_control,
        )

    def pending(
        self, photo_id: int, content_hash: str, shape: tuple[int | None, int | None]
    ) -> bottle.HTTPResponse:
        """What shows a photo whose renditions are not made yet (`embedded`): the thumbnail
        in its file, else a placeholder in the photo's shape; never stored by the browser, and
        marked pending (`PENDING_HEADER`), so that the page asks again once it is made."""
        source = rendered_from(photo_id, content_hash)
        body = None
        if source is not None and decoder_kind(source) == "image":
            try:
                body = embedded.thumbnail(file_path(source))
            except bottle.HTTPError:  # a path that climbs out of its root: not read
                body = None
        headers = {"Cache-Control": "no-store", PENDING_HEADER: "1"}
        if body is None:
            body, headers["Content-Type"] = embedded.placeholder(*shape), "image/png"
        else:
            headers["Content-Type"] = "image/jpeg"
        return bottle.HTTPResponse(body, 200, headers)

    def original(self, found: File) -> bottle.HTTPResponse:
        """The file of this row as stored, as a download (its base name only)."""
        return send_file(
            file_path(found),
            content_type=found.mime or "application/octet-stream",
            download_name=os.path.basename(found.rel_path),
            ranges=True,
        )

    def video(
        self, photo_id: int, *, bare: bool = False, cache_control: str = IMMUTABLE
    ) -> bottle.HTTPResponse:
        """A video a browser plays: the file itself, or a cached copy made now if it is not
        there yet: H.264 for a video a browser cannot play, and with `bare` (a visitor who may
        not have the original) a copy without metadata of one it can. 415 in JSON when ffmpeg
        cannot make the copy. `cache_control` is for the copies (named by content)."""
        chosen = video_file(photo_id)
        if chosen is None:
            raise not_found()
        path = file_path(chosen)
        if not os.path.isfile(path):
            raise not_found()
        plays = self._plays(chosen, path)
        webm = chosen.mime == "video/webm"
        if plays and not bare:
            return send_file(path, content_type="video/webm" if webm else "video/mp4", ranges=True)
        cache, ffmpeg = self.ctx.settings.library.cache, self.ctx.settings.ingest.ffmpeg
        try:
            if plays:
                copy = bare_copy(cache, chosen.hash or "", path, webm=webm, ffmpeg=ffmpeg)
            else:
                copy = playable_copy(cache, chosen.hash or "", path, ffmpeg=ffmpeg)
        except TranscodeError as exc:
            log.warning("cannot play video %s in a browser: %s", os.fsdecode(path), exc)
            body = {"error": f"this video cannot be played in a browser ({exc})", "status": 415}
            return bottle.HTTPResponse(json.dumps(body), 415, {"Content-Type": "application/json"})
        return send_file(
            os.fsencode(copy),
            content_type="video/webm" if plays and webm else "video/mp4",
            etag=f'"{chosen.hash}-{"bare" if plays else "h264"}"',
            cache_control=cache_control,
            ranges=True,
        )

    def _plays(self, chosen: Any, path: bytes) -> bool:
        codec = json.loads(chosen.meta).get("codec") if chosen.meta else None
        verdict = plays_as_is(chosen.mime, codec if isinstance(codec, str) else None)
        if verdict is not None:
            return verdict
        key = chosen.hash or os.fsdecode(path)
        if key not in self.probed:
            self.probed[key] = probe(path, _ffprobe(self.ctx.settings.ingest.ffmpeg))
        return self.probed[key]


def _ffprobe(ffmpeg: str) -> str:
    """ffprobe lives next to ffmpeg."""
    folder, name = os.path.split(ffmpeg)
    return os.path.join(folder, name.replace("ffmpeg", "ffprobe")) if "ffmpeg" in name else name


def file_path(row: Any) -> bytes:
    """Where a File row's bytes are: its root's path joined with its exact relative bytes.
    A relative path that would climb out of the root is refused (404)."""
    relative = bytes(row.rel_path_raw)
    parts = relative.split(b"/")
    if not relative or relative.startswith(b"/") or b".." in parts or b"\0" in relative:
        raise not_found()
    return os.path.join(os.fsencode(photos.root_path(row.root_id)), relative)


def tile_source(secret: str) -> Any:
    """The grids' `tile_src(item, prefix, pending)`: where the tile of a grid item is. With a
    secret (`signed.py`), a household page (`prefix` the viewer's own) and a tile that is made
    (not `pending`), a URL signed for nginx; else the viewer's `<prefix>tile/<id>`, as for
    share links (`s/TOKEN/`), whose tiles must stop with the link."""

    def tile_src(item: dict[str, Any], prefix: str, pending: bool = False) -> str:
        content_hash = item.get("thumb_hash")
        if secret and content_hash and not pending and prefix == url(""):
            path = url(signed.rendition_path(content_hash, TILE))
            return signed.sign(secret, path, signed.expiry(time.time()))
        return f"{prefix}tile/{item['id']}"

    return tile_src


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The member routes, and the grids' tile URLs; share links have a `Media` of their own
    (`shares.py`)."""
    media = Media(ctx)
    secret_file = ctx.settings.viewer.signed_tiles_secret_file
    secret = signed.load_secret(secret_file) if secret_file else ""
    ctx.templates.globals["tile_src"] = tile_source(secret)
    cache = str(ctx.settings.library.cache)

    def made(content_hash: str, *names: str) -> bool:
        return all(os.path.isfile(rendition_file(cache, content_hash, n)) for n in names)

    def pending(item: dict[str, Any], name: str = TILE) -> bool:
        """Whether the page shows this item's rendition `name` before it is made: the page
        marks it (`data-pending`) and app.js swaps it in once `/api/rendered` says so."""
        content_hash = item.get("thumb_hash")
        return isinstance(content_hash, str) and not made(content_hash, name)

    ctx.templates.globals["rendition_pending"] = pending

    @app.get("/api/rendered")
    @access.browse
    def rendered() -> Any:
        """Of these photos (`?ids=1,2,3`), those whose tile and preview are made ("ready") and
        those still being made ("pending"); an id the member does not see, like one that does
        not exist or has no renditions, is in neither."""
        ids = albums.photo_ids_text(bottle.request.query.get("ids") or "", "ids")
        hashes = photos.rendition_hashes(access.who().sees, ids)
        ready = [i for i, content_hash in hashes.items() if made(content_hash, TILE, PREVIEW)]
        return jsonio.answer({"ready": ready, "pending": [i for i in hashes if i not in ready]})

    @app.get("/tile/<photo_id:int>")
    @access.browse
    def tile(photo_id: int) -> Any:
        return media.rendition(photo_id, TILE, access.who().sees)

    @app.get("/preview/<photo_id:int>")
    @access.browse
    def preview(photo_id: int) -> Any:
        return media.rendition(photo_id, PREVIEW, access.who().sees)

    @app.get("/large/<photo_id:int>")
    @access.browse
    def large_picture(photo_id: int) -> Any:
        return media.large(photo_id, access.who().sees, originals=True)

    @app.get("/original/<file_id:int>")
    @access.browse
    def original(file_id: int) -> Any:
        found = photos.present_file(access.who().sees, file_id) if valid_id(file_id) else None
        if found is None:
            raise not_found()
        return media.original(found)

    @app.get("/video/<photo_id:int>")
    @access.browse
    def video(photo_id: int) -> Any:
        if not visibility.can_see(access.who().sees, photo_id):
            raise not_found()
        return media.video(photo_id)
