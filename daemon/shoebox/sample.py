"""A small sample library that shoebox makes itself: photos with EXIF, GPS and time zones,
a rotated one, a PNG, an XMP sidecar and a short video. The quick start indexes it, and the
tests build their fixtures with the same helpers (Pillow writes the pixels and the EXIF,
exiftool the XMP, ffmpeg the video).
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base
from PIL.TiffImagePlugin import IFDRational

from shoebox.errors import ShoeboxError


@dataclass(frozen=True)
class Shot:
    """What a camera would have written into a JPEG."""

    taken: dt.datetime | None = None
    offset: str | None = None  # "+02:00"
    make: str | None = "Shoebox"
    model: str | None = "Sample Camera"
    gps: tuple[float, float, float] | None = None  # lat, lng, altitude
    orientation: int = 1
    exposure: Fraction | None = Fraction(1, 125)
    f_number: float | None = 2.8
    iso: int | None = 100
    focal_length: float | None = 4.2


def picture(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A colourful picture with enough detail to look like a photo in a grid."""
    width, height = size
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    hue = (seed * 47) % 255
    overlay = Image.new("RGB", size, (hue, 255 - hue, (hue * 3) % 255))
    im = Image.blend(im, overlay, 0.55)
    draw = ImageDraw.Draw(im)
    for i in range(12):
        r = (i + 1) * min(width, height) // 30
        cx = int(width * (0.5 + 0.35 * math.cos(seed + i)))
        cy = int(height * (0.5 + 0.35 * math.sin(seed * 2 + i)))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255), width=3)
    draw.rectangle((0, 0, width // 8, height // 8), fill=(200, 30, 30))  # marks the top-left
    return im


def _rational(value: float | Fraction) -> IFDRational:
    exact = Fraction(value).limit_denominator(1_000_000)
    return IFDRational(exact.numerator, exact.denominator)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return _rational(degrees), _rational(minutes), _rational(round(seconds, 4))


def exif_for(shot: Shot) -> Image.Exif:
    exif = Image.Exif()
    if shot.make:
        exif[Base.Make] = shot.make
    if shot.model:
        exif[Base.Model] = shot.model
    exif[Base.Orientation] = shot.orientation
    sub = exif.get_ifd(IFD.Exif)
    if shot.taken:
        stamp = shot.taken.strftime("%Y:%m:%d %H:%M:%S")
        exif[Base.DateTime] = stamp
        sub[Base.DateTimeOriginal] = stamp
        sub[Base.DateTimeDigitized] = stamp
        if shot.offset:
            sub[Base.OffsetTimeOriginal] = shot.offset
            sub[Base.OffsetTime] = shot.offset
    if shot.exposure:
        sub[Base.ExposureTime] = _rational(shot.exposure)
    if shot.f_number:
        sub[Base.FNumber] = _rational(shot.f_number)
    if shot.iso:
        sub[Base.ISOSpeedRatings] = shot.iso
    if shot.focal_length:
        sub[Base.FocalLength] = _rational(shot.focal_length)
    if shot.gps:
        lat, lng, alt = shot.gps
        gps = exif.get_ifd(IFD.GPSInfo)
        gps[GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        gps[GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[GPS.GPSLatitude] = _dms(lat)
        gps[GPS.GPSLongitudeRef] = "E" if lng >= 0 else "W"
        gps[GPS.GPSLongitude] = _dms(lng)
        gps[GPS.GPSAltitudeRef] = 0 if alt >= 0 else 1
        gps[GPS.GPSAltitude] = _rational(abs(alt))
    return exif


def write_jpeg(
    path: Path, shot: Shot = Shot(), size: tuple[int, int] = (1200, 900), seed: int = 0
) -> Path:
    """A JPEG as a camera would write it. With orientation 6 the pixels are stored turned
    90 degrees anticlockwise, so that a viewer that honours the tag shows `size` upright."""
    im = picture(size, seed)
    if shot.orientation == 6:
        im = im.transpose(Image.Transpose.ROTATE_90)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=90, exif=exif_for(shot))
    return path


def write_tags(path: Path, *tags: str, exiftool: str = "exiftool") -> None:
    """Write tags with exiftool, such as "-XMP:Title=Beach" (the file is changed in place)."""
    _run([exiftool, "-q", "-overwrite_original", *tags, str(path)])


def write_video(
    path: Path,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    ffmpeg: str = "ffmpeg",
    extra: tuple[str, ...] = (),
) -> Path:
    """A short H.264 clip of ffmpeg's test pattern."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([
        ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
        "-i", f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate=25",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", *extra, str(path),
    ])  # fmt: skip
    return path


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise ShoeboxError(
            f"{cmd[0]} failed while making the sample library: "
            f"{detail.decode('utf-8', 'replace').strip() or exc}"
        ) from exc


def make_library(target: Path, *, exiftool: str = "exiftool", ffmpeg: str = "ffmpeg") -> list[Path]:
    """Write the sample library into `target`; return the files written."""

    def when(y: int, mo: int, d: int, h: int, mi: int, s: int) -> dt.datetime:
        return dt.datetime(y, mo, d, h, mi, s)  # cameras write wall-clock time

    made = [
        write_jpeg(
            target / "2023/Lisbon/IMG_0001.jpg",
            Shot(
                when(2023, 7, 14, 18, 32, 5),
                "+01:00",
                "Apple",
                "iPhone 13",
                (38.7139, -9.1394, 42.0),
            ),
            seed=1,
        ),
        write_jpeg(
            target / "2023/Lisbon/IMG_0002.jpg",
            Shot(
                when(2023, 7, 15, 9, 10, 0),
                "+01:00",
                "Apple",
                "iPhone 13",
                (38.6916, -9.2160, 8.0),
                orientation=6,
            ),
            size=(900, 1200),
            seed=2,
        ),
        write_jpeg(
            target / "2024/Kyoto/DSC01234.JPG",
            Shot(
                when(2024, 4, 2, 7, 45, 30),
                "+09:00",
                "SONY",
                "ILCE-7M3",
                (35.0116, 135.7681, 50.0),
                exposure=Fraction(1, 250),
                f_number=5.6,
                iso=200,
                focal_length=35.0,
            ),
            size=(1500, 1000),
            seed=3,
        ),
        write_jpeg(
            target / "2024/Garden/20240512_101500.jpg",
            Shot(None, None, "Google", "Pixel 8", None),
            seed=4,
        ),
    ]
    beach = write_jpeg(
        target / "2022/Beach/beach.jpg",
        Shot(when(2022, 8, 20, 16, 0, 0), "-04:00", "Canon", "Canon EOS R6", (41.25, -70.0, 2.0)),
        seed=5,
    )
    write_tags(
        beach,
        "-XMP-dc:Title=Low tide",
        "-XMP-dc:Description=The long walk out at low tide",
        "-XMP-dc:Subject=beach",
        "-XMP-dc:Subject=summer",
        "-XMP-xmp:Rating=4",
        exiftool=exiftool,
    )
    made.append(beach)
    png = target / "2024/Garden/sketch.png"
    picture((800, 600), 6).save(png)
    made.append(png)
    made.append(
        write_video(
            target / "2024/Kyoto/clip.mp4",
            ffmpeg=ffmpeg,
            extra=("-metadata", "creation_time=2024-04-02T22:50:00Z"),
        )
    )
    return made
