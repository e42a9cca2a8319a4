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

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoebox.catalog.models import File, Root, utcnow
from shoebox.ingest import identify, scan


@dataclass(frozen=True)
class Known:
    """A file the catalog holds as present."""

    id: int
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
    return [Known(f.id, root, bytes(f.rel_path_raw), f.size, f.mtime_ns, f.hash) for f in query]


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


def verify(roots: Sequence[Path]) -> Report:
    """Check every root at once (`shoebox verify`)."""
    whole = SlowPass(roots, 0.0)
    while not whole.finished:
        whole.step()
    return whole.report


_PAGE = 100  # known files read from the catalog at a time
SHOWN = 20  # paths of each kind kept in a summary


class SlowPass:
    """One pass over every root, a file a `step`, paced so the pass takes `period` seconds.
    Reads only: a page of rows now and then, so no writer of the daemon waits for it."""

    def __init__(self, roots: Sequence[Path], period: float) -> None:
        self.roots = list(roots)
        self.period = period
        self.report = Report()
        self.started_at = utcnow()
        self.finished = False
        self._root = 0
        self._row: Root | None = None
        self._after = 0
        self._todo: list[Known] = []
        self._per_file: float | None = None

    def step(self) -> float:
        """Check the next file (at the end, look for unknown files); the seconds to wait
        before the next step. Sets `finished` once every root is done."""
        if self._per_file is None:
            total = File.select().where(File.status == "present").count()
            self._per_file = self.period / max(total, 1)
        item = self._next()
        if item is None:
            self.finished = True
            return 0.0
        check_file(item, self.report)
        return self._per_file

    def _next(self) -> Known | None:
        while not self._todo:
            if self._root >= len(self.roots):
                return None
            root = self.roots[self._root]
            if self._row is None:
                row, why = root_state(root)
                if why is not None or row is None:
                    if why is not None:
                        self.report.skipped_roots.append(why)
                    else:
                        self.report.unknown.extend(unknown_files(None, root))
                    self._root += 1
                    continue
                self._row = row
            self._todo = known(self._row, root, after_id=self._after, limit=_PAGE)
            if self._todo:
                self._after = self._todo[-1].id
                self._todo.reverse()  # popped from the end: in id order
            else:
                self.report.unknown.extend(unknown_files(self._row, root))
                self._root, self._row, self._after = self._root + 1, None, 0
        return self._todo.pop()


def summary(report: Report, started_at: dt.datetime) -> dict[str, Any]:
    """A finished pass as the daemon keeps it in its state (JSON): counts, and the first
    paths of each kind."""
    return {
        "started_at": started_at.isoformat(),
        "finished_at": utcnow().isoformat(),
        "line": report.line(),
        "bad": report.bad,
        **{
            name: getattr(report, name)[:SHOWN]
            for name in ("rotten", "gone", "unknown", "unreadable", "skipped_roots")
        },
    }
