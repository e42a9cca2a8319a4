"""Signed tile URLs that nginx checks by itself (ngx_http_secure_link_module), so that the tiles
of a household page go from the cache folder to the browser with no Python at all.

With `[viewer] signed_tiles_secret_file` set, a grid links each tile it shows to
`<base>r/<hh>/<hash>-tile.jpg?md5=<tag>&expires=<unix time>`, where the tag is the MD5, in
unpadded base64url, of `<expires><path> <secret>`: what nginx computes for
`secure_link_md5 "$secure_link_expires$uri $shoebox_tiles_secret"` (the location block is in
systemd/nginx-shoebox.conf). nginx refuses a URL whose tag differs (403) or whose time has
passed (410), and its location takes tile and preview files only.

What it is worth: MD5 is the only hash the module offers. The tag covers the whole path and the
expiry, the secret (at least 32 characters) never leaves the server, and the viewer signs only
the renditions of the photos on the page it is rendering for that requester, so a URL reaches
no photo its holder could not see. Like any image link copied out of a page, it works for
whoever holds it until it expires: 6 to 12 hours (an expiry rounded up to the next 6-hour mark
and 6 hours more, so that a tile keeps one URL, and the browser's copy, for a browsing
session). Share links never get one: a visitor's tiles go through the viewer, so withdrawing a
link stops them at once.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from shoebox.errors import ConfigError

PERIOD = 6 * 3600  # seconds: a signed URL lasts between one and two of these
_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")  # a literal nginx's config can hold as it is
KEY = "[viewer] signed_tiles_secret_file"


def load_secret(path: str) -> str:
    """The secret in this file (surrounding white space ignored), or ConfigError."""
    try:
        secret = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{KEY}: cannot read {path}: {exc}") from None
    if not _SECRET.fullmatch(secret):
        raise ConfigError(
            f"{KEY}: {path} must hold one secret of 32 to 256 characters A-Z a-z 0-9 _ -; "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return secret


def rendition_path(content_hash: str, name: str) -> str:
    """The signed location of a rendition, relative to the viewer's base path."""
    return f"r/{content_hash[:2]}/{content_hash}-{name}.jpg"


def expiry(now: float) -> int:
    """When a URL signed at `now` stops working: the next PERIOD mark, and one PERIOD more."""
    return (int(now) // PERIOD + 2) * PERIOD


def sign(secret: str, path: str, expires: int) -> str:
    """`path` (absolute, as nginx sees it in $uri) with the query that nginx accepts until
    `expires` (seconds since the epoch)."""
    digest = hashlib.md5(f"{expires}{path} {secret}".encode()).digest()  # noqa: S324 -- nginx's
    tag = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{path}?md5={tag}&expires={expires}"
