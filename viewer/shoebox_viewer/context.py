"""What every part of the viewer is handed when its routes are installed: the settings, the
templates, the password guard. Passed down explicitly; there are no module-level globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bottle
import jinja2

from shoebox.catalog import visibility
from shoebox.config import Settings
from shoebox.enrich.stages import Off, optional_off
from shoebox.guard import Guard
from shoebox.printable import shorten
from shoebox_viewer.front import Network, networks

SHORT_TEXT = 120  # characters of a title, tag or query in an attribute, a tile or a list cell
PAGE_TEXT = 10_000  # of a photo's title or description on its own page
WHO = "shoebox.who"  # environ key: the access.Who of this request
CSRF = "shoebox.csrf"  # environ key: this browser's CSRF token


@dataclass(frozen=True)
class Who:
    """The requester. `role` is admin, member, viewer, or "" for nobody in particular; `sees`
    is which photos they see; `read_only` is a token that may only read."""

    name: str | None
    role: str
    account_id: int | None
    via: str  # login, token, network, public, none
    sees: visibility.Viewer = visibility.HOUSEHOLD
    read_only: bool = False

    @property
    def can_browse(self) -> bool:
        return bool(self.role)

    @property
    def can_change(self) -> bool:
        return self.role in ("admin", "member") and not self.read_only

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


NOBODY = Who(None, "", None, "none")


@dataclass
class Context:
    settings: Settings
    templates: jinja2.Environment
    guard: Guard
    trusted: tuple[Network, ...] = field(init=False)
    off: dict[str, Off] = field(init=False)  # optional stages that are off (faces, labels)

    def __post_init__(self) -> None:
        self.trusted = networks(self.settings.viewer.trusted_networks)
        self.off = optional_off(self.settings)

    def render(self, name: str, **values: Any) -> str:
        """A page from templates/, with `who` (see `access.Who`), `csrf_token`, `base` (the
        URL prefix, ending in /) and `off` (the optional stages that are off) always
        available."""
        environ = bottle.request.environ
        values.setdefault("off", self.off)
        values.setdefault("who", environ.get(WHO, NOBODY))
        values.setdefault("csrf_token", environ.get(CSRF, ""))
        values.setdefault("base", url(""))
        return self.templates.get_template(name).render(**values)


def url(path: str) -> str:
    """An absolute URL path inside the viewer (the base path from a proxy included)."""
    prefix: str = bottle.request.script_name
    return prefix + path.lstrip("/")


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shoebox_viewer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(url=url, PAGE_TEXT=PAGE_TEXT)
    env.filters["shorten"] = _shorten
    return env


def _shorten(text: object, limit: int = SHORT_TEXT) -> str:
    """The `shorten` filter: text from photos (titles, descriptions, keywords) or from people
    (queries) cut to `limit` characters, so a 1 MB XMP title does not go into every page."""
    return shorten(str(text), limit)
