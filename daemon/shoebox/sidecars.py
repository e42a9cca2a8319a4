"""XMP sidecars beside the photos: what the family made in shoebox, written where other tools
(digiKam, Lightroom, darktable, exiftool) and a rebuilt catalog read it.

Written, beside each present original or RAW file of a photo that holds something
(`IMG_1.jpg.xmp`, or the `IMG_1.xmp` another tool made already):
- `shoebox:Favorite` and `shoebox:Archived`, in our own namespace
  (`data/exiftool-shoebox.config`);
- the names on its faces as MWG regions (`mwg-rs:Regions`, type Face; see `shoebox.regions`);
- a hand edit (`shoebox.edits`): the fields set by hand in their standard XMP tags, and
  `shoebox:Edited` naming them, so that a rebuilt catalog shows them as edited.
Nothing else: ratings, titles, descriptions and keywords not edited come from the files, and
the grouping reads them from any sidecar; restating them here would hide a later edit made to
the original by another tool.

Another tool's sidecar keeps its content: exiftool writes only the tags above into it, and of
its regions replaces only those on a face shoebox knows. exiftool only ever sees a private
copy with a fixed name in a folder of our own: no byte of a library file name reaches its
arguments (a name holding a newline would be read as one more argument). The result goes
beside the photo under a hidden temporary name, flushed and renamed; an original is never
opened for writing, and a sidecar that would not change is not rewritten.

Read back: `from_tags` (the metadata stage, for every file) takes the flags, the names of
the edited fields and the named regions; the grouping gives a photo its sidecar's flags unless the photo waits on the
to-write list (`shoebox.catalog.outbox`: the file is older than the catalog then), and the
faces stage names its faces after the regions (`name_faces`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from peewee import JOIN

from shoebox import edits, regions, roots
from shoebox.catalog import outbox, people
from shoebox.catalog.models import Face, FaceRejection, File, Person, Photo, PhotoEdit, Root
from shoebox.errors import HelperError, StageError
from shoebox.ingest import scan
from shoebox.ingest.exiftool import ExifTool

log = logging.getLogger("shoebox.sidecars")

CONFIG = Path(__file__).parent / "data" / "exiftool-shoebox.config"
_TIMEOUT = 60.0  # seconds exiftool may take over one sidecar
WRITTEN_ROLES = ("original", "raw")  # files that get a sidecar (not a Live Photo's video)
MAX_BYTES = 16 << 20  # a sidecar larger than this is not an XMP sidecar to merge into
SAME_FACE_IOU = 0.4  # a region on a face of ours is that face's (and so replaced)


class LeftAlone(Exception):
    """The photo's root is left alone now (not mounted, say): try again later."""


# --- reading ---------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def from_tags(tags: dict[str, Any]) -> dict[str, Any]:
    """What a file's XMP says of the family's work, as exiftool read it (`-G -n`): our flags
    (unknown namespaces read as XMP:<name>), and the named face regions as
    [name, centre x, centre y, width, height] of the stored image."""
    found: dict[str, Any] = {}
    for key, tag in (("favorite", "XMP:Favorite"), ("archived", "XMP:Archived")):
        value = tags.get(tag)
        if isinstance(value, bool):
            found[key] = value
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            found[key] = value.lower() == "true"
    edited = [str(name) for name in _listed(tags.get("XMP:Edited")) if str(name) in edits.FIELDS]
    if edited:
        found["edited"] = edited
    columns = [
        _listed(tags.get(f"XMP:Region{name}"))
        for name in ("Name", "Type", "AreaX", "AreaY", "AreaW", "AreaH", "AreaUnit")
    ]
    if columns[0] and len({len(c) for c in columns}) == 1:  # else they cannot be lined up
        named = []
        for name, kind, x, y, w, h, unit in zip(*columns, strict=True):
            numbers = all(isinstance(v, int | float) for v in (x, y, w, h))
            if kind == "Face" and unit == "normalized" and numbers and str(name).strip():
                named.append([str(name).strip(), float(x), float(y), float(w), float(h)])
        if named:
            found["regions"] = named
    return found


def name_faces(photo: Any, face_ids: Iterable[int]) -> set[int]:
    """Name these new faces of a photo after the named regions its files hold (a sidecar's,
    or the photo's own embedded XMP): each region goes to the face it overlaps most. A face
    once rejected from that person is left to the clustering. The ids of the faces named."""
    files: Any = File.select(File.meta).where(File.photo == photo.id, File.status == "present")
    named: list[tuple[str, regions.Box]] = []
    for f in files:
        for name, *area in json.loads(f.meta or "{}").get("regions", []):
            named.append(
                (name, regions.from_mwg((area[0], area[1], area[2], area[3]), photo.orientation))
            )
    if not named:
        return set()
    candidates = list(Face.select().where(Face.id.in_(list(face_ids)), Face.confirmed == False))  # noqa: E712
    done: set[int] = set()
    for name, box in named:
        best = max(
            (f for f in candidates if f.id not in done),
            key=lambda f: regions.iou(box, (f.x, f.y, f.width, f.height)),
            default=None,
        )
        if (
            best is None
            or regions.iou(box, (best.x, best.y, best.width, best.height)) < SAME_FACE_IOU
        ):
            continue
        who = people.by_name(name)
        if (
            who is not None
            and FaceRejection.select()
            .where(FaceRejection.face == best.id, FaceRejection.person == who.id)
            .exists()
        ):
            continue
        people.name_face(best, name)
        done.add(best.id)
    return done


# --- writing ---------------------------------------------------------------------------------


class Writer:
    """Writes the sidecars of photos, with one exiftool process (our namespace loaded) and a
    private folder for its copies, both kept until `close`."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._tool: ExifTool | None = None
        self._private = Path(tempfile.mkdtemp(prefix="shoebox-xmp-"))  # 0700, ours alone
        self._checked: dict[int, bool] = {}  # root id -> may be written now

    def write(self, photo_id: int) -> int:
        """Bring the sidecars of one photo in step with the catalog; how many were written.
        LeftAlone when its root cannot be written now."""
        photo = Photo.get_or_none(Photo.id == photo_id)
        if photo is None:
            return 0  # gone from the catalog: its sidecars stay, as any file beside a photo
        faces = list(
            Face.select(Face, Person).join(Person, JOIN.LEFT_OUTER).where(Face.photo == photo_id)
        )
        named = [f for f in faces if f.person is not None and f.person.name]
        edit = PhotoEdit.get_or_none(PhotoEdit.photo == photo_id)
        holds = bool(photo.favorite or photo.archived or named or edit)
        written = 0
        files = (
            File.select(File, Root)
            .join(Root)
            .where(File.photo == photo_id, File.status == "present", File.role.in_(WRITTEN_ROLES))
        )
        for f in files:
            if not self._may_write(f.root):
                raise LeftAlone(f.root.path)
            base = os.fsencode(f.root.path)
            target = _sidecar_of(base, bytes(f.rel_path_raw))
            try:
                existing = _read(os.path.join(base, target))
            except OSError as exc:
                log.warning("%s: cannot read it (%s); left as it is", _shown(base, target), exc)
                continue
            if existing is None and not holds:
                continue
            meta = json.loads(f.meta or "{}")
            try:
                new = self._render(existing, photo, faces, named, meta, edit)
            except StageError as exc:
                log.warning("%s: %s; left as it is", _shown(base, target), exc.message)
                continue
            if new != existing:
                replace(os.path.join(base, target), new)
                written += 1
        return written

    def _may_write(self, root: Root) -> bool:
        if root.id not in self._checked:
            self._checked[root.id] = roots.check(Path(root.path), root) is None
        return self._checked[root.id]

    def _render(
        self,
        existing: bytes | None,
        photo: Any,
        faces: list[Any],
        named: list[Any],
        meta: Any,
        edit: Any,
    ) -> bytes:
        """The sidecar's new bytes: `existing` (or nothing) with our tags written by exiftool."""
        orientation = meta.get("orientation")
        work = self._private / "s.xmp"
        work.unlink(missing_ok=True)
        info: dict[str, Any] = {}
        if existing is not None:
            work.write_bytes(existing)
            info = self._regions(work)
        ours = [regions.to_mwg((f.x, f.y, f.width, f.height), orientation) for f in faces]
        kept = [
            r
            for r in info.get("RegionList", [])
            if not any(regions.iou(_area(r), area) >= SAME_FACE_IOU for area in ours)
        ]
        written = [
            {
                "Area": dict(
                    zip(("X", "Y", "W", "H"), _rounded(area), strict=True), Unit="normalized"
                ),
                "Name": f.person.name,
                "Type": "Face",
            }
            for f in named
            for area in [regions.to_mwg((f.x, f.y, f.width, f.height), orientation)]
        ]
        tags: dict[str, Any] = {
            "SourceFile": "*",
            "XMP-shoebox:Favorite": bool(photo.favorite),
            "XMP-shoebox:Archived": bool(photo.archived),
        }
        if edit is not None:
            tags.update(_edited_tags(photo, edit))
        extra = []
        if kept or written:
            width, height = meta.get("width"), meta.get("height")
            if width and height and orientation in (5, 6, 7, 8):
                width, height = height, width  # the stored image's size
            dimensions = info.get("AppliedToDimensions") or (
                {"W": width, "H": height, "Unit": "pixel"} if width and height else None
            )
            tags["XMP-mwg-rs:RegionInfo"] = {
                **({"AppliedToDimensions": dimensions} if dimensions else {}),
                "RegionList": kept + written,
            }
        elif info:
            extra.append("-XMP-mwg-rs:RegionInfo=")  # our last faces there are gone
        order = self._private / "tags.json"
        order.write_text(json.dumps([tags]))
        if existing is not None:
            self._run("-overwrite_original", f"-json={order}", *extra, str(work))
        else:
            self._run(f"-json={order}", "-o", str(work))
        try:
            return work.read_bytes()
        except FileNotFoundError:
            raise StageError("sidecars", "exiftool wrote no sidecar") from None

    def _regions(self, work: Path) -> dict[str, Any]:
        out = self._run("-j", "-struct", "-XMP-mwg-rs:RegionInfo", str(work))
        try:
            info = json.loads(out)[0].get("RegionInfo", {})
        except (ValueError, IndexError, AttributeError):
            return {}
        return info if isinstance(info, dict) else {}

    def _run(self, *args: str) -> str:
        """One exiftool command on our private copies (no library file name in it), tried
        again once with a new exiftool if the first one died or overran."""
        for attempt in (1, 2):
            if self._tool is None:
                self._tool = ExifTool(
                    self.executable, timeout=_TIMEOUT, config=str(CONFIG), common_args=("-n",)
                )
            try:
                out, err = self._tool.execute(*args, what="a sidecar")
                break
            except HelperError as exc:
                self.close_exiftool()
                if attempt == 2:
                    raise StageError("sidecars", f"exiftool failed ({exc})") from exc
        error = err.decode("utf-8", "replace").strip()
        if error.startswith("Error"):
            raise StageError("sidecars", f"exiftool: {error.splitlines()[0]}")
        return out.decode("utf-8", "replace")

    def close_exiftool(self) -> None:
        if self._tool is not None:
            self._tool.close()
            self._tool = None

    def close(self) -> None:
        self.close_exiftool()
        shutil.rmtree(self._private, ignore_errors=True)


def _edited_tags(photo: Any, edit: Any) -> dict[str, Any]:
    """The XMP tags of a hand edit (`shoebox.edits`), and `shoebox:Edited` naming them."""
    tags: dict[str, Any] = {"XMP-shoebox:Edited": edits.edited_fields(edit)}
    if edit.taken_at_local is not None:
        when = photo.taken_at_local.strftime("%Y:%m:%d %H:%M:%S") + (photo.timezone or "")
        tags["XMP-exif:DateTimeOriginal"] = tags["XMP-photoshop:DateCreated"] = when
    if edit.lat is not None:
        tags["XMP-exif:GPSLatitude"], tags["XMP-exif:GPSLongitude"] = edit.lat, edit.lng
    for name, tag in (("title", "XMP-dc:Title"), ("description", "XMP-dc:Description")):
        if getattr(edit, name) is not None:
            tags[tag] = getattr(edit, name)
    if edit.keywords is not None:
        tags["XMP-dc:Subject"] = json.loads(edit.keywords)
    return tags


def _area(region: Any) -> regions.Box:
    area = region.get("Area", {}) if isinstance(region, dict) else {}
    try:
        return (float(area["X"]), float(area["Y"]), float(area["W"]), float(area["H"]))
    except (KeyError, TypeError, ValueError):
        return (-1.0, -1.0, 0.0, 0.0)  # not a box: overlaps nothing, so it is kept


def _rounded(area: regions.Box) -> list[float]:
    return [round(v, 6) for v in area]


def _sidecar_of(base: bytes, rel: bytes) -> bytes:
    """The sidecar to write for a file: one already there (`IMG_1.jpg.xmp` or `IMG_1.xmp`, any
    case of .xmp), else `IMG_1.jpg.xmp`."""
    stem = os.path.splitext(rel)[0]
    for name in (rel + b".xmp", rel + b".XMP", stem + b".xmp", stem + b".XMP"):
        if os.path.isfile(os.path.join(base, name)) and not os.path.islink(
            os.path.join(base, name)
        ):
            return name
    return rel + b".xmp"


def _read(path: bytes) -> bytes | None:
    """A sidecar's bytes, None when there is none. A link or a huge file is an OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fd).st_size > MAX_BYTES:
            raise OSError(f"larger than {MAX_BYTES >> 20} MiB: not a sidecar to merge into")
        return fh.read()


def replace(path: bytes, data: bytes) -> None:
    """Write a file whole: a hidden temporary name in its folder, flushed, renamed over it
    (keeping the mode of the file it replaces)."""
    folder, name = os.path.split(path)
    temp = os.path.join(folder, b"." + name + b".shoebox-tmp")
    try:
        mode = os.lstat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _shown(base: bytes, rel: bytes) -> str:
    return scan.display(os.path.join(base, rel))


def mark_named_faces(photo_ids: Iterable[int]) -> None:
    """After the faces stage: photos of these that show a named person want their sidecars
    (the clustering may have put a face with a named person)."""
    ids = list(photo_ids)
    if ids:
        named = Face.person.in_(Person.select(Person.id).where(Person.name.is_null(False)))
        outbox.mark("photo", outbox.photos_with_faces(named & Face.photo.in_(ids)))
