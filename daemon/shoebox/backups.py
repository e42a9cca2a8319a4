"""Backups of the catalog in a folder: made whole or not at all, named by the moment they were
taken, kept by a daily and weekly rule, and the newest good one for `shoebox status`.

A backup is two files: `shoebox-2025-05-01T030000Z.jsonl.gz`, the copy itself (see
`shoebox.catalog.dump`; it checks itself), and `….manifest.json` beside it: the schema's
migrations, each table's rows and hash, the copy's size and SHA-256. Each is written under a
hidden temporary name, flushed to the disk and renamed, so a crash or a full disk leaves no
file that looks complete; the manifest comes last, so a copy with a manifest is a good one.
Both are readable by their owner only: a catalog holds password hashes, share links and the
viewer's signing keys.

Retention keeps the newest backup of each of the last `keep_daily` days that have one and of
each of the last `keep_weekly` ISO weeks (days and weeks in UTC), and always the newest.
Only files with a backup's name are ever removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shoebox.catalog import dump
from shoebox.errors import BackupError

SUFFIX = ".jsonl.gz"
MANIFEST = ".manifest.json"
_STAMP = "%Y-%m-%dT%H%M%SZ"
_NAME = re.compile(r"shoebox-(\d{4}-\d\d-\d\dT\d{6}Z)\.jsonl\.gz")
_TEMP = re.compile(r"\.shoebox-.*\.tmp")
STALE_TEMP = dt.timedelta(days=1)  # a temporary file this old was left by a crash
OVERDUE = dt.timedelta(days=2)  # `shoebox status` warns when the newest good one is older


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: dt.datetime  # UTC, naive
    manifest: dict[str, Any]

    @property
    def size(self) -> int:
        return int(self.manifest.get("bytes", 0))

    def rows(self, table: str) -> int:
        return int(self.manifest.get("tables", {}).get(table, {}).get("rows", 0))


def name_for(moment: dt.datetime) -> str:
    return f"shoebox-{moment:{_STAMP}}{SUFFIX}"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(SUFFIX) + MANIFEST)


class _Counting:
    """A file written through, counted and hashed as it goes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.bytes += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def make(db: Any, folder: Path, now: dt.datetime | None = None) -> Backup:
    """Copy the catalog in `db` into a new backup in `folder` (made if need be, private)."""
    taken = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = folder / name_for(taken)
        if final.exists():
            raise BackupError(f"{final} exists already: one backup a second")
        with _written(final) as fh:
            counting = _Counting(fh)
            manifest = dump.write(db, counting)  # type: ignore[arg-type]
        record = {
            **manifest.as_json(),
            "bytes": counting.bytes,
            "sha256": counting.sha256.hexdigest(),
        }
        with _written(manifest_path(final)) as fh:
            fh.write(json.dumps(record, indent=1).encode() + b"\n")
    except OSError as exc:
        raise BackupError(f"cannot write a backup in {folder} ({exc.strerror or exc})") from None
    except dump.DATABASE_ERRORS as exc:
        raise BackupError(f"cannot read the catalog ({exc})") from exc
    return Backup(final, taken, record)


class _written:
    """A file made under a hidden temporary name in its folder, flushed to the disk and
    renamed into place when the block ends without an error (removed otherwise)."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")

    def __enter__(self) -> IO[bytes]:
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self.fh = os.fdopen(fd, "wb")
        return self.fh

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            if kind is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
        finally:
            self.fh.close()
            if kind is not None:
                self.temp.unlink(missing_ok=True)
        if kind is None:
            os.replace(self.temp, self.final)
            _sync_folder(self.final.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def listing(folder: Path) -> list[Backup]:
    """The good backups in `folder` (those with their manifest), newest first."""
    found = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BackupError(f"cannot read the backup folder {folder} ({exc.strerror})") from None
    for name in names:
        m = _NAME.fullmatch(name)
        if not m:
            continue
        path = folder / name
        try:
            manifest = json.loads(manifest_path(path).read_text())
        except (OSError, ValueError):
            continue  # no manifest: not complete (or copied here alone)
        taken = dt.datetime.strptime(m.group(1), _STAMP)
        found.append(Backup(path, taken, manifest))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def newest(folder: Path) -> Backup | None:
    found = listing(folder)
    return found[0] if found else None


def kept(moments: Iterable[dt.datetime], daily: int, weekly: int) -> set[dt.datetime]:
    """Of these backup times, those retention keeps: the newest of each of the last `daily`
    days that have a backup, of each of the last `weekly` ISO weeks, and the newest of all."""
    ordered = sorted(set(moments), reverse=True)
    keep = set(ordered[:1])
    for count, bucket in ((daily, _day), (weekly, _week)):
        seen: set[Any] = set()
        for moment in ordered:
            if len(seen) >= count:
                break
            if bucket(moment) not in seen:
                seen.add(bucket(moment))
                keep.add(moment)
    return keep


def _day(moment: dt.datetime) -> Any:
    return moment.date()


def _week(moment: dt.datetime) -> Any:
    return moment.isocalendar()[:2]


def prune(folder: Path, daily: int, weekly: int, now: dt.datetime | None = None) -> list[Path]:
    """Remove the backups retention does not keep, and temporary files left by a crash; the
    paths removed."""
    removed = []
    backups = listing(folder)
    keep = kept((b.taken_at for b in backups), daily, weekly)
    try:
        for backup in backups:
            if backup.taken_at not in keep:
                for path in (backup.path, manifest_path(backup.path)):
                    path.unlink(missing_ok=True)
                    removed.append(path)
        stale = (now or dt.datetime.now()).timestamp() - STALE_TEMP.total_seconds()
        for name in os.listdir(folder):
            path = folder / name
            if _TEMP.fullmatch(name) and path.lstat().st_mtime < stale:
                path.unlink(missing_ok=True)
                removed.append(path)
    except OSError as exc:
        raise BackupError(f"cannot remove old backups in {folder} ({exc.strerror})") from None
    return removed


def manifest_sha256(path: Path) -> str | None:
    """The SHA-256 the manifest beside a copy gives for it, if there is one."""
    try:
        manifest = json.loads(manifest_path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BackupError(f"the manifest beside {path} cannot be read ({exc})") from None
    sha = manifest.get("sha256")
    return sha if isinstance(sha, str) else None


def next_run(now: dt.datetime, hour: int) -> dt.datetime:
    """The first `hour`:00 (local wall clock, naive) after `now`."""
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return target if target > now else target + dt.timedelta(days=1)


def local_now() -> dt.datetime:
    return dt.datetime.fromtimestamp(time.time())
