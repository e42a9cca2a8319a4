"""What shows a photo whose renditions are not made yet (the ingest's slow phase has not
reached it): the thumbnail its JPEG carries in its EXIF (IFD1), or else a plain placeholder in
the pages' tone. The viewer (`shoebox_viewer.media`) sends either, marked pending, in place of
a missing tile or preview.

The viewer's web process loads no decoder and no Pillow (`tests/test_viewer_access.py`), so
this reads bytes only, and is bounded for hostile files: the first `READ` bytes of the file
(the EXIF lives in one APP1 segment of at most 64 KB, before the picture's data); the TIFF
structure of the EXIF read with every offset checked against its segment (the two tags of
IFD0 and IFD1 that matter: the orientation, and where the thumbnail is); the thumbnail kept
only when its markers are those of a JPEG of at most `MAX_SIDE` pixels a side that ends where
a JPEG ends. Any failure gives None, never an exception. What is sent is the thumbnail's
picture data with its own metadata segments (APPn, comments) taken out and one EXIF segment
put in that holds nothing but the photo's orientation, which browsers apply: the thumbnail
shows upright and says nothing else about the file.

A HEIC's thumbnail is an HEVC picture that only libheif decodes (5-14 ms each for the
corpus's iPhone files): a decoder the web process does not load, so a HEIC shows the
placeholder, as do RAW files and videos.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache

log = logging.getLogger("shoebox.embedded")

READ = 128 * 1024  # bytes read from the start of a file: SOI, APP0, APP1 (EXIF, <= 64 KB)...
MAX_SIDE = 1024  # pixels a side of a thumbnail we send (cameras write 160 x 120)
MAX_ENTRIES = 512  # entries of one IFD: more is no camera's
PLACEHOLDER_SIDE = 64  # the placeholder's longer side: the page scales it
TONE = (128, 128, 128, 48)  # a grey mostly see-through: the tile's own background shows
_EXIF = b"Exif\0\0"
_ORIENTATION, _THUMBNAIL_START, _THUMBNAIL_LENGTH = 0x0112, 0x0201, 0x0202
_SHORT, _LONG = 3, 4  # TIFF field types
_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn: not DHT, JPG, DAC
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: markers without a length
_TABLES = frozenset({0xDB, 0xC4, 0xDD})  # DQT, DHT, DRI


class _Bad(Exception):
    """Bytes that are not what they claim to be."""


def thumbnail(path: bytes) -> bytes | None:
    """The EXIF thumbnail of the JPEG file at `path`, as a JPEG whose only metadata is the
    photo's orientation; None when the file has none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            segment = exif_segment(handle.read(READ))
        if segment is None:
            return None
        found = _thumbnail_in(segment[len(_EXIF) :])
        if found is None:
            return None
        data, orientation = found
        return _cleaned(data, orientation)
    except OSError as exc:
        log.info("cannot read %s for its thumbnail: %s", os.fsdecode(path), exc)
    except (_Bad, struct.error, IndexError) as exc:
        log.info("no thumbnail from %s: %s", os.fsdecode(path), exc or "bad bytes")
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


def _thumbnail_in(tiff: bytes) -> tuple[bytes, int] | None:
    """The thumbnail's bytes named by IFD1 of this TIFF data, and IFD0's orientation (1 when
    it has none), or None when IFD1 names no thumbnail."""
    if tiff[:4] == b"II*\0":
        order = "<"
    elif tiff[:4] == b"MM\0*":
        order = ">"
    else:
        raise _Bad("no TIFF header in the EXIF")
    ifd0, next_ifd = _entries(tiff, struct.unpack_from(order + "I", tiff, 4)[0], order)
    if not next_ifd:
        return None
    ifd1, _ = _entries(tiff, next_ifd, order)
    start, length = ifd1.get(_THUMBNAIL_START), ifd1.get(_THUMBNAIL_LENGTH)
    if start is None or length is None:
        return None
    if not (start > 0 and length > 0 and start + length <= len(tiff)):
        raise _Bad("the thumbnail is not within the EXIF")
    orientation = ifd0.get(_ORIENTATION, 1)
    return tiff[start : start + length], orientation if 1 <= orientation <= 8 else 1


def _entries(tiff: bytes, at: int, order: str) -> tuple[dict[int, int], int]:
    """The whole-number values (one SHORT or LONG) of the IFD at `at`, by tag, and the offset
    of the next IFD (0: none)."""
    (count,) = struct.unpack_from(order + "H", tiff, at)
    if not (at >= 8 and count <= MAX_ENTRIES and at + 2 + 12 * count + 4 <= len(tiff)):
        raise _Bad("an IFD out of the EXIF's bounds")
    values: dict[int, int] = {}
    for i in range(count):
        tag, kind, many = struct.unpack_from(order + "HHI", tiff, at + 2 + 12 * i)
        if many == 1 and kind == _SHORT:
            values[tag] = struct.unpack_from(order + "H", tiff, at + 2 + 12 * i + 8)[0]
        elif many == 1 and kind == _LONG:
            values[tag] = struct.unpack_from(order + "I", tiff, at + 2 + 12 * i + 8)[0]
    (next_ifd,) = struct.unpack_from(order + "I", tiff, at + 2 + 12 * count)
    return values, next_ifd


def _cleaned(data: bytes, orientation: int) -> bytes:
    """The JPEG `data` without its APPn and comment segments, with an EXIF segment holding
    only `orientation` (when it is not 1); a _Bad unless it is a JPEG of at most MAX_SIDE
    pixels a side that ends with EOI."""
    if not data.startswith(b"\xff\xd8") or not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        raise _Bad("the thumbnail is not a whole JPEG")
    kept = [b"\xff\xd8"]
    if orientation != 1:
        kept.append(_orientation_segment(orientation))
    at, framed = 2, False
    while True:
        if data[at] != 0xFF:
            raise _Bad("the thumbnail's markers are broken")
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker == 0xDA:  # the scan: the rest is picture data
            components = data[at + 4] if at + 4 < len(data) else 0
            scan_header = int.from_bytes(data[at + 2 : at + 4], "big")
            if not framed or not 1 <= components <= 4 or scan_header != 6 + 2 * components:
                raise _Bad("the thumbnail's scan has no frame header, or a broken one")
            kept.append(data[at:])
            return b"".join(kept)
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if length < 2 or at + 2 + length > len(data):
            raise _Bad("a thumbnail segment is cut short")
        body = data[at + 4 : at + 2 + length]
        if marker in _FRAMES:
            _check_frame(body)
            framed = True
        elif marker == 0xDB:
            _check_tables(body, lambda table: 65 if table[0] >> 4 == 0 else 129)
        elif marker == 0xC4:
            _check_tables(body, lambda table: 17 + sum(table[1:17]))
        if marker in _TABLES or marker in _FRAMES:
            kept.append(data[at : at + 2 + length])
        elif not (0xE0 <= marker <= 0xEF or marker == 0xFE):  # metadata: left out
            raise _Bad(f"the thumbnail has an unknown marker {marker:#x}")
        at += 2 + length


def _check_frame(body: bytes) -> None:
    """A frame header (SOFn) of 8 or 12 bits, 1, 3 or 4 components and at most MAX_SIDE
    pixels a side, or a _Bad."""
    if len(body) < 6:
        raise _Bad("the thumbnail's frame header is cut short")
    bits, height, width, components = struct.unpack_from(">BHHB", body)
    if bits not in (8, 12) or components not in (1, 3, 4) or len(body) != 6 + 3 * components:
        raise _Bad("the thumbnail's frame header is broken")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise _Bad(f"the thumbnail claims {width} x {height} pixels")


def _check_tables(body: bytes, size: Callable[[bytes], int]) -> None:
    """A segment of whole tables (quantisation, Huffman), each `size(table)` bytes long, or
    a _Bad."""
    at = 0
    while at < len(body):
        at += size(body[at : at + 17])
    if at != len(body) or not body:
        raise _Bad("the thumbnail's tables are broken")


def _orientation_segment(orientation: int) -> bytes:
    """An APP1 EXIF segment of one IFD with one entry: the orientation."""
    entry = struct.pack(">HHIHH", _ORIENTATION, _SHORT, 1, orientation, 0)
    body = _EXIF + b"MM\0*" + struct.pack(">IH", 8, 1) + entry + struct.pack(">I", 0)
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def placeholder(width: int | None, height: int | None) -> bytes:
    """A plain PNG in the shape of a photo of this size (a square when it is unknown),
    `PLACEHOLDER_SIDE` pixels on its longer side."""
    ratio = width / height if width and height and width > 0 and height > 0 else 1.0
    ratio = min(max(ratio, 0.25), 4.0)
    side = PLACEHOLDER_SIDE
    short = max(1, round(side / ratio if ratio >= 1 else side * ratio))
    return _png((side, short) if ratio >= 1 else (short, side))


@lru_cache(maxsize=256)
def _png(size: tuple[int, int]) -> bytes:
    """A PNG of this size in one colour, TONE (8-bit RGBA)."""
    width, height = size
    rows = (b"\0" + bytes(TONE) * width) * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
