"""The viewer's front door, as WSGI middleware around the Bottle application: the client's
address, scheme and host (from X-Forwarded-* only when the peer is a trusted proxy), the base
path it is served under, and the security headers every response carries.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from shoebox.config import ViewerSettings

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

CLIENT_IP = "shoebox.client_ip"
SECURE = "shoebox.secure"

CSP = (
    "default-src 'self'; img-src 'self' data: blob:{tiles}; media-src 'self' blob:; "
    "style-src 'self'{styles}; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP.format(tiles="", styles="")),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # share tokens live in URLs: never leak them
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def tile_origin(tile_url: str) -> str:
    """The scheme, host and port of a tile URL template such as
    https://tile.openstreetmap.org/{z}/{x}/{y}.png, or "" when it has none we can allow."""
    parts = urlsplit(tile_url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[A-Za-z0-9.\-{}]+", host):
        return ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    if "{" in host:  # {s}.tile.example.org: any subdomain
        host = "*." + host.split(".", 1)[1] if "." in host else ""
    return f"{parts.scheme}://{host}{port}" if host else ""


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def address_in(ip: str, nets: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in nets)


class Front:
    """Wraps the application: resolves who is on the other end, strips the base path, adds
    the security headers."""

    def __init__(
        self, app: WSGIApp, settings: ViewerSettings, tile_url: str = "", style_source: str = ""
    ) -> None:
        """`tile_url`: the opt-in online map tiles (`[places] tile_url`), whose origin the
        pages may then load images from; `style_source`: a CSP source for the pages' inline
        stylesheet (its hash, `assets.Assets.style_source`)."""
        self.app = app
        self.proxies = networks(settings.trusted_proxies)
        self.base = settings.base_path.rstrip("/")
        origin = tile_origin(tile_url)
        csp = CSP.format(
            tiles=" " + origin if origin else "", styles=" " + style_source if style_source else ""
        )
        self.headers = tuple(
            ("Content-Security-Policy", csp) if name == "Content-Security-Policy" else (name, value)
            for name, value in SECURITY_HEADERS
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self._resolve_client(environ)
        path = environ.get("PATH_INFO", "") or "/"
        if self.base:
            if path == self.base:
                return _respond(start_response, "308 Permanent Redirect", self.base + "/")
            if not path.startswith(self.base + "/"):
                return _respond(start_response, "404 Not Found")
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.base
            environ["PATH_INFO"] = path[len(self.base) :]

        def with_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in self.headers if h[0].lower() not in present)
            if environ[SECURE]:
                headers.append(("Strict-Transport-Security", "max-age=31536000"))
            return start_response(status, headers, *exc)

        return self.app(environ, with_headers)

    def _resolve_client(self, environ: Environ) -> None:
        peer = environ.get("REMOTE_ADDR", "")
        client, secure = peer, environ.get("wsgi.url_scheme") == "https"
        if address_in(peer, self.proxies):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                client = hop
                if not address_in(hop, self.proxies):
                    break
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                secure = proto == "https"
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
            if host:
                environ["HTTP_HOST"] = host
        for key in _FORWARDED:  # Bottle would believe them from anyone: nobody else may
            environ.pop(key, None)
        environ[CLIENT_IP] = client
        environ[SECURE] = secure


def _respond(start_response: StartResponse, status: str, location: str = "") -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), *SECURITY_HEADERS]
    if location:
        headers.append(("Location", location))
    start_response(status, headers)
    return [status.encode()]
