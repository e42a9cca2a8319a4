"""Checking the library against the catalog: rot and drift, with nothing changed.

For every file the catalog holds as present, `check_file` compares the file on disk with its
row: gone (no file there), changed (size or mtime differ: an edit the indexer will pick up,
not rot) or rotten (size and mtime as recorded but the content's BLAKE3 differs: the bytes
changed under the filesystem's feet). A walk of the root finds the files on disk that the
catalog does not know. A root left alone (not mounted, another disk) is skipped whole and
named, so an unmounted disk never reads as thousands of gone files.

Only reads: no row is written and no file is touched. `shoebox verify` runs it at once; the
daemon runs it slowly (`shoebox.verifier`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shoebox.catalog.models import File, Root
from shoebox.ingest import identify, scan


@dataclass(frozen=True)
class Known:
    """A file the catalog holds as present."""

    root: Path
    rel: bytes
    size: int
    mtime_ns: int
    hash: str | None

    @property
    def path(self) -> str:
        return os.path.join(str(self.root), scan.display(self.rel))


@dataclass
class Report:
    checked: int = 0  # files re-hashed
    bytes: int = 0  # their size
    rotten: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # size or mtime differ: for the indexer
    unknown: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "path: why"
    skipped_roots: list[str] = field(default_factory=list)  # "root: why"

    @property
    def bad(self) -> bool:
        """Rot or gone files: what `shoebox verify` exits 1 for."""
        return bool(self.rotten or self.gone)

    def line(self) -> str:
        return (
            f"{self.checked} files checked ({self.bytes / 1e6:.0f} MB): {len(self.rotten)} rotten, "
            f"{len(self.gone)} gone, {len(self.unknown)} unknown, {len(self.changed)} changed "
            f"since indexed, {len(self.unreadable)} unreadable, "
            f"{len(self.skipped_roots)} roots skipped"
        )

    def add(self, other: Report) -> None:
        self.checked += other.checked
        self.bytes += other.bytes
        for name in ("rotten", "gone", "changed", "unknown", "unreadable", "skipped_roots"):
            getattr(self, name).extend(getattr(other, name))


def root_state(root: Path) -> tuple[Root | None, str | None]:
    """The root's catalog row (None: the catalog knows nothing there yet) and why it must be
    skipped (None: it may be read)."""
    row = Root.get_or_none(Root.path_key == scan.key(os.fsencode(root)))
    if row is not None and row.left_alone:
        return row, str(row.left_alone)
    if not root.is_dir():
        return row, f"library root {root} is missing (not mounted?)"
    return row, None


def known(row: Root, root: Path, *, after_id: int = 0, limit: int | None = None) -> list[Known]:
    """Present files of a root in id order, from `after_id` on (a slow verifier pages)."""
    query = (
        File.select(File.id, File.rel_path_raw, File.size, File.mtime_ns, File.hash)
        .where(File.root == row, File.status == "present", File.id > after_id)
        .order_by(File.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [Known(root, bytes(f.rel_path_raw), f.size, f.mtime_ns, f.hash) for f in query]


def check_file(item: Known, report: Report) -> None:
    """Compare one known file with the disk, adding what is found to `report`."""
    path = os.path.join(os.fsencode(item.root), item.rel)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        report.gone.append(item.path)
        return
    except OSError as exc:
        report.unreadable.append(f"{item.path}: {exc.strerror}")
        return
    if st.st_size != item.size or st.st_mtime_ns != item.mtime_ns:
        report.changed.append(item.path)
        return
    if item.hash is None:  # never hashed (it failed to index): nothing to compare with
        return
    try:
        digest = identify.hash_file(path)
    except OSError as exc:
        report.unreadable.append(f"{item.path}: {exc.strerror}")
        return
    report.checked += 1
    report.bytes += st.st_size
    if digest != item.hash:
        report.rotten.append(item.path)


def unknown_files(row: Root | None, root: Path) -> Iterator[str]:
    """Candidate files on disk under `root` that the catalog has no row for."""
    keys: set[str] = set()
    if row is not None:
        keys = {f.path_key for f in File.select(File.path_key).where(File.root == row)}
    for entry in scan.walk(os.fsencode(root), b"", lambda _rel, _exc: None):
        if scan.key(entry.rel) not in keys:
            yield os.path.join(str(root), scan.display(entry.rel))


def verify(roots: tuple[Path, ...]) -> Report:
    """Check every root at once (`shoebox verify`)."""
    report = Report()
    for root in roots:
        row, why = root_state(root)
        if why is not None:
            report.skipped_roots.append(why)
            continue
        if row is not None:
            for item in known(row, root):
                check_file(item, report)
        report.unknown.extend(unknown_files(row, root))
    return report
