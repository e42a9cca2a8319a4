"""The viewer as one WSGI application: the Bottle routes of each part, behind `Front`.

A member's tiles and previews take `fastlane` before Bottle. The parts, in the order their
routes are installed:
- `access`: who is asking, CSRF;
- `login`: the login and logout routes;
- `pages`: the household's HTML pages (timeline, photo, albums, folders);
- `api`: the JSON API the pages use;
- `media`: tiles, previews, originals and playable videos, by id only;
- `shares`: what visitors see through a share link, and managing links.
- `places`: the map of where photos were taken, and the places list.
- `people`: people and their faces (pages, face crops, API).
- `labels`: what the photos show (the labels page).
- `duplicates`: near-duplicates to review, one kept and the others archived.
- `admin`: the daemons and their last check of the library (admins only).
- `zips`: downloads of a selection, an album or a visitor's link as one zip.
- `memories`: this day in earlier years, and a year's highlights.
- `assets`: the pages' stylesheets and scripts (static/).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import bottle

from shoebox.config import Settings
from shoebox.errors import Forbidden, NotFound, UsageError
from shoebox.guard import Guard
from shoebox_viewer import (
    access,
    admin,
    api,
    assets,
    duplicates,
    labels,
    login,
    media,
    memories,
    pages,
    people,
    places,
    shares,
    zips,
)
from shoebox_viewer.context import Context, make_templates
from shoebox_viewer.fastlane import FastLane
from shoebox_viewer.front import Front, WSGIApp
from shoebox_viewer.http import gzip

log = logging.getLogger("shoebox.viewer")
STATIC = Path(__file__).with_name("static")


def make_app(settings: Settings, *, guard: Guard | None = None) -> WSGIApp:
    """The viewer for these settings. The catalog must be open (`shoebox.catalog.Catalog`).
    `guard`: the back-off after wrong passwords (default: `Guard` with its usual rules)."""
    ctx = Context(settings, make_templates(), guard or Guard(logger=log))
    app = bottle.Bottle()
    app.config["catchall"] = True
    # Ids are at most 18 digits: a longer one matches no route (404) instead of overflowing
    # SQLite's 64-bit integers.
    app.router.add_filter("int", lambda _conf: (r"-?\d{1,18}", int, lambda x: str(int(x))))
    for part in (
        access, login, pages, api, media, shares, places, people, labels, duplicates, admin, zips,
        memories,
    ):  # fmt: skip
        part.install(app, ctx)
    files = assets.Assets.read(STATIC)
    assets.install(app, ctx, files)
    app.default_error_handler = _error_page(ctx)
    app.add_hook("before_request", _strip_trailing_nothing)
    full = gzip(_translate_usage_errors(app))
    return Front(
        FastLane(full, settings), settings.viewer, settings.places.tile_url, files.style_source
    )


def _strip_trailing_nothing() -> None:
    """Bottle answers `/x/` and `/x` differently; nothing here has a trailing slash."""
    path = bottle.request.environ["PATH_INFO"]
    if len(path) > 1 and path.endswith("/"):
        bottle.request.environ["PATH_INFO"] = path.rstrip("/") or "/"


def _translate_usage_errors(app: bottle.Bottle) -> bottle.Bottle:
    """A UsageError (a bad query, a bad value) is the client's mistake: 400 with its text;
    NotFound (nothing there, or nothing the requester sees) is 404, Forbidden 403."""

    def plugin(callback: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except NotFound as exc:
                raise bottle.HTTPError(404, str(exc)) from None
            except Forbidden as exc:
                raise bottle.HTTPError(403, str(exc)) from None
            except UsageError as exc:
                raise bottle.HTTPError(400, str(exc)) from None

        return wrapper

    app.install(plugin)
    return app


def _error_page(ctx: Context) -> Any:
    def handler(error: bottle.HTTPError) -> str:
        if error.status_code >= 500:
            log.error(
                "%s %s failed: %s", bottle.request.method, bottle.request.path, error.exception
            )
        message = str(error.body) if error.status_code < 500 else "Something went wrong."
        if bottle.request.path.startswith(("/api/", "/s/")) and _wants_json():
            bottle.response.content_type = "application/json"
            return json.dumps({"error": message, "status": error.status_code})
        bottle.response.content_type = "text/html; charset=utf-8"
        return ctx.render("error.html", status=error.status_code, message=message)

    return handler


def _wants_json() -> bool:
    """The member's API (`/api/...`), a visitor's (`/s/<token>/api/...`), or a script asking."""
    request = bottle.request
    api = request.path.startswith("/api/") or request.path.split("/")[3:4] == ["api"]
    return api or "json" in request.get_header("Accept", "")
