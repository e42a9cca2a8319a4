"""The fast lane: `GET /tile/<id>` and `GET /preview/<id>` for a logged-in member, answered
before Bottle, as WSGI middleware inside `Front` (so the base path, the client's address and
the security headers are as for every other answer).

A timeline page asks for a hundred tiles at once, and through Bottle each one paid for the
routing, the plugins, the hooks (who is asking, the CSRF cookie), two queries built by Peewee
and the response object: 1.25 ms a tile in all (`bench/renditions.py`: 800 tiles/s). Here it
pays for one indexed query (`shoebox.catalog.glance`: the session and the photo's visibility
together), and the file goes out through the server's `wsgi.file_wrapper`, with the same
ETag, Last-Modified, Cache-Control and 304s as `media.Media.rendition` (no CSRF cookie: a
tile is no page).

The lane only ever says yes. Anything it does not recognise or cannot prove (no session
cookie, a bearer token, an expired login, a photo the account does not see or that does not
exist, a rendition not on disk, a database error) goes on to the full route, which gives the
same answer it always gave (the login page, 404, 500), so every rule of `access` and
`visibility` keeps a single spelling for everything but this one yes. A rendition not made
yet is such a miss: the full route sends the photo's stand-in (`media.Media.pending`).
"""

from __future__ import annotations

import email.utils
import os
import re
import stat
from collections.abc import Iterable, Iterator
from typing import IO

from shoebox.catalog import glance
from shoebox.catalog.cache import rendition_file
from shoebox.config import Settings
from shoebox_viewer.access import SESSION_COOKIE
from shoebox_viewer.front import Environ, StartResponse, WSGIApp
from shoebox_viewer.http import CHUNK, IMMUTABLE, is_current

_PATH = re.compile(r"/(tile|preview)/(\d{1,18})\Z")  # as the routes' int filter reads them
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}\Z")  # secrets.token_urlsafe, as access makes them
_PREFIX = SESSION_COOKIE + "="


def session_token(cookie_header: str) -> str | None:
    """The session token from a Cookie header, when it has one of the shape logins make."""
    for part in cookie_header.split(";"):
        part = part.strip()
        if part.startswith(_PREFIX):
            token = part[len(_PREFIX) :]
            return token if _TOKEN.match(token) else None
    return None


class FastLane:
    """Answers a logged-in member's tiles and previews itself; passes all else to `app`."""

    def __init__(self, app: WSGIApp, settings: Settings) -> None:
        self.app = app
        self.cache = str(settings.library.cache)
        self.admins_see_private = settings.viewer.admins_see_private

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        get = environ.get("REQUEST_METHOD") == "GET"
        answer = self._answer(environ, start_response) if get else None
        return self.app(environ, start_response) if answer is None else answer

    def _answer(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes] | None:
        found = _PATH.match(environ.get("PATH_INFO", ""))
        if found is None:
            return None
        if environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer ":
            return None  # a token speaks for its holder, whatever the cookie says
        token = session_token(environ.get("HTTP_COOKIE", ""))
        if token is None:
            return None
        name, photo_id = found[1], int(found[2])
        content_hash = glance.rendition_hash(
            token, photo_id, admins_see_private=self.admins_see_private
        )
        if content_hash is None:
            return None
        try:
            handle = open(rendition_file(self.cache, content_hash, name), "rb")  # noqa: SIM115
        except OSError:
            return None
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                handle.close()
                return None
            etag = f'"{content_hash}-{name}"'
            headers = [
                ("ETag", etag),
                ("Last-Modified", email.utils.formatdate(info.st_mtime, usegmt=True)),
                ("Cache-Control", IMMUTABLE),
            ]
            since = environ.get("HTTP_IF_MODIFIED_SINCE")
            if is_current(etag, info.st_mtime, environ.get("HTTP_IF_NONE_MATCH"), since):
                handle.close()
                start_response("304 Not Modified", headers)
                return []
            headers += [("Content-Type", "image/jpeg"), ("Content-Length", str(info.st_size))]
            start_response("200 OK", headers)
        except BaseException:
            handle.close()
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            sent: Iterable[bytes] = wrapper(handle, CHUNK)
            return sent
        return _chunks(handle)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """The file in chunks, for a server without a file wrapper; closed at the end."""
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk
