"""A member's glance at one photo: the content hash of its renditions, answered with the
login check in one indexed query, for the viewer's fast lane (`shoebox_viewer.fastlane`).

A page of the timeline asks for a hundred tiles at once; each must prove two things: that the
session cookie is a live login, and that its account sees the photo (`visibility`). Asked
separately, each query built anew by Peewee, that costs more in Python than in the database,
so this one statement, built once per database and bound to new values each time, does both: the session by its unique token
hash, its account by primary key, the photo by primary key. It answers nothing else: any other
requester (a token, a trusted network, public mode, a visitor) takes the full route, and so
does every miss, which then says why (log in, 404).

The rule is `visibility.visible` for an account, spelled in SQL: the household's photos, the
account's own, and with `admins_see_private` every photo for an admin.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from peewee import PeeweeException

from shoebox.catalog.models import Account, Photo, Session, utcnow
from shoebox.catalog.visibility import PRIVATE
from shoebox.passwords import token_digest

# Marks that stand for the three values while the statement is built, found again among its
# parameters: a photo id, a token hash and a time that no request ever has.
_PHOTO, _TOKEN, _NOW = -(2**62) + 7, "\0glance-token", dt.datetime(1001, 2, 3, 4, 5, 6, 789)


@lru_cache(maxsize=8)
def _statement(database: Any, admins_see_private: bool) -> tuple[str, list[Any], list[int]]:
    """The SQL for this database, its parameters, and where the photo id, the token hash and
    the time go among them. Built by Peewee once; bound to new values on each call."""
    sees = (Photo.visibility != PRIVATE) | (Photo.owner == Account.id)
    if admins_see_private:
        sees |= Account.role == "admin"
    query = (
        Session.select(Photo.thumb_hash)
        .join(Account)
        .switch(Session)
        .join(Photo, on=(Photo.id == _PHOTO))
        .where(
            (Session.token_hash == _TOKEN)
            & (Session.expires_at > _NOW)
            & (Account.role != "")
            & sees
        )
    )
    sql, params = database.get_sql_context().sql(query).query()
    marks = [_PHOTO, _TOKEN, Session.expires_at.db_value(_NOW)]
    return sql, list(params), [params.index(mark) for mark in marks]


def rendition_hash(token: str, photo_id: int, *, admins_see_private: bool) -> str | None:
    """The content hash whose renditions show photo `photo_id`, when `token` is a live
    session's (`sessions`) and its account sees the photo; else None (no such
    session, no such photo, not one it sees, a photo without renditions yet, or the database
    failing: the full route then asks again and says why)."""
    if not 0 < photo_id < 2**63:
        return None
    database = Photo._meta.database
    sql, params, (at_photo, at_token, at_now) = _statement(database, admins_see_private)
    bound = list(params)
    bound[at_photo], bound[at_token] = photo_id, token_digest(token)
    bound[at_now] = Session.expires_at.db_value(utcnow())
    try:
        row = database.execute_sql(sql, bound).fetchone()
    except PeeweeException:
        return None  # the full route meets the same error and reports it
    return row[0] if row and row[0] else None
