"""The *renditions* stage: a square grid tile and a fit-inside preview for every photo.

Images are decoded with Pillow (HEIC/HEIF through pillow-heif, AVIF natively), JPEGs in draft
mode at the smallest scale that still covers the preview; RAW files give their embedded preview
(rawpy/LibRaw); videos give a poster frame through ffmpeg. Orientation is applied and the ICC
profile is kept; no other metadata is (no EXIF, XMP or JPEG comment: renditions are what share
links show visitors). Renditions are stored by content hash, so identical files share them, and are
written to a temporary name and renamed, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
import rawpy
from PIL import Image, ImageOps

from shoebox.catalog.cache import PREVIEW as PREVIEW  # re-exported: where renditions live
from shoebox.catalog.cache import TILE as TILE
from shoebox.catalog.cache import rendition_path as rendition_path
from shoebox.errors import StageError
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


def decode(spec: RenditionSpec, path: bytes, kind: Kind) -> Decoded:
    """The picture to render from, upright, at least as large as the preview needs."""
    if kind == "video":
        return Decoded(_poster_frame(spec, path), False)
    if kind == "raw":
        return Decoded(_raw_preview(spec, path), False)
    Image.MAX_IMAGE_PIXELS = spec.max_pixels  # Pillow's own guard, past our check below
    try:
        im = Image.open(os.fsdecode(path))
    except Image.DecompressionBombError as exc:
        raise _bomb(spec, exc) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise StageError("renditions", f"cannot decode the image ({exc})") from exc
    if im.format != "HEIF":
        return Decoded(_prepare(spec, im), _moves(im))
    # libheif decodes a file cut off inside its image data without an error (the missing tiles
    # come out green), and turns the picture only as the container's irot/imir say.
    whole = memoryview(Path(os.fsdecode(path)).read_bytes())
    if _cut_short(whole):
        raise StageError("renditions", "the file is truncated (it ends inside a box)")
    picture = _prepare(spec, im)
    return Decoded(
        _heif_exif_orientation(picture, im.info.get("original_orientation"), whole), False
    )


def _bomb(spec: RenditionSpec, exc: Exception) -> StageError:
    return StageError("renditions", f"refused by max_pixels={spec.max_pixels}: {exc}")


def is_animated(path: bytes) -> bool:
    """Whether an image has more than one frame (GIF, animated WebP, AVIF sequence)."""
    try:
        with Image.open(os.fsdecode(path)) as im:
            return _moves(im)
    except (OSError, ValueError, SyntaxError):
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


def _raw_preview(spec: RenditionSpec, path: bytes) -> Image.Image:
    try:
        with rawpy.imread(os.fsdecode(path)) as raw:
            flip = raw.sizes.flip
            thumb = raw.extract_thumb()
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise StageError(
            "renditions", f"no usable embedded preview in this RAW file ({exc})"
        ) from exc
    im: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        im = _prepare(spec, Image.open(io.BytesIO(bytes(thumb.data))))
    else:
        im = Image.fromarray(thumb.data)  # type: ignore[arg-type]
    if flip in _FLIP_TO_TRANSPOSE:
        im = im.transpose(_FLIP_TO_TRANSPOSE[flip])
    return im


def _poster_frame(spec: RenditionSpec, path: bytes) -> Image.Image:
    """A frame one second in (the first frame of a shorter clip), rotated as the video plays."""
    for seek in ("1", "0"):
        cmd = [
            spec.ffmpeg, "-nostdin", "-v", "error", "-ss", seek, "-i", os.fsdecode(path),
            "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-",
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=spec.video_timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StageError(
                "renditions", f"ffmpeg took longer than {spec.video_timeout}s"
            ) from exc
        except OSError as exc:
            raise StageError("renditions", f"cannot run ffmpeg ({exc})") from exc
        if proc.returncode == 0 and proc.stdout:
            return _prepare(spec, Image.open(io.BytesIO(proc.stdout)))
    last = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    reason = last[-1] if last else f"exit status {proc.returncode}, no frame"
    raise StageError("renditions", f"ffmpeg found no frame ({reason})")


def render(spec: RenditionSpec, content_hash: str, picture: Image.Image) -> None:
    """Write the preview and the tile of one picture, which is scaled down in place."""
    icc = picture.info.get("icc_profile")
    picture.thumbnail((spec.preview_size, spec.preview_size), Image.Resampling.BICUBIC)
    width, height = picture.size
    side = min(width, height)
    square = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
    tile = picture.resize(
        (spec.tile_size, spec.tile_size), Image.Resampling.BICUBIC, box=square, reducing_gap=2.0
    )
    for name, im in ((PREVIEW, picture), (TILE, tile)):
        _write_atomically(spec, rendition_path(spec.cache, content_hash, name), im, icc)


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
