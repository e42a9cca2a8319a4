"""Whether a library root may be indexed now: it is there, and it is the filesystem the
catalog knows.

A disk that is not mounted leaves its mount point behind: an empty folder, or one holding a
stray file (`.directory`, `.not-mounted`) or a folder someone made, on the filesystem below.
Indexing that would mark every photo missing. So each root's filesystem is recorded while
the catalog knows files in it: its device number and its filesystem id (`statvfs` f_fsid,
which ext4, xfs, btrfs and tmpfs derive from the filesystem's UUID, so it survives a
renumbered device). A root on another filesystem than the one recorded is left alone and
reported, whatever it holds, until that filesystem is back (or `shoebox root accept` says
the library really moved). A root from which most known files vanished at once is left alone
too (`Indexer` counts that).

Nothing here writes under a root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoebox.catalog.models import File, Root


@dataclass(frozen=True)
class Identity:
    """The filesystem a folder is on."""

    device: int
    fsid: str  # hex; "0" when the filesystem gives none

    def same(self, device: int | None, fsid: str | None) -> bool:
        """Whether a recorded identity names this filesystem. Device numbers of anonymous
        filesystems are reused (a new tmpfs may get an old one's number), so when both sides
        have a filesystem id, it decides."""
        if fsid and fsid != "0" and self.fsid != "0":
            return fsid == self.fsid
        return device == self.device

    def describe(self) -> str:
        return f"device {os.major(self.device)}:{os.minor(self.device)}, filesystem id {self.fsid}"


def identify(path: Path) -> Identity:
    """The filesystem `path` is on. Raises OSError."""
    st = os.stat(path)
    fsid = os.statvfs(path).f_fsid & 0xFFFF_FFFF_FFFF_FFFF
    return Identity(st.st_dev, f"{fsid:x}")


def check(root: Path, row: Root) -> str | None:
    """Why `root` must be left alone now, or None when it may be indexed. The filesystem is
    recorded when the catalog knows no file in the root yet (a first index, or a library
    emptied on purpose) or has none on record (a catalog from before identities were kept)."""
    if not root.is_dir():
        return f"library root {root} is missing (not mounted?)"
    try:
        ident = identify(root)
        empty = not any(os.scandir(root))
    except OSError as exc:
        return f"library root {root} cannot be read ({exc.strerror})"
    knows = File.select().where(File.root == row, File.status == "present").exists()
    if knows and row.device is not None and not ident.same(row.device, row.fsid):
        was = Identity(int(row.device), str(row.fsid or "0"))
        return (
            f"library root {root} is on another filesystem than before ({ident.describe()}; "
            f"it was {was.describe()}): is its disk mounted? If the library really moved to "
            f"this disk, run `shoebox root accept {root}`"
        )
    if knows and empty:
        return f"library root {root} is empty but the catalog knows files in it (not mounted?)"
    if not knows or row.device is None:
        record(row, ident)
    return None


def record(row: Root, ident: Identity) -> None:
    """Note `ident` as the root's filesystem (if it is not already)."""
    if (row.device, row.fsid) != (ident.device, ident.fsid):
        Root.update(device=ident.device, fsid=ident.fsid).where(Root.id == row.id).execute()
        row.device, row.fsid = ident.device, ident.fsid


def note(row: Any, reason: str | None) -> bool:
    """Record why the root is left alone (None: it is fine again); True when that changed."""
    if row.left_alone == reason:
        return False
    Root.update(left_alone=reason).where(Root.id == row.id).execute()
    row.left_alone = reason
    return True
