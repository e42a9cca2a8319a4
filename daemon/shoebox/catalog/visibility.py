"""Who sees which photo: the one rule, which every read of the catalog applies.

A photo has an *owner*, the account whose upload made it: the account whose upload folder
(`Account.folder`, `<upload_root>/<name>`) holds the file the photo was made from, resolved
once, when the ingest makes the photo (`owner_for`). A photo made from a file anywhere else
(a NAS copy, Syncthing into a shared folder) has no owner. Its *visibility* is `household`
(every member sees it) or `private` (its owner and nobody else); a new photo takes its
owner's default (`Account.private_uploads`), and owners change it later (`set_visibility`).

A `Viewer` is whoever reads:
- an account: the household's photos and its own private ones;
- an account that sees everything: an admin where `[viewer] admins_see_private` says so;
- nobody in particular (`HOUSEHOLD`): a trusted network, public mode, a share link made from
  the command line: the household's photos only;
- the command line itself (`OPERATOR`): everything, with the server's paths.

`visible(viewer, column)` is the condition a read adds for a viewer. On photo rows it is
`visibility != 'private' OR owner = <the viewer>`, over columns that every index serving the
timeline, its pages and its counts holds, so each still answers by itself; on the rows of
other tables (faces, files, labels, places, album entries) it is `photo NOT IN (the private
photos of others)`, read from the index on `(visibility, owner)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from shoebox.catalog.models import Account, File, Photo, Root
from shoebox.errors import Forbidden, NotFound, UsageError

HOUSEHOLD_ONLY, PRIVATE = "household", "private"
CHOICES = (HOUSEHOLD_ONLY, PRIVATE)
MAX_IDS = 1000  # photos changed in one call


@dataclass(frozen=True)
class Viewer:
    """Who reads: an account (None: nobody in particular), whether they see every photo, and
    whether they see the server's absolute paths (only the command line does)."""

    account_id: int | None = None
    everything: bool = False
    server_paths: bool = False


HOUSEHOLD = Viewer()
OPERATOR = Viewer(everything=True, server_paths=True)


def of_account(account_id: int | None, *, admins_see_private: bool = False) -> Viewer:
    """The viewer for a logged-in account (an admin sees everything when the config says so)."""
    if account_id is None:
        return HOUSEHOLD
    if admins_see_private:
        row: Any = Account.select(Account.role).where(Account.id == account_id).tuples()
        found = list(row)
        if found and found[0][0] == "admin":
            return Viewer(account_id, everything=True)
    return Viewer(account_id)


def hidden_from(viewer: Viewer) -> Any:
    """A subquery of the ids of the photos this viewer may not see (None: none hidden)."""
    if viewer.everything:
        return None
    private = Photo.visibility == PRIVATE
    if viewer.account_id is not None:
        private &= Photo.owner.is_null() | (Photo.owner != viewer.account_id)
    return Photo.select(Photo.id).where(private)


def visible(viewer: Viewer, column: Any = None) -> Any:
    """The condition that the photo row (`column` None) or the photo `column` names (such as
    `Face.photo` or `File.photo`) is one this viewer sees; None when it sees them all."""
    if viewer.everything:
        return None
    if column is None:
        return visible_in(viewer, Photo.visibility, Photo.owner)
    return column.not_in(hidden_from(viewer))


def visible_in(viewer: Viewer, visibility: Any, owner: Any) -> Any:
    """The same condition over columns that hold a photo's visibility and owner (the photo's
    own, or `PhotoCount`'s); None when the viewer sees every photo."""
    if viewer.everything:
        return None
    # `!=`: no index starts with who sees a photo in a way a planner would pick for it
    seen = visibility != PRIVATE
    return seen if viewer.account_id is None else seen | (owner == viewer.account_id)


def restrict(select: Any, viewer: Viewer, column: Any = None) -> Any:
    """`select` narrowed to what the viewer sees."""
    condition = visible(viewer, column)
    return select if condition is None else select.where(condition)


def can_see(viewer: Viewer, photo_id: int) -> bool:
    """Whether the photo exists and this viewer sees it."""
    if not 0 < photo_id < 2**63:
        return False
    return bool(restrict(Photo.select(Photo.id).where(Photo.id == photo_id), viewer).exists())


def get(viewer: Viewer, photo_id: int) -> Photo | None:
    """The photo, when this viewer sees it."""
    if not 0 < photo_id < 2**63:
        return None
    found: list[Photo] = list(restrict(Photo.select().where(Photo.id == photo_id), viewer))
    return found[0] if found else None


def set_visibility(viewer: Viewer, ids: Any, choice: Any) -> list[int]:
    """Make the viewer's own photos `household` or `private`; returns their ids. Every id must
    be a photo the viewer owns: NotFound names one it cannot see, Forbidden one it sees but
    does not own, and then nothing changes."""
    if choice not in CHOICES:
        raise UsageError(f"visibility must be {' or '.join(CHOICES)}, not {choice!r}")
    if not isinstance(ids, list):
        raise UsageError(f"ids must be a list of at most {MAX_IDS} photo ids")
    wanted = list(ids)
    if len(wanted) > MAX_IDS or any(
        isinstance(i, bool) or not isinstance(i, int) or not 0 < i < 2**63 for i in wanted
    ):
        raise UsageError(f"ids must be a list of at most {MAX_IDS} photo ids")
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return []
    if viewer.account_id is None:
        raise Forbidden("only a photo's owner may change who sees it; log in first")
    rows: Any = restrict(
        Photo.select(Photo.id, Photo.owner).where(Photo.id.in_(wanted)), viewer
    ).tuples()
    owners = dict(list(rows))
    for photo_id in wanted:
        if photo_id not in owners:
            raise NotFound(f"no photo {photo_id}")
        if owners[photo_id] != viewer.account_id:
            raise Forbidden(f"photo {photo_id} is not yours: only its owner may hide it")
    Photo.update(visibility=choice).where(
        Photo.id.in_(wanted) & (Photo.owner == viewer.account_id)
    ).execute()
    return wanted


def set_default(name: str, private: bool) -> None:
    """Whether the photos an account's uploads make start private (UsageError: no account)."""
    if not Account.update(private_uploads=private).where(Account.name == name).execute():
        raise UsageError(f"no account named {name!r} (`shoebox user list` shows them)")


def _folders() -> list[tuple[str, int, bool]]:
    """(upload folder with a trailing /, account id, private by default), deepest first."""
    rows: Any = Account.select(Account.folder, Account.id, Account.private_uploads).tuples()
    found = [(os.path.join(folder, ""), i, bool(private)) for folder, i, private in rows]
    return sorted(found, key=lambda row: (-len(row[0]), row[1]))


def owner_for(root_id: int, rel_path: str) -> tuple[int | None, str]:
    """The owner and the visibility a photo made from this file starts with: the account
    whose upload folder holds it (the deepest, if folders nest), and its default."""
    root: Any = Root.select(Root.path).where(Root.id == root_id).tuples()
    found = list(root)
    if not found:
        return None, HOUSEHOLD_ONLY
    path = os.path.join(found[0][0], rel_path)
    for folder, account_id, private in _folders():
        if path.startswith(folder):
            return account_id, PRIVATE if private else HOUSEHOLD_ONLY
    return None, HOUSEHOLD_ONLY


def assign_owners() -> int:
    """Owners for the photos that have none, from where their files are (for a catalog made
    before photos had owners); they stay visible to the household. Returns how many."""
    done = 0
    claimed: set[int] = set()
    roots: list[tuple[int, str]] = list(Root.select(Root.id, Root.path).tuples())  # type: ignore[arg-type]
    for folder, account_id, _private in _folders():
        for root_id, root_path in roots:
            root = os.path.join(root_path, "")
            if folder.startswith(root):
                prefix = folder[len(root) :]
                inside = File.rel_path.startswith(prefix) if prefix else File.id.is_null(False)
            elif root.startswith(folder):
                inside = File.id.is_null(False)  # the whole root is inside the folder
            else:
                continue
            rows: Any = (
                File.select(File.photo)
                .where((File.root == root_id) & inside & File.photo.is_null(False))
                .tuples()
            )
            ids = {photo_id for (photo_id,) in rows} - claimed
            claimed |= ids
            listed = sorted(ids)
            for start in range(0, len(listed), MAX_IDS):
                done += (
                    Photo.update(owner=account_id)
                    .where(Photo.id.in_(listed[start : start + MAX_IDS]) & Photo.owner.is_null())
                    .execute()
                )
    return done
