"""Integration tests over the real photos and videos in ../shared/corpus (skipped without it).

Each test copies a batch of corpus files into a fresh library root (keeping their folders, so
sidecars sit next to their photo), indexes it once, on SQLite and on MariaDB, and checks many
values. Every expected value was read from the file itself (`exiftool -n -json -G`, ffprobe or
Pillow); the comment beside it names the tag. Nothing under the root may change while indexing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from conftest import Library
from shoebox.catalog.cache import TILE_ASPECTS
from shoebox.catalog.models import IngestError
from shoebox.ingest.renditions import PREVIEW, TILE, rendition_path

PP = "photoprism__photoprism"
EXAMPLES = f"{PP}/assets/examples"
META = f"{PP}/internal/meta/testdata"
PP_TESTDATA = f"{PP}/internal/photoprism/testdata"
PP_VIDEO = f"{PP}/pkg/media/video/testdata"
EXIFPY = "ianare__exif-py/tests/resources"
DREW = "drewnoakes__metadata-extractor-images"
ET = "exiftool__exiftool/t/images"
LIBHEIF = "strukturag__libheif/examples"

pytestmark = pytest.mark.corpus


def close(value: float) -> Any:
    """A float as read from the file, allowing only for decimal printing."""
    return pytest.approx(value, rel=1e-9)


# --- helpers -----------------------------------------------------------------------------


def copy_in(corpus: Path, root: Path, *names: str) -> None:
    """Copy corpus files into the library root under the same relative paths (writable, with
    the corpus's mtime, so that a write by the indexer would not be refused)."""
    for name in names:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus / name, target)
        target.chmod(0o644)


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under the root with its sha256 and mtime (ns)."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def errors(library: Library) -> dict[str, list[str]]:
    """The ingest-error rows by relative path: the stages that failed."""
    found: dict[str, list[str]] = {}
    for row in IngestError.select().order_by(IngestError.id):
        found.setdefault(row.rel_path, []).append(row.stage)
    return found


def error_message(library: Library, rel: str) -> str:
    return " | ".join(r.message for r in IngestError.select().where(IngestError.rel_path == rel))


def holding(library: Library, rel: str) -> list[dict[str, Any]]:
    """The photos holding the file at this path relative to the root (exact match)."""
    path = str(library.root / rel)
    return [p for p in library.photos() if any(f["path"] == path for f in p["files"])]


def photo(library: Library, rel: str) -> dict[str, Any]:
    found = holding(library, rel)
    assert len(found) == 1, f"{rel}: {len(found)} photos hold it"
    return found[0]


def file_of(p: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in p["files"] if f["path"].endswith("/" + name))


def roles(p: dict[str, Any]) -> dict[str, str]:
    return {os.path.basename(f["path"]): f["role"] for f in p["files"]}


def rendition(library: Library, content_hash: str, name: str) -> Image.Image:
    """A rendition of the content with this hash, loaded (it must exist)."""
    path = rendition_path(library.settings.library.cache, content_hash, name)
    assert path.is_file(), f"no {name} rendition for {content_hash}"
    with Image.open(path) as im:
        im.load()
        return im


def preview_of(library: Library, p: dict[str, Any], name: str) -> Image.Image:
    """The preview of the file `name` of photo `p`, after checking its tile too."""
    content_hash = file_of(p, name)["hash"]
    tile = rendition(library, content_hash, TILE)
    preview = rendition(library, content_hash, PREVIEW)
    assert max(preview.size) <= library.settings.renditions.preview_size
    low, high = TILE_ASPECTS  # the tile: the preview's shape (so narrowed), short side tile_size
    assert min(tile.size) == library.settings.renditions.tile_size
    shape = min(max(preview.size[0] / preview.size[1], low), high)
    assert tile.size[0] / tile.size[1] == pytest.approx(shape, rel=0.01)
    return preview


def has_renditions(library: Library, content_hash: str) -> bool:
    cache = library.settings.library.cache
    return any(rendition_path(cache, content_hash, n).exists() for n in (TILE, PREVIEW))


def utc_mtime(path: Path) -> str:
    when = dt.datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, dt.UTC).replace(tzinfo=None)
    return f"{when.isoformat()}Z"


def looks_alike(a: Image.Image, b: Image.Image) -> bool:
    """Whether two renditions show the same picture the same way up (small grey copies differ
    by little; a turned or mirrored copy differs by a lot)."""
    small = (64, 48)
    diff = ImageChops.difference(a.convert("L").resize(small), b.convert("L").resize(small))
    return ImageStat.Stat(diff).mean[0] < 25  # measured: about 14 upright, 42 or more not


# --- tests -------------------------------------------------------------------------------


def test_still_photos_dates_zones_gps_and_cameras(library: Library, corpus: Path) -> None:
    names = [
        f"{EXAMPLES}/iphone_15_pro.heic",
        f"{DREW}/heic/IMG_2927.HEIC",
        f"{EXAMPLES}/elephants.jpg",
        f"{EXAMPLES}/IMG_4120.JPG",
        f"{EXIFPY}/jpg/gps/DSCN0010.jpg",
        f"{EXAMPLES}/beach_wood.jpg",
        f"{META}/buggy_panorama.jpg",
        f"{EXAMPLES}/telegram_2020-01-30_09-57-18.jpg",
        f"{META}/gps-2000.jpg",
        f"{EXIFPY}/jpg/Canon_PowerShot_S40.jpg",
        f"{EXIFPY}/jpg/xmp/BlueSquare.jpg",
        f"{META}/iptc-2016.jpg",
        f"{META}/digikam.jpg",
        f"{EXAMPLES}/dog_created_1919.jpg",
        f"{DREW}/nef/Issue 247-1.nef",
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), 0)
    assert errors(library) == {}
    assert len(library.photos()) == len(names)

    # iPhone 15 Pro HEIC: EXIF:DateTimeOriginal 2023:10:31 11:44:43, SubSecTimeOriginal 432,
    # OffsetTimeOriginal +01:00; GPSDateTime 2023:10:31 10:44:43Z agrees.
    p = photo(library, f"{EXAMPLES}/iphone_15_pro.heic")
    assert p["type"] == "image"
    assert file_of(p, "iphone_15_pro.heic")["mime"] == "image/heic"  # File:MIMEType
    assert p["taken_at"] == "2023-10-31T10:44:43.432000Z"
    assert p["taken_at_local"] == "2023-10-31T11:44:43.432000"
    assert p["taken_at_source"] == "DateTimeOriginal"
    assert p["timezone"] == "+01:00"
    assert p["lat"] == close(52.4596055555556)  # Composite:GPSLatitude
    assert p["lng"] == close(13.3218416666667)  # Composite:GPSLongitude
    assert p["altitude"] == close(50.15664187)  # Composite:GPSAltitude (ref 0: above sea)
    assert (p["camera_make"], p["camera_model"]) == ("Apple", "iPhone 15 Pro")  # EXIF:Make/Model
    assert p["lens_model"] == "iPhone 15 Pro back triple camera 2.22mm f/2.2"  # EXIF:LensModel
    assert p["iso"] == 400  # EXIF:ISO
    assert p["exposure"] == "1/60"  # EXIF:ExposureTime 0.01666666667
    assert p["f_number"] == close(2.2)  # EXIF:FNumber
    assert p["focal_length"] == close(2.22)  # EXIF:FocalLength
    assert p["focal_length_35mm"] == close(14)  # EXIF:FocalLengthIn35mmFormat
    # File:ImageWidth/Height 4032x3024 (ispe) turned by irot 270 and EXIF:Orientation 6.
    assert (p["width"], p["height"], p["orientation"]) == (3024, 4032, 6)
    assert preview_of(library, p, "iphone_15_pro.heic").size == (1200, 1600)

    # IMG_2927.HEIC: DateTimeOriginal 2020:05:04 18:39:11.644, OffsetTimeOriginal -04:00, no GPS.
    p = photo(library, f"{DREW}/heic/IMG_2927.HEIC")
    assert p["taken_at"] == "2020-05-04T22:39:11.644000Z"
    assert p["taken_at_local"] == "2020-05-04T18:39:11.644000"
    assert p["timezone"] == "-04:00"
    assert (p["lat"], p["lng"], p["altitude"]) == (None, None, None)
    assert p["camera_model"] == "iPhone 11 Pro"  # EXIF:Model
    assert p["iso"] == 32  # EXIF:ISO
    assert (p["width"], p["height"], p["orientation"]) == (3024, 4032, 1)  # ImageSize, irot 0
    assert preview_of(library, p, "IMG_2927.HEIC").size == (1200, 1600)

    # elephants.jpg: DateTimeOriginal 2013:11:26 15:53:55 without an offset tag; the GPS clock
    # (GPSDateTime 2013:11:26 13:53:46Z) puts it at +02:00 (South Africa).
    p = photo(library, f"{EXAMPLES}/elephants.jpg")
    assert p["taken_at"] == "2013-11-26T13:53:55Z"
    assert p["taken_at_local"] == "2013-11-26T15:53:55"
    assert p["timezone"] == "+02:00"
    assert p["lat"] == close(-33.45347)  # GPSLatitude 33.45347, GPSLatitudeRef S
    assert p["lng"] == close(25.764645)  # GPSLongitude, ref E
    assert p["altitude"] == close(190.2)  # GPSAltitude
    assert (p["camera_make"], p["camera_model"]) == ("Canon", "Canon EOS 6D")
    assert p["lens_model"] == "EF70-200mm f/4L IS USM"  # EXIF:LensModel
    assert (p["iso"], p["exposure"]) == (200, "1/640")  # EXIF:ISO, ExposureTime 0.0015625
    assert (p["f_number"], p["focal_length"]) == (close(10), close(111))  # FNumber, FocalLength
    assert p["rating"] is None  # XMP:Rating 0 means unrated
    assert (p["width"], p["height"]) == (497, 331)

    # IMG_4120.JPG: DateTimeOriginal 12:57:32.835 local, GPSDateTime 10:57:29.45Z: +02:00.
    p = photo(library, f"{EXAMPLES}/IMG_4120.JPG")
    assert p["taken_at"] == "2019-06-09T10:57:32.835000Z"
    assert p["timezone"] == "+02:00"
    assert (p["lat"], p["lng"]) == (close(50.0477444444444), close(8.57235555555556))
    assert p["altitude"] == close(103.8469849)  # GPSAltitude
    assert p["exposure"] == "1/2262"  # EXIF:ExposureTime 0.000442086649
    assert p["focal_length_35mm"] == close(29)  # EXIF:FocalLengthIn35mmFormat

    # DSCN0010.jpg: DateTimeOriginal 2008:10:22 16:28:39 without an offset, and a GPS clock
    # 22 hours off (2008:10:23 14:27:07Z); the position (Tuscany) is in Europe/Rome, on
    # summer time until 26 October 2008: +02:00.
    p = photo(library, f"{EXIFPY}/jpg/gps/DSCN0010.jpg")
    assert p["taken_at"] == "2008-10-22T14:28:39Z"
    assert p["taken_at_local"] == "2008-10-22T16:28:39"
    assert (p["timezone"], p["timezone_name"]) == ("+02:00", "Europe/Rome")
    assert p["sources"]["zone"] == "position"
    assert (p["lat"], p["lng"]) == (close(43.4674483333333), close(11.8851266666639))
    assert p["altitude"] is None  # GPSAltitudeRef present, GPSAltitude absent
    assert (p["camera_make"], p["camera_model"]) == ("NIKON", "COOLPIX P6000")
    assert (p["iso"], p["exposure"], p["f_number"]) == (64, "1/75", close(5.9))
    assert (p["focal_length"], p["focal_length_35mm"]) == (close(24), close(112))
    assert p["description"] is None  # EXIF:ImageDescription is blank spaces

    # beach_wood.jpg: GPSAltitude 2.809326425 with GPSAltitudeRef 1 (below sea level); no
    # FNumber, only ApertureValue (Composite:Aperture 2.19999999733148,
    # shown to two decimals); no offset tag, no GPS clock: the zone of its position (the
    # Garden Route, South Africa: Africa/Johannesburg, +02:00).
    p = photo(library, f"{EXAMPLES}/beach_wood.jpg")
    assert p["taken_at"] == "2018-01-11T11:09:38.321000Z"
    assert p["taken_at_local"] == "2018-01-11T13:09:38.321000"
    assert (p["timezone"], p["timezone_name"]) == ("+02:00", "Africa/Johannesburg")
    assert (p["lat"], p["lng"]) == (close(-34.0213583333333), close(23.899375))
    assert p["altitude"] == close(-2.809326425)
    assert p["f_number"] == 2.2
    assert p["orientation"] is None  # no Orientation tag

    # buggy_panorama.jpg: GPSLatitude 213.640008888889 is impossible: no position at all;
    # OffsetTimeOriginal +02:00 still gives the zone.
    p = photo(library, f"{META}/buggy_panorama.jpg")
    assert (p["lat"], p["lng"], p["altitude"]) == (None, None, None)
    assert p["taken_at"] == "2022-04-24T08:35:53.358000Z"
    assert p["timezone"] == "+02:00"
    assert (p["camera_make"], p["camera_model"]) == ("Xiaomi", "Mi MIX 2")
    assert (p["width"], p["height"]) == (500, 174)

    # telegram_2020-01-30_09-57-18.jpg: no date tag at all; the file name has one.
    p = photo(library, f"{EXAMPLES}/telegram_2020-01-30_09-57-18.jpg")
    assert p["taken_at_source"] == "FileName"
    assert p["taken_at"] == "2020-01-30T09:57:18Z"
    assert p["timezone"] is None

    # gps-2000.jpg: a position (GPSLatitude 38.4051947833333 S, GPSLongitude 144.188958 E)
    # and no date at all: the file's mtime is the last resort.
    p = photo(library, f"{META}/gps-2000.jpg")
    assert p["taken_at_source"] == "FileModifyDate"
    assert p["taken_at"] == utc_mtime(library.root / f"{META}/gps-2000.jpg")
    assert (p["lat"], p["lng"]) == (close(-38.4051947833333), close(144.188958))
    assert p["altitude"] is None
    assert (p["camera_make"], p["iso"], p["exposure"]) == (None, None, None)

    # Canon_PowerShot_S40.jpg: no EXIF:ISO; the maker notes have it (Composite:ISO 100).
    p = photo(library, f"{EXIFPY}/jpg/Canon_PowerShot_S40.jpg")
    assert p["iso"] == 100
    assert (p["exposure"], p["f_number"]) == ("1/500", close(4.9))  # ExposureTime 0.002
    assert p["focal_length"] == close(21.3125)
    assert p["taken_at"] == "2003-12-14T12:01:44Z"

    # BlueSquare.jpg: only XMP:CreateDate 2005:09:07 15:07:40-07:00, and IPTC/XMP text.
    p = photo(library, f"{EXIFPY}/jpg/xmp/BlueSquare.jpg")
    assert p["taken_at_source"] == "XMP:CreateDate"
    assert p["taken_at"] == "2005-09-07T22:07:40Z"
    assert p["taken_at_local"] == "2005-09-07T15:07:40"
    assert p["timezone"] == "-07:00"
    assert p["title"] == "Blue Square Test File - .jpg"  # XMP:Title
    assert p["keywords"] == ["XMP", "Blue Square", "test file", "Photoshop", ".jpg"]  # Subject

    # iptc-2016.jpg: the IPTC reference image (EXIF:DateTimeOriginal wins over the XMP date).
    p = photo(library, f"{META}/iptc-2016.jpg")
    assert p["taken_at"] == "2011-10-28T12:00:00Z"
    assert p["title"] == "The Title (ref2016)"  # XMP:Title, IPTC:ObjectName
    assert p["description"] == "The description aka caption (ref2016)"  # XMP:Description
    assert p["keywords"] == ["Keyword1ref2016", "Keyword2ref2016", "Keyword3ref2016"]
    assert p["artist"] == "Creator1 (ref2016)"  # EXIF:Artist
    assert p["copyright"] == "Copyright (Notice) 2016 IPTC - www.iptc.org  (ref2016)"

    # digikam.jpg: XMP:Rating 4, XMP:Subject Berlin, Shop; GPS clock 15:48:23Z vs 17:48:24.
    p = photo(library, f"{META}/digikam.jpg")
    assert p["rating"] == 4
    assert p["keywords"] == ["Berlin", "Shop"]
    assert p["timezone"] == "+02:00"
    assert p["taken_at"] == "2020-10-17T15:48:24.950488Z"  # SubSecTimeOriginal 950488

    # dog_created_1919.jpg: DateTimeOriginal 1919:05:04 05:59:26 is old, not impossible.
    p = photo(library, f"{EXAMPLES}/dog_created_1919.jpg")
    assert p["taken_at"] == "1919-05-04T05:59:26Z"
    assert p["taken_at_source"] == "DateTimeOriginal"

    # Issue 247-1.nef is a JPEG (File:MIMEType image/jpeg) from a Nikon D70s: its kind comes
    # from its bytes; MakerNotes:Lens "50 50 1.8 1.8" is the lens 50mm f/1.8 and
    # MakerNotes:ISO "0 200" is ISO 200 (there is no EXIF:ISO).
    p = photo(library, f"{DREW}/nef/Issue 247-1.nef")
    assert p["type"] == "image"
    assert (file_of(p, "Issue 247-1.nef")["mime"], roles(p)) == (
        "image/jpeg",
        {"Issue 247-1.nef": "original"},
    )
    assert (p["camera_make"], p["camera_model"]) == ("NIKON CORPORATION", "NIKON D70s")
    assert p["lens_model"] == "50mm f/1.8"
    assert p["iso"] == 200
    assert (p["width"], p["height"]) == (2000, 3008)
    assert preview_of(library, p, "Issue 247-1.nef").size == (1064, 1600)

    assert snapshot(library.root) == before


def test_orientation_formats_and_animation(library: Library, corpus: Path) -> None:
    landscapes = [f"{EXIFPY}/jpg/orientation/landscape_{n}.jpg" for n in range(1, 6)]
    names = [
        *landscapes,
        f"{PP_TESTDATA}/rotate/6.tiff",
        f"{META}/exif-example.tiff",
        f"{LIBHEIF}/example.heic",
        f"{EXAMPLES}/fox.profile0.8bpc.yuv420.avif",
        f"{EXIFPY}/avif/mountains.avif",
        f"{PP_TESTDATA}/star.avifs",
        f"{PP_TESTDATA}/windows95.webp",
        f"{PP_TESTDATA}/norway-kjetil-moe.webp",
        f"{META}/screenshot.png",
        f"{EXAMPLES}/pythagoras.gif",
        f"{EXAMPLES}/example.gif",
        f"{EXAMPLES}/this-is-a-jpeg.png",
        f"{PP_TESTDATA}/wrong.heic",
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), 0)
    assert errors(library) == {}

    # landscape_N.jpg carries EXIF:Orientation N, its pixels stored so that, turned upright,
    # every one shows the same 600x450 landscape (landscape_5 is stored as 450x600).
    upright = None
    for n, name in enumerate(landscapes, start=1):
        p = photo(library, name)
        assert (p["orientation"], p["width"], p["height"]) == (n, 600, 450), name
        preview = preview_of(library, p, os.path.basename(name))
        assert preview.size == (600, 450), name
        if upright is None:
            upright = preview
        assert looks_alike(preview, upright), f"{name}: the preview is not upright"

    # rotate/6.tiff: EXIF:ImageWidth 65, ImageHeight 43, Orientation 6 -> shown 43x65;
    # exif-example.tiff: the same picture with Orientation 1.
    p = photo(library, f"{PP_TESTDATA}/rotate/6.tiff")
    assert (p["orientation"], p["width"], p["height"]) == (6, 43, 65)
    assert preview_of(library, p, "6.tiff").size == (43, 65)
    p = photo(library, f"{META}/exif-example.tiff")
    assert (p["orientation"], p["width"], p["height"]) == (1, 65, 43)
    assert preview_of(library, p, "exif-example.tiff").size == (65, 43)

    # libheif's example.heic holds two top-level images (a collection, not an animation).
    p = photo(library, f"{LIBHEIF}/example.heic")
    assert p["type"] == "image"
    assert file_of(p, "example.heic")["mime"] == "image/heif"  # File:MIMEType
    assert (p["width"], p["height"]) == (1280, 854)  # File:ImageWidth/Height
    assert preview_of(library, p, "example.heic").size == (1280, 854)

    # AVIF stills: File:ImageWidth/Height 1204x800 and 1920x1080 (DateTimeOriginal 2024:04:05).
    p = photo(library, f"{EXAMPLES}/fox.profile0.8bpc.yuv420.avif")
    assert (p["type"], file_of(p, "fox.profile0.8bpc.yuv420.avif")["mime"]) == (
        "image",
        "image/avif",
    )
    assert preview_of(library, p, "fox.profile0.8bpc.yuv420.avif").size == (1204, 800)
    p = photo(library, f"{EXIFPY}/avif/mountains.avif")
    assert (p["width"], p["height"]) == (1920, 1080)
    assert p["taken_at"] == "2024-04-05T10:59:24Z"
    assert preview_of(library, p, "mountains.avif").size == (1600, 900)

    # star.avifs: an AVIF image sequence (QuickTime:MajorBrand avis, 5 frames in Pillow),
    # 159x159, that exiftool 12 calls video/mp4: an animated image, not a video.
    p = photo(library, f"{PP_TESTDATA}/star.avifs")
    assert p["type"] == "animated"
    assert file_of(p, "star.avifs")["mime"] == "image/avif"
    assert (p["width"], p["height"], p["duration"], p["codec"]) == (159, 159, None, None)
    assert preview_of(library, p, "star.avifs").size == (159, 159)

    # WebP: windows95.webp has 20 frames (Pillow n_frames), norway-kjetil-moe.webp one.
    p = photo(library, f"{PP_TESTDATA}/windows95.webp")
    assert (p["type"], p["width"], p["height"]) == ("animated", 500, 313)
    assert preview_of(library, p, "windows95.webp").size == (500, 313)
    p = photo(library, f"{PP_TESTDATA}/norway-kjetil-moe.webp")
    assert (p["type"], p["width"], p["height"]) == ("image", 550, 368)
    assert preview_of(library, p, "norway-kjetil-moe.webp").size == (550, 368)

    # PNG 721x332 (PNG:ImageWidth/Height).
    p = photo(library, f"{META}/screenshot.png")
    assert (p["type"], p["width"], p["height"]) == ("image", 721, 332)
    assert preview_of(library, p, "screenshot.png").size == (721, 332)

    # GIF: pythagoras.gif has 201 frames (Pillow n_frames), example.gif one.
    p = photo(library, f"{EXAMPLES}/pythagoras.gif")
    assert (p["type"], p["width"], p["height"]) == ("animated", 591, 639)
    assert preview_of(library, p, "pythagoras.gif").size == (591, 639)
    p = photo(library, f"{EXAMPLES}/example.gif")
    assert (p["type"], p["width"], p["height"]) == ("image", 100, 67)

    # Extensions that lie: both files are JPEGs by content (File:MIMEType image/jpeg).
    p = photo(library, f"{EXAMPLES}/this-is-a-jpeg.png")
    assert (p["type"], file_of(p, "this-is-a-jpeg.png")["mime"]) == ("image", "image/jpeg")
    # DateTimeOriginal + SubSec 321, in the zone of its position (it is beach_wood.jpg)
    assert p["taken_at"] == "2018-01-11T11:09:38.321000Z"
    assert preview_of(library, p, "this-is-a-jpeg.png").size == (240, 180)
    p = photo(library, f"{PP_TESTDATA}/wrong.heic")
    assert (p["type"], file_of(p, "wrong.heic")["mime"]) == ("image", "image/jpeg")
    assert p["taken_at"] == "2013-03-05T17:29:26.750000Z"  # DateTimeOriginal + SubSec 75
    assert preview_of(library, p, "wrong.heic").size == (500, 500)

    assert snapshot(library.root) == before


def test_raw_files(library: Library, corpus: Path) -> None:
    z9 = f"{EXIFPY}/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng"
    stubs = [f"{ET}/DNG.dng", f"{ET}/Nikon.nef", f"{ET}/CanonRaw.cr3"]
    names = [
        f"{EXAMPLES}/canon_eos_6d.dng",
        f"{EXAMPLES}/canon_eos_6d.xmp",
        z9,
        f"{ET}/FujiFilm.raf",
        f"{ET}/Panasonic.rw2",
        *stubs,
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), len(stubs))

    # canon_eos_6d.dng with its Lightroom sidecar: one photo, the .xmp in it as a sidecar.
    p = photo(library, f"{EXAMPLES}/canon_eos_6d.dng")
    assert p["type"] == "raw"
    assert roles(p) == {"canon_eos_6d.dng": "raw", "canon_eos_6d.xmp": "sidecar"}
    assert file_of(p, "canon_eos_6d.dng")["mime"] == "image/x-adobe-dng"  # File:MIMEType
    assert file_of(p, "canon_eos_6d.xmp")["mime"] == "application/rdf+xml"
    assert (p["camera_make"], p["camera_model"]) == ("Canon", "Canon EOS 6D")
    assert p["lens_model"] == "EF24-105mm f/4L IS USM"  # EXIF:LensModel, XMP:LensModel
    assert (p["iso"], p["exposure"]) == (1000, "1/60")  # EXIF:ISO, ExposureTime 1/60
    assert (p["f_number"], p["focal_length"]) == (close(5.6), close(65))
    assert p["taken_at_local"] == "2019-06-06T07:29:51"  # EXIF and XMP DateTimeOriginal
    assert (p["width"], p["height"], p["orientation"]) == (1224, 816, 1)  # Composite:ImageSize
    # The embedded PreviewImage is a 1024x683 JPEG.
    assert preview_of(library, p, "canon_eos_6d.dng").size == (1024, 683)

    # Nikon Z 9 DNG: OffsetTimeOriginal +03:00; EXIF:ISO is stuck at its 16-bit top, 65535,
    # the real speed is in RecommendedExposureIndex (and MakerNotes:ISO): 102400.
    p = photo(library, z9)
    assert p["type"] == "raw"
    assert p["taken_at"] == "2025-08-10T16:02:53.270000Z"  # 19:02:53.27+03:00
    assert p["timezone"] == "+03:00"
    assert (p["camera_make"], p["camera_model"]) == ("NIKON CORPORATION", "NIKON Z 9")
    assert p["lens_model"] == "NIKKOR Z 85mm f/1.2 S"  # EXIF:LensModel
    assert (p["iso"], p["exposure"], p["f_number"]) == (102400, "30", close(1.2))
    assert (p["width"], p["height"]) == (5392, 3592)  # Composite:ImageSize
    assert preview_of(library, p, os.path.basename(z9)).size == (640, 424)  # embedded JPEG

    # exiftool's RAF and RW2 samples carry small embedded JPEGs (160x120 and 8x8 pixels).
    p = photo(library, f"{ET}/FujiFilm.raf")
    assert (p["type"], p["camera_make"], p["camera_model"]) == ("raw", "FUJIFILM", "FinePix S5Pro")
    assert p["taken_at"] == "2007-05-22T13:58:30Z"  # DateTimeOriginal
    assert preview_of(library, p, "FujiFilm.raf").size == (160, 120)
    p = photo(library, f"{ET}/Panasonic.rw2")
    assert (p["type"], p["camera_make"], p["camera_model"]) == ("raw", "Panasonic", "DMC-LX3")
    assert (p["iso"], p["focal_length_35mm"]) == (80, close(24))
    assert preview_of(library, p, "Panasonic.rw2").size == (8, 8)  # File:ImageWidth/Height 8

    # exiftool's DNG, NEF and CR3 samples are metadata without image data (their previews
    # are 26-29 byte placeholders): an error row for the renditions stage, and the photo is
    # still in the catalog with everything its tags say.
    assert errors(library) == {stub: ["renditions"] for stub in stubs}
    expected = {
        # Make, Model, DateTimeOriginal (+ SubSec, OffsetTimeOriginal), lens, ISO
        f"{ET}/DNG.dng": (
            ("Canon", "Canon EOS 350D DIGITAL"),
            "2005-08-03T18:59:18Z",
            None,
            "18.0-55.0 mm",  # XMP:Lens
            400,
        ),
        f"{ET}/Nikon.nef": (
            ("NIKON CORPORATION", "NIKON D70"),
            "2004-06-09T16:02:35Z",
            None,
            "18-70mm f/3.5-4.5",  # MakerNotes:Lens 18 70 3.5 4.5
            200,
        ),
        f"{ET}/CanonRaw.cr3": (
            ("Canon", "Canon EOS M50"),
            "2018-02-21T12:08:56.210000Z",
            "+00:00",
            "EF-M15-45mm f/3.5-6.3 IS STM",  # EXIF:LensModel
            12800,
        ),
    }
    for stub, (camera, taken_at, zone, lens, iso) in expected.items():
        p = photo(library, stub)
        assert p["type"] == "raw", stub
        assert roles(p) == {os.path.basename(stub): "raw"}
        assert (p["camera_make"], p["camera_model"]) == camera, stub
        assert (p["taken_at"], p["taken_at_source"], p["timezone"]) == (
            taken_at,
            "DateTimeOriginal",
            zone,
        ), stub
        assert (p["lens_model"], p["iso"]) == (lens, iso), stub
        assert p["thumb_hash"] is None
        assert not has_renditions(library, p["files"][0]["hash"]), stub
        assert "preview" in error_message(library, stub)

    assert snapshot(library.root) == before


def test_videos(library: Library, corpus: Path) -> None:
    names = [
        f"{PP_VIDEO}/quicktime-hvc1.mov",
        f"{DREW}/mp4/with-gps.mp4",
        f"{PP_VIDEO}/isom-avc1.mp4",
        f"{EXAMPLES}/blue-go-video.mp4",
        f"{DREW}/3gp/sample.3gp",
        f"{EXAMPLES}/earth.avi",
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), 0)
    assert errors(library) == {}

    # An iPad clip: QuickTime:CreationDate 2023:09:22 18:34:05+02:00 (CreateDate 16:34:05
    # UTC agrees), GPSCoordinates "52.4597 13.322 51.178", HEVC (CompressorID hvc1) stored
    # 1280x720 with Composite:Rotation 90 (ffprobe: display matrix -90): shown 720x1280.
    p = photo(library, f"{PP_VIDEO}/quicktime-hvc1.mov")
    assert p["type"] == "video"
    assert file_of(p, "quicktime-hvc1.mov")["mime"] == "video/quicktime"
    assert p["taken_at"] == "2023-09-22T16:34:05Z"
    assert p["taken_at_local"] == "2023-09-22T18:34:05"
    assert p["taken_at_source"] == "QuickTime:CreationDate"
    assert p["timezone"] == "+02:00"
    assert (p["lat"], p["lng"], p["altitude"]) == (close(52.4597), close(13.322), close(51.178))
    assert (p["camera_make"], p["camera_model"]) == ("Apple", "iPad mini")  # QuickTime:Make
    assert p["lens_model"] == "iPad mini back camera 3mm f/1.8"  # QuickTime:CameraLensModel
    assert p["duration"] == close(1.16666666666667)  # QuickTime:Duration; ffprobe 1.166667
    assert p["codec"] == "hvc1"
    assert p["fps"] == close(29.9572039942939)  # QuickTime:VideoFrameRate
    assert (p["orientation"], p["width"], p["height"]) == (6, 720, 1280)
    assert preview_of(library, p, "quicktime-hvc1.mov").size == (720, 1280)

    # with-gps.mp4: GPSCoordinates "51.4169 -0.0806" (no altitude), CreateDate 2017:02:22
    # 08:20:28 (UTC by the QuickTime spec), avc1 1920x1080, Duration 0.171. The position is
    # in London: in February Europe/London is at +00:00, so the wall clock is the same.
    p = photo(library, f"{DREW}/mp4/with-gps.mp4")
    assert (p["lat"], p["lng"], p["altitude"]) == (close(51.4169), close(-0.0806), None)
    assert (p["taken_at"], p["taken_at_local"]) == ("2017-02-22T08:20:28Z", "2017-02-22T08:20:28")
    assert (p["taken_at_source"], p["timezone"]) == ("QuickTime:CreateDate", "+00:00")
    assert (p["timezone_name"], p["sources"]["zone"]) == ("Europe/London", "position")
    assert p["sources"]["place"] == "QuickTime"  # UserData ©xyz
    assert (p["codec"], p["duration"]) == ("avc1", close(0.171))
    assert (p["width"], p["height"], p["orientation"]) == (1920, 1080, 1)
    assert preview_of(library, p, "with-gps.mp4").size == (1600, 900)

    # isom-avc1.mp4: GPSCoordinates "0 0 0" means no position; CreateDate is all zeros.
    p = photo(library, f"{PP_VIDEO}/isom-avc1.mp4")
    assert (p["lat"], p["lng"], p["altitude"]) == (None, None, None)
    assert p["taken_at_source"] == "FileModifyDate"
    assert p["taken_at"] == utc_mtime(library.root / f"{PP_VIDEO}/isom-avc1.mp4")
    assert (p["codec"], p["duration"], p["width"], p["height"]) == ("avc1", close(1.024), 320, 180)

    # blue-go-video.mp4: a portrait clip stored upright, 270x480 (ImageWidth/Height).
    p = photo(library, f"{EXAMPLES}/blue-go-video.mp4")
    assert (p["width"], p["height"], p["orientation"]) == (270, 480, 1)
    assert p["duration"] == close(2.41066666666667)
    assert preview_of(library, p, "blue-go-video.mp4").size == (270, 480)

    # sample.3gp: MPEG-4 part 2 (CompressorID mp4v), 176x144, Duration 4.93333333333333.
    p = photo(library, f"{DREW}/3gp/sample.3gp")
    assert (p["codec"], p["width"], p["height"]) == ("mp4v", 176, 144)
    assert p["duration"] == close(4.93333333333333)
    assert p["taken_at"] == "2005-10-28T17:36:40Z"  # QuickTime:CreateDate
    assert file_of(p, "sample.3gp")["mime"] == "video/3gpp"

    # earth.avi: RIFF:VideoCodec H264, Composite:Duration 30.033033, 480x270.
    p = photo(library, f"{EXAMPLES}/earth.avi")
    assert (p["type"], file_of(p, "earth.avi")["mime"]) == ("video", "video/x-msvideo")
    assert (p["codec"], p["duration"]) == ("H264", close(30.033033))
    assert preview_of(library, p, "earth.avi").size == (480, 270)

    assert snapshot(library.root) == before


def test_xmp_sidecars_join_their_photo(library: Library, corpus: Path) -> None:
    names = [
        f"{EXAMPLES}/iphone_7.heic",
        f"{EXAMPLES}/iphone_7.xmp",
        f"{META}/iphone_7.xmp",  # the same name in another folder: not this photo's sidecar
        f"{META}/ladybug.xmp",  # a sidecar whose photo is not there
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), 0)
    assert errors(library) == {}

    [p] = library.photos()
    assert roles(p) == {"iphone_7.heic": "original", "iphone_7.xmp": "sidecar"}
    assert {f["path"] for f in p["files"]} == {
        str(library.root / f"{EXAMPLES}/iphone_7.heic"),
        str(library.root / f"{EXAMPLES}/iphone_7.xmp"),
    }
    assert file_of(p, "iphone_7.xmp")["mime"] == "application/rdf+xml"
    assert holding(library, f"{META}/iphone_7.xmp") == []
    assert holding(library, f"{META}/ladybug.xmp") == []

    # HEIC and sidecar agree: DateTimeOriginal 2018:09:10 12:16:13 (no offset tag, no GPS
    # clock), GPSLatitude 34.79745 N, GPSLongitude 134.764633333333 E (Himeji, Japan:
    # Asia/Tokyo, +09:00), no altitude. The sidecar's place is the same as the file's.
    assert p["type"] == "image"
    assert p["taken_at_local"].startswith("2018-09-10T12:16:13")
    assert p["taken_at"] == "2018-09-10T03:16:13.023000Z"
    assert (p["timezone"], p["timezone_name"]) == ("+09:00", "Asia/Tokyo")
    assert (p["taken_at_source"], p["sources"]["place"]) == ("DateTimeOriginal", "sidecar")
    assert (p["lat"], p["lng"], p["altitude"]) == (close(34.79745), close(134.764633333333), None)
    assert (p["camera_make"], p["camera_model"]) == ("Apple", "iPhone 7")
    assert p["lens_model"] == "iPhone 7 back camera 3.99mm f/1.8"
    assert (p["iso"], p["exposure"], p["f_number"]) == (20, "1/4000", close(1.8))
    assert (p["focal_length"], p["focal_length_35mm"]) == (close(3.99), close(74))
    # The HEIC has no irot box, only EXIF:Orientation 6 on its 4032x3024 pixels (written by
    # ProCam): shown 3024x4032, and the preview must be turned too.
    assert (p["orientation"], p["width"], p["height"]) == (6, 3024, 4032)
    assert preview_of(library, p, "iphone_7.heic").size == (1200, 1600)

    assert snapshot(library.root) == before


def test_a_sidecar_date_does_not_blur_the_photo_date(library: Library, corpus: Path) -> None:
    copy_in(corpus, library.root, f"{EXAMPLES}/iphone_7.heic", f"{EXAMPLES}/iphone_7.xmp")
    library.index()
    [p] = library.photos()
    assert roles(p) == {"iphone_7.heic": "original", "iphone_7.xmp": "sidecar"}
    # HEIC: Composite:SubSecDateTimeOriginal 2018:09:10 12:16:13.023; iphone_7.xmp:
    # XMP:DateTimeOriginal 2018:09:10 12:16:13 (the same second, no fraction, no zone).
    assert p["taken_at_local"] == "2018-09-10T12:16:13.023000"


def _truncated(source: Path, target: Path, keep: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes()[:keep])


def test_broken_files_get_error_rows_and_the_run_goes_on(library: Library, corpus: Path) -> None:
    good = [f"{EXAMPLES}/fern_green.jpg", f"{EXIFPY}/jpg/invalid/image00971.jpg"]
    copy_in(corpus, library.root, *good)
    broken = library.root / "broken"
    # Real files cut short: the JPEG keeps its EXIF but loses half its picture; the HEIC keeps
    # 300,000 of 886,825 bytes, ending inside its mdat box (most grid tiles gone); the MP4
    # keeps 60,000 of 242,752 bytes.
    _truncated(corpus / f"{EXAMPLES}/elephants.jpg", broken / "elephants-cut.jpg", 40_000)
    _truncated(corpus / f"{EXAMPLES}/iphone_15_pro.heic", broken / "iphone-cut.heic", 300_000)
    _truncated(corpus / f"{DREW}/mp4/with-gps.mp4", broken / "with-gps-cut.mp4", 60_000)
    # A JPEG whose last two thirds were overwritten with zeros.
    data = bytearray((corpus / f"{EXAMPLES}/cat_brown.jpg").read_bytes())
    data[len(data) // 3 :] = bytes(len(data) - len(data) // 3)
    (broken / "cat-zeroed.jpg").write_bytes(bytes(data))
    (broken / "empty.jpg").write_bytes(b"")
    shutil.copyfile(corpus / "README.md", broken / "readme.jpg")  # text named .jpg
    before = snapshot(library.root)

    summary = library.index()
    assert (summary.new, summary.failed) == (8, 6)
    assert errors(library) == {
        "broken/elephants-cut.jpg": ["renditions"],
        "broken/iphone-cut.heic": ["renditions"],
        "broken/with-gps-cut.mp4": ["renditions"],
        "broken/cat-zeroed.jpg": ["renditions"],
        "broken/empty.jpg": ["identify"],
        "broken/readme.jpg": ["identify"],
    }
    assert "truncated" in error_message(library, "broken/elephants-cut.jpg")
    assert "truncated" in error_message(library, "broken/iphone-cut.heic")
    assert "empty" in error_message(library, "broken/empty.jpg")

    # What the tags still say is kept: both survive in the files' first bytes.
    p = photo(library, "broken/elephants-cut.jpg")
    assert p["taken_at"] == "2013-11-26T13:53:55Z"  # DateTimeOriginal, GPS clock: +02:00
    assert p["lat"] == close(-33.45347)
    assert p["thumb_hash"] is None
    p = photo(library, "broken/iphone-cut.heic")
    assert p["taken_at"] == "2023-10-31T10:44:43.432000Z"
    assert p["thumb_hash"] is None
    assert not has_renditions(library, p["files"][0]["hash"])
    assert photo(library, "broken/with-gps-cut.mp4")["type"] == "video"
    assert photo(library, "broken/cat-zeroed.jpg")["thumb_hash"] is None
    # Files that are no photo at all belong to none.
    assert holding(library, "broken/empty.jpg") == []
    assert holding(library, "broken/readme.jpg") == []

    # The good files around them were indexed as usual. image00971.jpg sits in exif-py's
    # invalid/ folder, but exiftool validates it: no EXIF, only XMP (CreateDate 2010:04:13
    # 09:37:22+02:00), 636x227 (File:ImageWidth/Height).
    fern = photo(library, f"{EXAMPLES}/fern_green.jpg")
    assert fern["taken_at"] == "2012-05-08T20:07:15Z"  # DateTimeOriginal
    assert preview_of(library, fern, "fern_green.jpg").size == (331, 331)
    p = photo(library, f"{EXIFPY}/jpg/invalid/image00971.jpg")
    assert (p["taken_at"], p["taken_at_source"], p["timezone"]) == (
        "2010-04-13T07:37:22Z",
        "XMP:CreateDate",
        "+02:00",
    )
    assert (p["width"], p["height"]) == (636, 227)
    assert preview_of(library, p, "image00971.jpg").size == (636, 227)

    assert snapshot(library.root) == before


def test_coordinates_keep_full_precision(library: Library, corpus: Path) -> None:
    copy_in(corpus, library.root, f"{EXAMPLES}/IMG_4120.JPG")
    library.index()
    [p] = library.photos()
    assert (p["lat"], p["lng"]) == (50.0477444444444, 8.57235555555556)  # Composite:GPS*
    assert p["altitude"] == 103.8469849  # Composite:GPSAltitude


def test_sources_of_dates_zones_places_and_cameras(library: Library, corpus: Path) -> None:
    names = [
        f"{EXAMPLES}/beach_sand.jpg",
        f"{EXAMPLES}/beach_sand.json",  # PhotoPrism's exiftool dump: a sidecar, not Takeout
        f"{EXAMPLES}/iphone_15_pro.heic",
        f"{EXAMPLES}/iphone_15_pro.json",
        f"{EXAMPLES}/elephants.jpg",
        f"{PP_VIDEO}/quicktime-hvc1.mov",
        f"{EXIFPY}/jpg/Reconyx_HC500_Hyperfire.jpg",
        f"{DREW}/heic/IMG_2927.HEIC",
    ]
    copy_in(corpus, library.root, *names)
    before = snapshot(library.root)
    summary = library.index()
    assert (summary.new, summary.failed) == (len(names), 0)
    assert len(library.photos()) == 6  # the JSON files are sidecars of their photos

    # beach_sand.jpg: DateTimeOriginal 2017:02:15 14:13:40 (SubSec 249), no offset; GPS 29.28 S 31.44 E
    # (KwaZulu-Natal): Africa/Johannesburg, +02:00. Its JSON is not Google's: it changes nothing.
    p = photo(library, f"{EXAMPLES}/beach_sand.jpg")
    assert roles(p) == {"beach_sand.jpg": "original", "beach_sand.json": "sidecar"}
    assert (p["taken_at"], p["timezone"], p["timezone_name"]) == (
        "2017-02-15T12:13:40.249000Z", "+02:00", "Africa/Johannesburg",
    )  # fmt: skip
    assert (p["software"], p["sources"]) == ("10.2.1", {
        "camera": "EXIF", "place": "EXIF", "software": "EXIF", "taken_at": "DateTimeOriginal",
        "zone": "position",
    })  # fmt: skip

    # iphone_15_pro.heic: OffsetTimeOriginal +01:00 agrees with Berlin's zone on 31 October
    # 2023 (summer time ended on the 29th), so the zone's name is kept; EXIF:Software 17.1.
    p = photo(library, f"{EXAMPLES}/iphone_15_pro.heic")
    assert (p["timezone"], p["timezone_name"], p["sources"]["zone"]) == (
        "+01:00",
        "Europe/Berlin",
        "offset",
    )
    assert p["software"] == "17.1"

    # elephants.jpg: no offset tag; the position (Eastern Cape) and the GPS clock agree on
    # +02:00; the position wins and names the zone. EXIF:Software over XMP:CreatorTool.
    p = photo(library, f"{EXAMPLES}/elephants.jpg")
    assert (p["timezone"], p["timezone_name"], p["sources"]["zone"]) == (
        "+02:00", "Africa/Johannesburg", "position",
    )  # fmt: skip
    assert p["software"] == "Adobe Photoshop CC 2019 (Macintosh)"

    # quicktime-hvc1.mov (an iPad): Keys Software 17.0 (a number to exiftool -n),
    # CameraFocalLength35mmEquivalent 30, CreationDate with +02:00 in Berlin in September.
    p = photo(library, f"{PP_VIDEO}/quicktime-hvc1.mov")
    assert (p["software"], p["focal_length_35mm"]) == ("17.0", close(30))
    assert (p["timezone"], p["timezone_name"]) == ("+02:00", "Europe/Berlin")
    assert p["sources"] == {
        "camera": "QuickTime", "place": "QuickTime", "software": "QuickTime",
        "taken_at": "QuickTime:CreationDate", "zone": "offset",
    }  # fmt: skip

    # Reconyx_HC500_Hyperfire.jpg (a trail camera): its only date is in its maker notes
    # (MakerNotes:DateTimeOriginal 2020:03:16 10:00:00).
    p = photo(library, f"{EXIFPY}/jpg/Reconyx_HC500_Hyperfire.jpg")
    assert (p["taken_at_local"], p["taken_at_source"]) == (
        "2020-03-16T10:00:00", "MakerNotes:DateTimeOriginal",
    )  # fmt: skip
    assert p["taken_at_guessed"] is False

    # IMG_2927.HEIC: OffsetTimeOriginal -04:00 and no position: the offset, no zone name.
    p = photo(library, f"{DREW}/heic/IMG_2927.HEIC")
    assert (p["timezone"], p["timezone_name"]) == ("-04:00", None)

    assert snapshot(library.root) == before
