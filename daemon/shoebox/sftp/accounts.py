"""SFTP accounts: who may upload, with which password hash or public keys, into which folder.

The rows live in the catalog's `Account` table; this module adds, lists, removes and looks them
up. Passwords are hashed by `shoebox.passwords`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from shoebox.catalog.models import Account, Photo
from shoebox.config import Settings
from shoebox.errors import UsageError
from shoebox.passwords import hash_password

NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
KEY_ALGORITHMS = ("ssh-ed25519", "ecdsa-sha2-", "ssh-rsa", "rsa-sha2-")


@dataclass(frozen=True)
class AccountRecord:
    """What a login needs to know about one account, read fresh from the catalog."""

    name: str
    password_hash: str | None
    authorized_keys: str
    folder: Path
    role: str


AccountLookup = Callable[[str], "AccountRecord | None"]


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a valid account name: use 1-32 lower-case letters, digits, "
            "'_' or '-', starting with a letter"
        )
    return name


def parse_keys(text: str, source: str) -> str:
    """OpenSSH public key lines from `text`, checked and normalised; UsageError if none."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = asyncssh.import_public_key(line)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise UsageError(
                f"{source}:{number}: not an OpenSSH public key ({exc}); give the .pub file"
            ) from None
        algorithm = key.get_algorithm()
        if not algorithm.startswith(KEY_ALGORITHMS):
            raise UsageError(
                f"{source}:{number}: {algorithm} keys are not accepted; use ed25519, ecdsa or rsa"
            )
        lines.append(key.export_public_key("openssh").decode("ascii").strip())
    if not lines:
        raise UsageError(f"{source} holds no public key")
    return "\n".join(lines) + "\n"


def folder_for(settings: Settings, name: str) -> Path:
    assert settings.sftp.upload_root is not None  # config.load fills it in
    return settings.sftp.upload_root / name


def add(
    settings: Settings,
    name: str,
    *,
    password: str | None = None,
    keys: str | None = None,
    role: str = "member",
) -> AccountRecord:
    """Create an account and its upload folder. Give a password, OpenSSH key lines, or both."""
    check_name(name)
    if password is None and keys is None:
        raise UsageError("give the account a password or a public key")
    if Account.get_or_none(Account.name == name) is not None:
        raise UsageError(f"account {name!r} already exists; `shoebox user remove {name}` first")
    folder = folder_for(settings, name)
    root = next(r for r in settings.library.originals if r == folder or r in folder.parents)
    if not root.is_dir():
        raise UsageError(f"the library root {root} is missing (is its disk mounted?)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the upload folder {folder}: {exc.strerror}") from None
    row = Account.create(
        name=name,
        password_hash=hash_password(password) if password is not None else None,
        authorized_keys=keys or "",
        folder=str(folder),
        role=role,
    )
    return _record(row)


def remove(name: str) -> AccountRecord:
    """Delete the account; its folder and the photos in it stay."""
    row = Account.get_or_none(Account.name == name)
    if row is None:
        raise UsageError(f"no account named {name!r} (`shoebox user list` shows them)")
    with Account._meta.database.atomic():
        # the photos keep no owner: set here, as MariaDB's ON DELETE SET NULL fires no
        # trigger and the photo counts (`catalog.counts`) follow the owner by their triggers
        Photo.update(owner=None).where(Photo.owner == row.id).execute()
        row.delete_instance()
    return _record(row)


def all_accounts() -> list[AccountRecord]:
    return [_record(row) for row in Account.select().order_by(Account.name)]


def lookup(name: str) -> AccountRecord | None:
    """The account called `name` as the catalog holds it now (so edits apply at next login)."""
    if not NAME_RE.fullmatch(name):
        return None
    row = Account.get_or_none(Account.name == name)
    return _record(row) if row is not None else None


def _record(row: Account) -> AccountRecord:
    return AccountRecord(
        name=row.name,
        password_hash=row.password_hash,
        authorized_keys=row.authorized_keys or "",
        folder=Path(row.folder),
        role=row.role,
    )
