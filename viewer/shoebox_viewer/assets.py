"""The pages' static files (static/): the stylesheet every page carries inline, versioned URLs
for the others, and the route that serves them.

A page must not wait for a stylesheet before it shows its first screen of tiles, so every page
holds app.css in a <style> element (`INLINE_CSS`), which the Content-Security-Policy allows by
its hash (`Assets.style_source`) and nothing else inline. Scripts and the stylesheets of single
pages are linked as static/NAME?v=VERSION, VERSION a digest of the file's content read when the
viewer starts: the answer to the current version is kept for a year and never asked for again
(immutable), so a later visit makes no request for it; any other (an unversioned link, or a
page from before an upgrade) is kept for an hour.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bottle
from markupsafe import Markup

from shoebox_viewer.context import Context, url

INLINE_CSS = "app.css"
IMMUTABLE = "public, max-age=31536000, immutable"  # the current version of a file
SHORT = "public, max-age=3600"  # any other request for it


@dataclass(frozen=True)
class Assets:
    """The files of `root` as they were when the viewer started: `versions` maps a file name
    to the digest of its content, `css` is the inline stylesheet's text."""

    root: Path
    versions: dict[str, str]
    css: str

    @classmethod
    def read(cls, root: Path) -> Assets:
        versions = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in sorted(root.iterdir())
            if path.is_file()
        }
        return cls(root, versions, (root / INLINE_CSS).read_text(encoding="utf-8"))

    def url(self, name: str) -> str:
        """The versioned URL of static/`name` (a file that is not there has none)."""
        return url(f"static/{name}?v={self.versions[name]}")

    @property
    def style_source(self) -> str:
        """The CSP source that allows the inline stylesheet and nothing else inline."""
        digest = hashlib.sha256(self.css.encode("utf-8")).digest()
        return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"

    def serve(self, name: str) -> Any:
        """static/`name` (bottle.static_file refuses paths outside the root), cached for a
        year when asked for by its current version."""
        answer = bottle.static_file(name, root=str(self.root))
        current = self.versions.get(name)
        fresh = current is not None and bottle.request.query.get("v") == current
        answer.set_header("Cache-Control", IMMUTABLE if fresh else SHORT)
        return answer


def install(app: bottle.Bottle, ctx: Context, assets: Assets) -> None:
    """The /static/<name> route, and the templates' `static(name)` (a versioned URL) and
    `inline_css` (the stylesheet for base.html's <style>)."""
    ctx.templates.globals.update(static=assets.url, inline_css=Markup(assets.css))  # noqa: S704 - our own file
    app.get("/static/<name>")(assets.serve)
