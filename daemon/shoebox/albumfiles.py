"""Album files beside the library: one small JSON file per album and root, in
`<root>/.shoebox/albums/<album id>.json`, so that a catalog rebuilt from the library alone
(`shoebox index` on an empty catalog) gets its albums back, photos and all.

    {"shoebox_album": 1, "id": 12, "title": "Summer 2024", "created_at": "2024-07-01T10:00:00",
     "cover": "2024/07/IMG_0001.jpg", "photos": ["2024/07/IMG_0001.jpg", ...]}

A path is relative to the root the file is in (an album with photos in two roots has a file
in each); one that is not UTF-8 is written as {"base64": "..."}. The hidden folder is passed
over by the index's walk. The daemon writes the files (`write`) from the to-write list, under
a hidden temporary name, renamed when complete; an album with no photo left in a root has
its file there removed.

An index run over whole roots reads them back (`apply`): an album not in the catalog is made
(with its id when that is free, so its files stay its own), and photos the catalog knows are
put in it; nothing is taken out. An album in the catalog with the file's id but another
creation time is another album: the file's becomes a new album. Otherwise an album on the
to-write list is left alone: its files are older than the catalog then.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from shoebox import roots
from shoebox.catalog import outbox
from shoebox.catalog.models import Album, AlbumPhoto, File, Root
from shoebox.ingest import grouping, scan
from shoebox.sidecars import LeftAlone, replace

log = logging.getLogger("shoebox.albumfiles")

FOLDER = os.path.join(b".shoebox", b"albums")
FORMAT = 1
MAX_BYTES = 64 << 20


def _path_value(rel: bytes) -> Any:
    try:
        return rel.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(rel).decode("ascii")}


def _path_bytes(value: Any) -> bytes | None:
    if isinstance(value, str) and value:
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("base64"), str):
        with suppress(ValueError):
            return base64.b64decode(value["base64"], validate=True)
    return None


def _safe(rel: bytes) -> bool:
    """A path that stays inside its root: relative, no `..`, no empty part."""
    parts = rel.split(b"/")
    return not rel.startswith(b"/") and all(p not in (b"", b".", b"..") for p in parts)


# --- writing ---------------------------------------------------------------------------------


def write(album_id: int) -> int:
    """Bring the album's files in step with the catalog, in every root that may be written
    now; how many files were written or removed. Raises `LeftAlone` (from `shoebox.sidecars`)
    when a root is left alone: the album waits on the list."""
    album = Album.get_or_none(Album.id == album_id)
    members: dict[int, list[bytes]] = defaultdict(list)
    cover: dict[int, bytes] = {}
    if album is not None:
        for photo_id, root_id, rel in _members(album_id):
            members[root_id].append(rel)
            if photo_id == album.cover_id:
                cover[root_id] = rel
    changed = 0
    for root in Root.select():
        path = os.path.join(os.fsencode(root.path), FOLDER, b"%d.json" % album_id)
        if album is None or not members.get(root.id):
            if os.path.lexists(path):
                if roots.check(Path(root.path), root) is not None:
                    raise LeftAlone(root.path)
                os.unlink(path)
                changed += 1
            continue
        if roots.check(Path(root.path), root) is not None:
            raise LeftAlone(root.path)
        content = {
            "shoebox_album": FORMAT,
            "id": album.id,
            "title": album.title,
            "created_at": album.created_at.isoformat(),
            "cover": _path_value(cover[root.id]) if root.id in cover else None,
            "photos": [_path_value(rel) for rel in sorted(members[root.id])],
        }
        data = (json.dumps(content, ensure_ascii=False, indent=1) + "\n").encode()
        if _current(path) != data:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            replace(path, data)
            changed += 1
    return changed


def _members(album_id: int) -> list[tuple[int, int, bytes]]:
    """(photo id, root id, path) of the album's photos: the first present media file of each
    photo in each root it has one in."""
    rows: Any = (
        File.select(File.photo, File.root, File.rel_path_raw)
        .join(AlbumPhoto, on=(AlbumPhoto.photo == File.photo))
        .where(
            AlbumPhoto.album == album_id,
            File.status == "present",
            File.role.in_(grouping.MEDIA_ROLES),
        )
        .order_by(File.id)
        .tuples()
    )
    seen: set[tuple[int, int]] = set()
    found = []
    for photo_id, root_id, rel in rows:
        if (photo_id, root_id) not in seen:
            seen.add((photo_id, root_id))
            found.append((photo_id, root_id, bytes(rel)))
    return found


def _current(path: bytes) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_BYTES)


# --- reading back ----------------------------------------------------------------------------


def _read(root: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """The album files of one root: (album id, content), bad ones logged and passed over."""
    folder = os.path.join(os.fsencode(root), FOLDER)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in sorted(names):
        stem, ext = os.path.splitext(name)
        if ext != b".json" or not stem.isdigit():
            continue
        path = os.path.join(folder, name)
        data = _current(path)
        try:
            content = json.loads(data or b"")
            if not isinstance(content, dict) or content.get("shoebox_album") != FORMAT:
                raise ValueError("not a shoebox album file")
            if not isinstance(content.get("title"), str) or not isinstance(
                content.get("photos"), list
            ):
                raise ValueError("no title or photos")
        except ValueError as exc:
            log.warning("%s: not read (%s)", scan.display(path), exc)
            continue
        yield int(stem), content


def apply(wanted: Iterable[Path]) -> int:
    """Take the album files of these roots into the catalog (see the module's docstring);
    how many photos were put in albums."""
    found: dict[int, list[tuple[Root, dict[str, Any]]]] = defaultdict(list)
    for root in wanted:
        row = Root.get_or_none(Root.path_key == scan.key(os.fsencode(root)))
        if row is not None:
            for album_id, content in _read(root):
                found[album_id].append((row, content))
    if not found:
        return 0
    waiting = outbox.pending("album", found)
    return sum(_take(album_id, files, album_id in waiting) for album_id, files in found.items())


def _take(album_id: int, files: list[tuple[Root, dict[str, Any]]], waiting: bool) -> int:
    first = files[0][1]
    created = _when(first.get("created_at"))
    album = Album.get_or_none(Album.id == album_id)
    other = album is not None and album.created_at != created
    if waiting and not other:
        return 0  # the catalog changed this album (or deleted it) since its files were written
    db = Album._meta.database
    with db.atomic():
        if album is None:
            Album.insert(id=album_id, title=first["title"][:255], created_at=created,
                         updated_at=created).execute()  # fmt: skip
            album = Album.get_by_id(album_id)
            log.info("album %r taken back from the files beside the library", album.title)
        elif other:  # another album took this id
            album = Album.create(title=first["title"][:255], created_at=created)
            outbox.mark("album", [album_id, album.id])  # both files written anew
        present = {row.photo_id for row in AlbumPhoto.select().where(AlbumPhoto.album == album.id)}
        new: list[int] = []
        for root, content in files:
            photos = {}
            for value in [*content["photos"], content.get("cover")]:
                rel = _path_bytes(value)
                if rel is not None and _safe(rel):
                    photo_id = _photo_at(root, rel)
                    if photo_id is not None:
                        photos[rel] = photo_id
            for value in content["photos"]:
                photo_id = photos.get(_path_bytes(value) or b"")
                if photo_id is not None and photo_id not in present and photo_id not in new:
                    new.append(photo_id)
            cover = photos.get(_path_bytes(content.get("cover")) or b"")
            if album.cover_id is None and cover is not None:
                album.cover_id = cover
                album.save()
        if new:
            AlbumPhoto.insert_many([{"album": album.id, "photo": p} for p in new]).execute()
    return len(new)


def _photo_at(root: Root, rel: bytes) -> int | None:
    f = File.get_or_none(File.root == root.id, File.path_key == scan.key(rel))
    return f.photo_id if f is not None and f.status == "present" else None


def _when(value: Any) -> dt.datetime:
    with suppress(TypeError, ValueError):
        return dt.datetime.fromisoformat(value)
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
