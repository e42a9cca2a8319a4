"""Viewer logins: the account a name logs in as, and the sessions a login starts, a request
resumes and a logout ends.

A session's cookie holds a random token; the catalog keeps only its SHA-256, so several viewer
processes share logins and a stolen catalog logs nobody in. Expired sessions are swept when
the next one starts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, NamedTuple

from shoebox.catalog.models import Account, Session, utcnow
from shoebox.passwords import token_digest


class Member(NamedTuple):
    """Who a live session is."""

    name: str
    role: str
    account_id: int


def account_named(name: str) -> Account | None:
    """The account of this name, if there is one."""
    found: Account | None = Account.get_or_none(Account.name == name)
    return found


def start(account_id: int, days: int) -> str:
    """A new session for the account, live for `days`; returns its token (for the cookie)."""
    token = secrets.token_urlsafe(32)
    Session.delete().where(Session.expires_at < utcnow()).execute()
    Session.create(
        token_hash=token_digest(token),
        account=account_id,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    return token


def resume(token: str) -> Member | None:
    """Who the session of this token is, or None when it is unknown or has expired."""
    query: Any = (
        Session.select(Account.name, Account.role, Account.id)
        .join(Account)
        .where((Session.token_hash == token_digest(token)) & (Session.expires_at > utcnow()))
        .tuples()
    )
    rows: list[tuple[str, str, int]] = list(query)
    return Member(*rows[0]) if rows else None


def end(token: str) -> None:
    """Log the session of this token out (nothing when there is none)."""
    Session.delete().where(Session.token_hash == token_digest(token)).execute()
