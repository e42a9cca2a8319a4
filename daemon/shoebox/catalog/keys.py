"""Keys kept in the catalog (`Secret` rows): made at first use with 256 random bits, then
shared by every process that opens the catalog."""

from __future__ import annotations

import secrets
from contextlib import suppress

from peewee import IntegrityError

from shoebox.catalog.models import Secret


def catalog_key(name: str) -> bytes:
    """The key called `name`, made now if this catalog has none yet (two processes that race
    to make it end up with the same one)."""
    found = list(Secret.select().where(Secret.name == name))
    if not found:
        with suppress(IntegrityError):  # another process made it first: use theirs
            Secret.create(name=name, value=secrets.token_hex(32))
        found = list(Secret.select().where(Secret.name == name))
    return bytes.fromhex(found[0].value)
