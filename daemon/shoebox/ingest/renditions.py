"""The *renditions* stage: a grid tile and a fit-inside preview for every photo; and the
full-screen rendition, which the viewer makes with the same decoder when first asked. The tile
is the picture's centre at the picture's own shape, narrowed into `TILE_ASPECTS` (1:2 to 3:1),
with its short side `tile_size`: the justified grid shows it whole, the square grid its centre.

Images are decoded with Pillow (HEIC/HEIF through pillow-heif, AVIF natively), JPEGs in draft
mode at the smallest scale that still covers the preview; RAW files give their embedded preview
(rawpy/LibRaw); videos give a poster frame through ffmpeg. Orientation is applied and the ICC
profile is kept; no other metadata is (no EXIF, XMP or JPEG comment: renditions are what share
links show visitors). Renditions are stored by content hash, so identical files share them, and are
written to a temporary name and renamed, so a crash never leaves half a file behind.

The file comes as a descriptor the worker opened (`identify.open_regular`): decoders read it
as `/proc/self/fd/<n>`, ffmpeg is handed the descriptor itself, so no file name reaches a
decoder or a program. Before anything is decoded, the size an image claims is checked against
its file's size (`check_claim`): a few kilobytes cannot hold hundreds of megapixels, and a file
that says they do is a decompression bomb, refused at the cost of reading its header.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps

from shoebox.catalog.cache import LARGE, TILE_ASPECTS
from shoebox.catalog.cache import PREVIEW as PREVIEW  # re-exported: where renditions live
from shoebox.catalog.cache import TILE as TILE
from shoebox.catalog.cache import rendition_path as rendition_path
from shoebox.errors import HelperError, StageError
from shoebox.ingest.health import describe
from shoebox.ingest.identify import Kind

pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class RenditionSpec:
    cache: Path
    tile_size: int
    preview_size: int
    quality: int
    max_pixels: int
    ffmpeg: str
    video_timeout: int


def exists(spec: RenditionSpec, content_hash: str) -> bool:
    return all(rendition_path(spec.cache, content_hash, n).exists() for n in (TILE, PREVIEW))


@dataclass(frozen=True)
class Decoded:
    image: Image.Image
    animated: bool


def decode(spec: RenditionSpec, fd: int, size: int, kind: Kind) -> Decoded:
    """The picture to render from, upright, at least as large as the preview needs, from the
    open file `fd` of `size` bytes. HelperError when ffmpeg overran or died."""
    if kind == "video":
        return Decoded(_poster_frame(spec, fd), False)
    source = _fd_path(fd)
    if kind == "raw":
        return Decoded(_raw_preview(spec, source), False)
    head = os.pread(fd, 64, 0)
    webp = webp_size(head)  # Pillow makes libwebp's decoder, canvas and all, as it opens one
    if webp is not None:
        check_claim("WEBP", webp, size, head)
    Image.MAX_IMAGE_PIXELS = spec.max_pixels  # Pillow's own guard, past our checks below
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise _bomb(spec, exc) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise StageError("renditions", f"cannot decode the image ({exc})") from exc
    check_claim(im.format or "", im.size, size, head, im.info.get("compression"), im.mode)
    if im.format != "HEIF":
        return Decoded(_prepare(spec, im), _moves(im))
    # libheif decodes a file cut off inside its image data without an error (the missing tiles
    # come out green), and turns the picture only as the container's irot/imir say.
    whole = memoryview(Path(source).read_bytes())
    if _cut_short(whole):
        raise StageError("renditions", "the file is truncated (it ends inside a box)")
    picture = _prepare(spec, im)
    return Decoded(
        _heif_exif_orientation(picture, im.info.get("original_orientation"), whole), False
    )


def _fd_path(fd: int) -> str:
    """A name of our own for an open file: opening it opens the same file again."""
    return f"/proc/self/fd/{fd}"


def _bomb(spec: RenditionSpec, exc: Exception) -> StageError:
    return StageError("renditions", f"refused by max_pixels={spec.max_pixels}: {exc}")


# A file that claims more pixels than its size can hold is refused before it is decoded: it is
# a decompression bomb (a 76 KB JPEG that said 16000x15000 made a worker use 1.4 GB) or cut off.
# How many pixels one byte can hold, when the picture is as flat as can be, comes from the
# coding's own limit where it has one (PNG, most TIFF), else from the flattest files the usual
# encoders make (`bench/flat.py` measures them) with room to spare. Pictures of up to
# ALWAYS_PIXELS pass whatever their size: they cost little to decode.
ALWAYS_PIXELS = 1 << 24
PIXELS_PER_BYTE = {
    "JPEG": 512,  # Huffman coding spends >= 1 bit on every 8x8 block (flat grey: 256)
    "MPO": 512,  # JPEG with more pictures after the first (many cameras and phones)
    "GIF": 3072,  # LZW: one 12-bit code stands for at most 4096 pixels (flat 48 MP: 1292)
    "BMP": 256,  # RLE: at most 255 pixels in 2 bytes
    "WEBP": 4096,  # lossy, VP8 (flat 48 MP: 562)
    "WEBP-lossless": 65536,  # VP8L (flat 48 MP: 25290)
    "HEIF": 8192,  # (flat 18 to 108 MP: 1525 to 1661)
    "AVIF": 65536,  # (flat 18 to 108 MP: 12996 to 21492)
    "TIFF": 32768,  # fax coding of a blank page (flat 1-bit 48 MP: 13873), other codings
}
PIXELS_PER_BYTE_OTHER = 65536
# Codings whose limit is known: the most bytes of pixel data one byte of them gives back.
_DECODED_PER_BYTE = {"deflate": 1032, "lzw": 2731, "packbits": 64, "raw": 1}
_TIFF_CODINGS = {"raw": "raw", "packbits": "packbits", "tiff_lzw": "lzw",
                 "tiff_adobe_deflate": "deflate", "tiff_deflate": "deflate"}  # fmt: skip
_BITS = {"1": 1, "L": 8, "P": 8, "LA": 16, "I;16": 16, "I;16B": 16, "I;16L": 16, "RGB": 24,
         "YCbCr": 24, "LAB": 24, "HSV": 24}  # fmt: skip  # bits a pixel, 32 for the others
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by IHDR colour type


def pixels_per_byte(
    fmt: str, head: bytes, compression: str | None = None, mode: str | None = None
) -> float:
    """The most pixels one byte of an image file can hold; `head` is the file's first bytes,
    `compression` and `mode` what Pillow says of a TIFF."""
    if fmt == "PNG" and len(head) > 25 and head[25] in _PNG_CHANNELS:
        bits = max(1, head[24] * _PNG_CHANNELS[head[25]])  # IHDR: bit depth, colour type
        return _DECODED_PER_BYTE["deflate"] * 8 / bits
    if fmt == "TIFF" and compression in _TIFF_CODINGS:
        return _DECODED_PER_BYTE[_TIFF_CODINGS[compression]] * 8 / _BITS.get(mode or "", 32)
    if fmt == "WEBP" and b"VP8 " not in head[12:40]:
        fmt = "WEBP-lossless"
    return PIXELS_PER_BYTE.get(fmt, PIXELS_PER_BYTE_OTHER)


def check_claim(
    fmt: str,
    claimed: tuple[int, int],
    size: int,
    head: bytes,
    compression: str | None = None,
    mode: str | None = None,
) -> None:
    """Refuse (StageError) an image of this format whose claimed width and height its file of
    `size` bytes cannot hold. Nothing is decoded."""
    width, height = claimed
    pixels = width * height
    if pixels <= ALWAYS_PIXELS:
        return
    most = pixels_per_byte(fmt, head, compression, mode) * size
    if pixels > most:
        raise StageError(
            "renditions",
            f"refused: {width}x{height} pixels cannot be held in {size} bytes of {fmt} "
            f"(at most {most / 1e6:.1f} megapixels; a decompression bomb, or a cut-off file)",
        )


def webp_size(head: bytes) -> tuple[int, int] | None:
    """The canvas a WebP file's header claims (None if `head` is not a WebP file's)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # width and height less one, 24 bits each
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # after the frame tag
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:  # width and height less one, 14 bits each
        (bits,) = struct.unpack_from("<I", head, 21)
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def may_move(head: bytes) -> bool:
    """Whether an image starting with `head` is worth opening to tell whether it moves: not a
    HEIF (`_moves` says no to every HEIF, and pillow-heif reads all its boxes to open one)."""
    return head[4:8] != b"ftyp" or head[8:12] in (b"avif", b"avis")


def is_animated(fd: int) -> bool:
    """Whether an image has more than one frame (GIF, animated WebP, AVIF sequence)."""
    try:
        with Image.open(_fd_path(fd)) as im:
            return _moves(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def _moves(im: Image.Image) -> bool:
    """Whether an opened image is an animation. pillow-heif counts the top-level images of a
    HEIF file as frames, but several images in one HEIF (a burst, an edit beside its original)
    are a collection, not an animation."""
    return bool(getattr(im, "is_animated", False)) and im.format != "HEIF"


_EXIF_TO_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _heif_exif_orientation(
    picture: Image.Image, orientation: int | None, data: memoryview
) -> Image.Image:
    """A HEIF picture turned by its EXIF orientation when the container does not turn it.

    libheif applies the container's own rotation and mirroring (`irot`, `imir`) and pillow-heif
    then resets the EXIF orientation to 1, keeping the old value in `original_orientation`, so
    that it is not applied twice. Some writers (camera apps such as ProCam) store only the EXIF
    orientation: without this their pictures would stay sideways.
    """
    if orientation not in _EXIF_TO_TRANSPOSE or _heif_turns_itself(data):
        return picture
    return picture.transpose(_EXIF_TO_TRANSPOSE[orientation])


def _heif_turns_itself(data: memoryview) -> bool:
    """Whether a HEIF file's item properties (meta/iprp/ipco) rotate or mirror the image."""
    level = data
    for wanted in (b"meta", b"iprp", b"ipco"):
        level = next((body for kind, body, _ in _boxes(level) if kind == wanted), memoryview(b""))
    return any(kind in (b"irot", b"imir") for kind, _, _ in _boxes(level))


def _cut_short(data: memoryview) -> bool:
    """Whether an ISO-BMFF file ends inside one of its top-level boxes (a truncated file)."""
    return any(end > len(data) for _, _, end in _boxes(data))


def _boxes(data: memoryview) -> Iterator[tuple[bytes, memoryview, int]]:
    """The (type, body, declared end) of each ISO-BMFF box in `data`, up to the first malformed
    one; a body stops where `data` does. A `meta` box (a full box) has its body after its
    version and flags."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        start = pos + 8
        if size == 1 and pos + 16 <= len(data):
            size, start = struct.unpack_from(">Q", data, pos + 8)[0], pos + 16
        elif size == 0:
            size = len(data) - pos
        if size < start - pos:
            return
        body = data[start : pos + size]
        yield kind, body[4:] if kind == b"meta" else body, pos + size
        pos += size


def _prepare(spec: RenditionSpec, im: Image.Image) -> Image.Image:
    width, height = im.size
    if width * height > spec.max_pixels:
        raise StageError(
            "renditions",
            f"refused: {width}x{height} is more than max_pixels={spec.max_pixels} "
            "(a decompression bomb?)",
        )
    if im.format == "JPEG":
        scale = spec.preview_size / max(width, height)
        if scale < 1:
            im.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
    icc = im.info.get("icc_profile")
    try:
        im.load()
        ImageOps.exif_transpose(im, in_place=True)  # a copy would cost more than the turn
        upright = im if im.mode in ("RGB", "L") else _to_rgb(im)
    except Image.DecompressionBombError as exc:
        raise _bomb(spec, exc) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise StageError("renditions", f"cannot decode the image ({exc})") from exc
    if icc:
        upright.info["icc_profile"] = icc
    return upright


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return im.point(lambda v: v / 256).convert("RGB")  # 16-bit greyscale to 8-bit
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


_FLIP_TO_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,  # LibRaw: 90 degrees counter-clockwise
    6: Image.Transpose.ROTATE_270,  # LibRaw: 90 degrees clockwise
}


def _raw_preview(spec: RenditionSpec, source: str) -> Image.Image:
    import rawpy  # here: it brings numpy, which the daemon's own process does not need

    try:
        with rawpy.imread(source) as raw:
            flip = raw.sizes.flip
            thumb = raw.extract_thumb()
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise StageError(
            "renditions", f"no usable embedded preview in this RAW file ({exc})"
        ) from exc
    im: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        data = bytes(thumb.data)
        im = Image.open(io.BytesIO(data))
        check_claim(im.format or "", im.size, len(data), data[:64])
        im = _prepare(spec, im)
    else:
        im = Image.fromarray(thumb.data)  # type: ignore[arg-type]
    if flip in _FLIP_TO_TRANSPOSE:
        im = im.transpose(_FLIP_TO_TRANSPOSE[flip])
    return im


def _poster_frame(spec: RenditionSpec, fd: int) -> Image.Image:
    """A frame one second in (the first frame of a shorter clip), rotated as the video plays.
    ffmpeg reads the open file `fd` (passed to it), decodes no frame larger than max_pixels,
    and has video_timeout seconds for both tries; past that it is killed (HelperError)."""
    deadline = time.monotonic() + spec.video_timeout
    for seek in ("1", "0"):
        cmd = [
            spec.ffmpeg, "-nostdin", "-v", "error", "-max_pixels", str(spec.max_pixels),
            "-ss", seek, "-i", f"file:{_fd_path(fd)}",
            "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-",
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(fd,),
            )  # fmt: skip
        except OSError as exc:
            raise StageError("renditions", f"cannot run ffmpeg ({exc})") from exc
        try:
            out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()  # a program it started may hold our pipes: they are not read again
            proc.wait()
            raise HelperError(
                "ffmpeg", f"took longer than {spec.video_timeout} s", "timeout"
            ) from None
        finally:
            for pipe in (proc.stdout, proc.stderr):
                assert pipe is not None
                pipe.close()
        if proc.returncode < 0:
            raise HelperError("ffmpeg", f"died ({describe(proc.returncode)})")
        if proc.returncode == 0 and out:
            return _prepare(spec, Image.open(io.BytesIO(out)))
    last = err.decode("utf-8", "replace").strip().splitlines()
    reason = last[-1] if last else f"exit status {proc.returncode}, no frame"
    raise StageError("renditions", f"ffmpeg found no frame ({reason})")


def render(spec: RenditionSpec, content_hash: str, picture: Image.Image) -> None:
    """Write the preview and the tile of one picture, which is scaled down in place."""
    icc = picture.info.get("icc_profile")
    # A picture not decoded at a draft size (HEIC, PNG, a video frame) is first halved (or
    # more) by averaging, then resampled: a 12-MP HEIC's preview takes 100 ms instead of 190
    picture.thumbnail(
        (spec.preview_size, spec.preview_size), Image.Resampling.BICUBIC, reducing_gap=1.0
    )
    width, height = picture.size
    low, high = TILE_ASPECTS
    aspect = min(max(width / height, low), high)
    box_width, box_height = min(width, height * aspect), min(height, width / aspect)
    box = (
        (width - box_width) / 2, (height - box_height) / 2,
        (width + box_width) / 2, (height + box_height) / 2,
    )  # fmt: skip
    short = spec.tile_size
    size = (round(short * aspect), short) if aspect >= 1 else (short, round(short / aspect))
    tile = picture.resize(size, Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)
    for name, im in ((PREVIEW, picture), (TILE, tile)):
        _write_atomically(spec, rendition_path(spec.cache, content_hash, name), im, icc)


def render_large(spec: RenditionSpec, content_hash: str, picture: Image.Image) -> Path:
    """Write the full-screen rendition of one picture, scaled down in place to fit inside
    `spec.preview_size` (the viewer decodes with the large size as the preview's); its path."""
    icc = picture.info.get("icc_profile")
    picture.thumbnail((spec.preview_size, spec.preview_size), Image.Resampling.BICUBIC)
    target = rendition_path(spec.cache, content_hash, LARGE)
    _write_atomically(spec, target, picture, icc)
    return target


def _write_atomically(
    spec: RenditionSpec, target: Path, im: Image.Image, icc: bytes | None
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as fh:
            # Pillow keeps a JPEG source's comment unless told otherwise; EXIF and XMP only
            # when given
            im.save(fh, "JPEG", quality=spec.quality, optimize=False, icc_profile=icc, comment=b"")
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
