"""What shows a photo whose renditions are not made yet (the ingest's slow phase has not
reached it): the thumbnail its JPEG carries in its EXIF (IFD1), turned upright by the EXIF
orientation, or else a plain placeholder in the pages' tone. The viewer (`shoebox_viewer.media`)
sends either, marked pending, in place of a missing tile or preview.

Files are hostile until proven otherwise, and this runs in the viewer's web process for each
such request, so it is bounded: only the first `READ` bytes of the file are read (the EXIF
lives in one APP1 segment of at most 64 KB, before the picture's data), Pillow parses the
EXIF, and the thumbnail is decoded only when its header says it is a JPEG of at most
`MAX_SIDE` pixels a side. Any failure gives None (one log line), never an exception. The
thumbnail is decoded and encoded again, which turns it upright for every client and leaves
none of the file's metadata in the answer; unlike a full picture (`shoebox_viewer.large`,
made in a process of its own), a thumbnail of at most 64 KB and `MAX_SIDE` pixels a side is
cheap to decode in the web process (0.4 ms for a camera's 160 x 120).

A HEIC's thumbnail is an HEVC picture that only libheif decodes, from the whole file: not
cheap, not bounded, so a HEIC shows the placeholder, as do RAW files and videos.
"""

from __future__ import annotations

import io
import logging
import os
from functools import lru_cache

from PIL import ExifTags, Image

log = logging.getLogger("shoebox.embedded")

READ = 128 * 1024  # bytes read from the start of a file: SOI, APP0, APP1 (EXIF, <= 64 KB)...
MAX_SIDE = 1024  # pixels a side of a thumbnail we decode (cameras write 160 x 120)
PLACEHOLDER_SIDE = 64  # the placeholder's longer side: the page scales it
TONE = (128, 128, 128, 48)  # a grey mostly see-through: the tile's own background shows
_EXIF = b"Exif\0\0"
_THUMBNAIL_START, _THUMBNAIL_LENGTH = 0x0201, 0x0202  # JPEGInterchangeFormat(Length), in IFD1
_UPRIGHT = {  # EXIF orientation -> the transposition that shows the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def thumbnail(path: bytes) -> bytes | None:
    """The EXIF thumbnail of the JPEG file at `path`, upright, as a JPEG without metadata;
    None when the file has none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            segment = exif_segment(handle.read(READ))
        if segment is None:
            return None
        exif = Image.Exif()
        exif.load(segment)
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        start, length = ifd1.get(_THUMBNAIL_START), ifd1.get(_THUMBNAIL_LENGTH)
        if not isinstance(start, int) or not isinstance(length, int) or length <= 0:
            return None
        tiff = segment[len(_EXIF) :]
        if start <= 0 or start + length > len(tiff):
            return None
        orientation = exif.get(ExifTags.Base.Orientation)
        return _upright(tiff[start : start + length], orientation)
    except Exception as exc:  # noqa: BLE001 -- a hostile file's EXIF may raise anything
        log.info("no embedded thumbnail from %s: %s", os.fsdecode(path), exc)
        return None


def exif_segment(head: bytes) -> bytes | None:
    """The EXIF segment ("Exif\\0\\0" and its TIFF data) of a JPEG that starts with `head`,
    when it is whole within `head` and comes before the picture's data; else None."""
    if not head.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # a fill byte
            at += 1
            continue
        if marker in (0xDA, 0xD9):  # the picture's data, or its end: no EXIF before them
            return None
        length = int.from_bytes(head[at + 2 : at + 4], "big")
        if length < 2:
            return None
        if marker == 0xE1 and head[at + 4 : at + 4 + len(_EXIF)] == _EXIF:
            body = head[at + 4 : at + 2 + length]
            return body if len(body) == length - 2 else None
        at += 2 + length
    return None


def _upright(data: bytes, orientation: object) -> bytes | None:
    """The JPEG `data` decoded, turned by `orientation` and encoded again, when it is a JPEG of
    at most MAX_SIDE pixels a side."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as found:
        width, height = found.size
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            return None
        picture = found.convert("RGB")
    turn = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    if turn is not None:
        picture = picture.transpose(turn)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def placeholder(width: int | None, height: int | None) -> bytes:
    """A plain PNG in the shape of a photo of this size (a square when it is unknown),
    `PLACEHOLDER_SIDE` pixels on its longer side."""
    ratio = width / height if width and height and width > 0 and height > 0 else 1.0
    ratio = min(max(ratio, 0.25), 4.0)
    side = PLACEHOLDER_SIDE
    short = max(1, round(side / ratio if ratio >= 1 else side * ratio))
    return _placeholder((side, short) if ratio >= 1 else (short, side))


@lru_cache(maxsize=256)
def _placeholder(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, TONE).save(out, "PNG", optimize=True)
    return out.getvalue()
