"""Who is asking and what they may do: sessions, tokens, trusted networks, public mode,
roles, and CSRF protection on every state-changing request. (Logging in and out is `login.py`.)

A request is made by one of:
- a household account that logged in (a session cookie, `shoebox.catalog.sessions`);
- a script with a personal access token (`Authorization: Bearer`, `shoebox.catalog.tokens`),
  as its account; a `read` token changes nothing;
- a client on a trusted network (`[viewer] trusted_networks`): browses and changes as a member;
- anyone, when `[viewer] auth = "public"`: browses, changes nothing;
- nobody in particular: sees the login page, and share links (`shares.py`), nothing else.

CSRF: every browser gets a random `sb_csrf` cookie (SameSite=Strict); every POST, PUT, PATCH
and DELETE must echo it in an `X-CSRF-Token` header or a `csrf_token` form field. A token
request needs none: no browser sends a bearer token by itself.

Each requester sees the photos `Who.sees` says (`shoebox.catalog.visibility`): an account its
own and the household's (an admin every photo where `[viewer] admins_see_private` says so),
anyone else the household's.
"""

from __future__ import annotations

import functools
import hmac
import math
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import bottle

from shoebox.catalog import sessions, tokens, visibility
from shoebox_viewer.context import CSRF, NOBODY, WHO, Context, Who, url
from shoebox_viewer.front import CLIENT_IP, SECURE, address_in

SESSION_COOKIE = "sb_session"
CSRF_COOKIE = "sb_csrf"
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


def who() -> Who:
    who_: Who = bottle.request.environ[WHO]
    return who_


def client_ip() -> str:
    ip: str = bottle.request.environ[CLIENT_IP]
    return ip


def browse(fn: F) -> F:
    """For routes that show the library: any household member, a trusted network, or
    anyone in public mode."""
    return _requiring(fn, lambda w: w.can_browse)


def change(fn: F) -> F:
    """For routes that change something: an admin or a member."""
    return _requiring(fn, lambda w: w.can_change)


def admin(fn: F) -> F:
    return _requiring(fn, lambda w: w.is_admin)


def _requiring(fn: F, allowed: Callable[[Who], bool]) -> F:
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        current = who()
        if not allowed(current):
            deny(current)
        return fn(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def deny(current: Who) -> None:
    """Send a browser that is not logged in to the login page; everything else gets 401/403."""
    request = bottle.request
    if current.via == "login" or (current.can_browse and request.method == "GET"):
        raise bottle.HTTPError(403, "your account may not do this")
    if current.can_browse:  # public mode: looking needs no login, changing does
        raise bottle.HTTPError(401, "log in first")
    if request.method == "GET" and not request.path.startswith("/api/"):
        target = request.fullpath + (f"?{request.query_string}" if request.query_string else "")
        bottle.redirect(url("login") + "?" + bottle.urlencode({"next": target}), 303)
    raise bottle.HTTPError(401, "log in first")


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The before-request hook that knows who is asking (the login and logout routes are
    `login.py`'s)."""

    @app.hook("before_request")
    def identify() -> None:
        request = bottle.request
        request.environ[CSRF] = _csrf_cookie()
        current = request.environ[WHO] = _resolve(ctx)
        if request.method in _UNSAFE:
            if current.read_only:
                raise bottle.HTTPError(403, "this token may only read")
            if current.via != "token":
                _check_csrf()


def _resolve(ctx: Context) -> Who:
    def who_is(name: str, role: str, account_id: int, via: str, read_only: bool = False) -> Who:
        sees = visibility.of_account(
            account_id, admins_see_private=ctx.settings.viewer.admins_see_private
        )
        return Who(name, role, account_id, via, sees, read_only)

    scheme, _, given = bottle.request.get_header("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # (a proxy's Basic authentication is left alone)
        found = tokens.holder(given.strip())
        if found is None:
            verdict = ctx.guard.bad_token(client_ip())
            if verdict.retry_after > 0:
                seconds = str(math.ceil(verdict.retry_after))
                raise bottle.HTTPError(
                    429,
                    "too many unknown tokens from your address",
                    headers={"Retry-After": seconds},
                )
            raise bottle.HTTPError(
                401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        return who_is(found.name, found.role, found.account_id, "token", found.scope == "read")
    token = bottle.request.get_cookie(SESSION_COOKIE)
    if token:
        member = sessions.resume(token)
        if member is not None:
            return who_is(member.name, member.role, member.account_id, "login")
    if ctx.trusted and address_in(client_ip(), ctx.trusted):
        return Who(None, "member", None, "network")
    if ctx.settings.viewer.auth == "public":
        return Who(None, "viewer", None, "public")
    return NOBODY


def _csrf_cookie() -> str:
    token: str | None = bottle.request.get_cookie(CSRF_COOKIE)
    if token and 16 <= len(token) <= 64:
        return token
    token = secrets.token_urlsafe(16)  # 128 bits
    set_cookie(CSRF_COOKIE, token, max_age=None, samesite="strict", httponly=False)
    return token


def _check_csrf() -> None:
    request = bottle.request
    expected = request.get_cookie(CSRF_COOKIE) or ""
    given = request.environ.get(CSRF_HEADER) or ""
    if not given and request.content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = request.forms.getunicode("csrf_token", default="")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise bottle.HTTPError(403, "missing or wrong CSRF token; reload the page and try again")


def set_cookie(
    name: str, value: str, *, max_age: int | None, samesite: str, httponly: bool = True
) -> None:
    """Set a cookie of the viewer's (for its base path, secure behind HTTPS)."""
    options: dict[str, Any] = {
        "path": url(""),
        "httponly": httponly,
        "samesite": samesite,
        "secure": bool(bottle.request.environ.get(SECURE)),
    }
    if max_age is not None:
        options["max_age"] = max_age
    bottle.response.set_cookie(name, value, **options)
