"""Walking a library root: every candidate file with its size and mtime, nothing read.

Paths stay bytes end to end (a file name need not be UTF-8). Hidden files and folders, the
temporary names sync tools write while a transfer is under way, NAS thumbnail folders and
symbolic links (which could lead outside the root) are passed over.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shoebox.ingest import takeout
from shoebox.ingest.identify import MEDIA_EXTENSIONS, SIDECAR_EXTENSIONS, is_candidate

log = logging.getLogger(__name__)

# Folders that NAS systems and desktops fill with their own thumbnails and trash.
_SKIP_DIRS = frozenset({b"@eaDir", b"#recycle", b"#snapshot", b"$RECYCLE.BIN", b"lost+found"})
# Names sync tools give a file while it is still arriving.
_TEMP_SUFFIXES = (b".partial", b".tacitpart", b".!sync", b".part", b".crdownload", b".tmp")


@dataclass(frozen=True)
class Entry:
    rel: bytes  # path relative to the root
    size: int
    mtime_ns: int

    @property
    def extension(self) -> str:
        return extension_of(self.rel)


def extension_of(rel: bytes) -> str:
    return os.fsdecode(os.path.splitext(rel)[1]).lower()


def is_temporary(name: bytes) -> bool:
    return name.startswith(b".") or name.lower().endswith(_TEMP_SUFFIXES)


def walk(root: bytes, start: bytes, on_error: Callable[[bytes, OSError], None]) -> Iterator[Entry]:
    """Every candidate file under `root/start` (start is relative; b"" for the whole root)."""
    stack = [start]
    while stack:
        rel_dir = stack.pop()
        full = os.path.join(root, rel_dir) if rel_dir else root
        try:
            with os.scandir(full) as it:
                entries = list(it)
        except OSError as exc:
            on_error(rel_dir, exc)
            continue
        for entry in entries:
            name = entry.name
            rel = os.path.join(rel_dir, name) if rel_dir else name
            try:
                if entry.is_symlink():
                    log.debug("skipping symbolic link %r", rel)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith(b".") and name not in _SKIP_DIRS:
                        stack.append(rel)
                    continue
                if is_temporary(name) or not is_candidate(extension_of(name)):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                on_error(rel, exc)
                continue
            if stat.S_ISREG(st.st_mode):
                yield Entry(rel, st.st_size, st.st_mtime_ns)


def entry(root: bytes, rel: bytes) -> Entry | None:
    """The candidate file at `rel` under `root`, or None when there is none there (gone, not
    a regular file, or a name the walk would pass over). Other errors are raised."""
    parts = rel.split(b"/")
    if any(p.startswith(b".") or p in _SKIP_DIRS for p in parts[:-1]):
        return None
    if is_temporary(parts[-1]) or not is_candidate(extension_of(parts[-1])):
        return None
    try:
        st = os.lstat(os.path.join(root, rel))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Entry(rel, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def key(data: bytes) -> str:
    """A short, fixed-width digest used as an index key for paths of any length."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def stem_key(rel: bytes) -> str:
    """Files that belong together share this key: same folder, same base name ignoring case
    (`IMG_1.HEIC`, `IMG_1.MOV`, `IMG_1.heic.xmp` and `IMG_1.xmp` all give one key, and so do
    the names Google Takeout gives a photo's JSON: `IMG_1.HEIC.supplemental-metadata.json`,
    see `takeout`)."""
    folder, name = os.path.split(rel)
    stem, ext = os.path.splitext(name)
    extension = os.fsdecode(ext).lower()
    if extension == ".json":
        stem = os.fsencode(takeout.media_stem(os.fsdecode(stem)))
    elif extension in SIDECAR_EXTENSIONS:
        inner, inner_ext = os.path.splitext(stem)
        if inner and os.fsdecode(inner_ext).lower() in MEDIA_EXTENSIONS:
            stem = inner
    return key(folder + b"/" + stem.lower())


def cut_stem_key(rel: bytes) -> str | None:
    """For a photo whose name is too long for the name of its Takeout JSON: the key that JSON
    has (its `stem_key`); None for a shorter name."""
    folder, name = os.path.split(rel)
    cut = takeout.cut_stem(os.fsdecode(os.path.splitext(name)[0]))
    return key(folder + b"/" + os.fsencode(cut).lower()) if cut is not None else None


def display(rel: bytes) -> str:
    """A path for people and for JSON: undecodable bytes become U+FFFD."""
    return rel.decode("utf-8", "replace")
