"""Logging in and out of the viewer: the login page and form (with the back-off after wrong
passwords, `shoebox.guard`) and logout. A login starts a session (`shoebox.catalog.sessions`)
whose token only the browser's cookie holds; who a later request is, is `access`'s job.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import bottle

from shoebox.catalog import sessions
from shoebox.passwords import verify_password
from shoebox_viewer import access
from shoebox_viewer.context import Context, url

log = logging.getLogger("shoebox.viewer")


def install(app: bottle.Bottle, ctx: Context) -> None:
    """/login and /logout."""

    @app.get("/login")
    def login_page() -> str:
        target = _safe_next(bottle.request.query.get("next"))
        return ctx.render("login.html", next=url(target), error="")

    @app.post("/login")
    def login() -> Any:
        request, ip = bottle.request, access.client_ip()
        name = request.forms.getunicode("name", default="").strip().lower()
        password = request.forms.getunicode("password", default="")
        target = _safe_next(request.forms.getunicode("next", default=""))
        account = sessions.account_named(name) if name else None
        stored = account.password_hash if account else None
        verdict = ctx.guard.login(name or "-", ip, lambda: verify_password(stored, password))
        if verdict.retry_after > 0:
            seconds = math.ceil(verdict.retry_after)
            bottle.response.status = 429
            bottle.response.set_header("Retry-After", str(seconds))
            message = f"Too many failed logins from your address; try again in {seconds} s."
            return ctx.render("login.html", next=url(target), error=message)
        if not verdict.ok:
            bottle.response.status = 401
            return ctx.render("login.html", next=url(target), error="Wrong name or password.")
        assert account is not None  # verify_password is False without a hash
        days = ctx.settings.viewer.session_days
        token = sessions.start(account.id, days)
        access.set_cookie(access.SESSION_COOKIE, token, max_age=days * 86400, samesite="lax")
        log.info("%s logged in from %s", account.name, ip)
        return bottle.redirect(url(target), 303)

    @app.post("/logout")
    def logout() -> Any:
        token = bottle.request.get_cookie(access.SESSION_COOKIE)
        if token:
            sessions.end(token)
        bottle.response.delete_cookie(access.SESSION_COOKIE, path=url(""))
        return bottle.redirect(url("login"), 303)


def _safe_next(target: str | None) -> str:
    """A page inside the viewer to go to after logging in, relative to the base path; never
    another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    script = bottle.request.script_name.rstrip("/")
    return target.removeprefix(script).lstrip("/")
