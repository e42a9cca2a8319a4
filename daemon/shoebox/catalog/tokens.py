"""Personal access tokens for scripts: made, listed and revoked by `shoebox token`, checked by
the viewer for `Authorization: Bearer TOKEN`.

A token acts as its account, with the scope `read` (looks, changes nothing) or `write` (does
what the account may do). It is 256 random bits, shown once when made; the catalog keeps only
its SHA-256 (a token is not a password: nothing short enough to guess, so a slow hash would
only slow every request). Its last use is kept to the minute.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from shoebox.catalog.models import Account, ApiToken, utcnow
from shoebox.errors import UsageError
from shoebox.passwords import token_digest

SCOPES = ("read", "write")
PREFIX = "sbt_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")
_TOKEN = re.compile(r"sbt_[A-Za-z0-9_-]{43}\Z")
_TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Holder:
    """Who a valid token speaks for."""

    token_id: int
    account_id: int
    name: str  # the account's
    role: str
    scope: str


def create(name: str, account: str, scope: str) -> tuple[ApiToken, str]:
    """A new token for the account named `account`; returns its row and the token itself,
    which is not kept and cannot be shown again."""
    if not _NAME.match(name):
        raise UsageError(
            f"token name {name[:70]!r}: 1 to 64 letters, digits, spaces, '.', '_' or '-'"
        )
    if scope not in SCOPES:
        raise UsageError(f"scope must be read or write, not {scope!r}")
    owner = Account.get_or_none(Account.name == account)
    if owner is None:
        raise UsageError(f"no account named {account!r} (`shoebox user list` shows them)")
    if ApiToken.get_or_none(ApiToken.name == name) is not None:
        raise UsageError(f"there is a token named {name!r} already; revoke it or pick another")
    token = PREFIX + secrets.token_urlsafe(32)
    row: ApiToken = ApiToken.create(
        name=name, account=owner.id, scope=scope, token_hash=token_digest(token)
    )
    return row, token


def listing() -> list[tuple[ApiToken, str]]:
    """Every token with its account's name, oldest first."""
    rows = ApiToken.select(ApiToken, Account).join(Account).order_by(ApiToken.id)
    return [(row, row.account.name) for row in rows]


def revoke(key: str) -> ApiToken:
    """Delete the token with this name (or id); UsageError when there is none."""
    found = ApiToken.get_or_none(ApiToken.name == key)
    if found is None and key.isdigit() and len(key) < 19:
        found = ApiToken.get_or_none(ApiToken.id == int(key))
    if found is None:
        raise UsageError(f"no token {key!r} (`shoebox token list` shows them)")
    found.delete_instance()
    return found


def holder(token: str) -> Holder | None:
    """Who the token speaks for, or None for anything that is not a live token. Notes the use."""
    if not _TOKEN.match(token):
        return None
    rows = list(
        ApiToken.select(ApiToken, Account)
        .join(Account)
        .where(ApiToken.token_hash == token_digest(token))
    )
    if not rows:
        return None
    row = rows[0]
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return Holder(row.id, row.account_id, row.account.name, row.account.role, row.scope)
