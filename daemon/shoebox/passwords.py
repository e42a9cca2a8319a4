"""Password hashes: argon2id, salted and slow on purpose, for SFTP and viewer logins and for
password-protected share links; and the digest the catalog keeps of a random token."""

from __future__ import annotations

import functools
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shoebox.errors import UsageError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Checked against when there is no hash, so a miss costs what a wrong password does."""
    return _hasher.hash("shoebox: no such account")


def hash_password(password: str) -> str:
    if not password:
        raise UsageError("the password is empty; give one on standard input")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; slow on purpose (argon2id), also for a missing hash."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """What the catalog keeps of a session, API token or visitor cookie, so that a copy of the
    catalog opens nothing. A fast hash is enough: each of them carries 256 bits of randomness,
    so there is nothing to guess that a slow hash would slow down."""
    return hashlib.sha256(token.encode()).hexdigest()
