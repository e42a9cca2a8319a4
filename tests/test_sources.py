"""Every source of a photo's date, zone, place and camera, through a real index: files made
here with Pillow, exiftool and ffmpeg (QuickTime Keys and UserData atoms, XMP sidecars as
darktable, Lightroom and digiKam write them, Google Takeout folders with their JSON), on
SQLite and MariaDB. The order they are trusted in is the README's "Dates and places"."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Library
from shoebox.catalog.models import File, PhotoText
from shoebox.ingest import limits
from shoebox.sample import Shot, write_jpeg, write_tags, write_video
from test_viewer_media import log_in, viewer

PARIS = (48.8577, 2.2950, 35.0)
BERLIN = (52.5163, 13.3777, 34.0)
SYDNEY = (-33.8568, 151.2153)


def shot(
    when: dt.datetime | None, gps: tuple[float, float, float] | None = None, **kw: Any
) -> Shot:
    return Shot(when, kw.pop("offset", None), gps=gps, **kw)


# --- zones from positions ----------------------------------------------------------------


def test_zones_from_positions_and_the_nights_the_clocks_change(library: Library) -> None:
    write_jpeg(library.root / "paris.jpg", shot(dt.datetime(2023, 7, 14, 18, 32, 5), PARIS))
    # 02:30 on 31 March 2024 never happened in Berlin (02:00 became 03:00): a camera whose
    # clock had not moved yet shows it, in winter time. 02:30 on 27 October happened twice.
    write_jpeg(library.root / "spring.jpg", shot(dt.datetime(2024, 3, 31, 2, 30), BERLIN))
    write_jpeg(library.root / "spring-after.jpg", shot(dt.datetime(2024, 3, 31, 3, 30), BERLIN))
    write_jpeg(library.root / "autumn.jpg", shot(dt.datetime(2024, 10, 27, 2, 30), BERLIN))
    # Tornio (Finland) and Haparanda (Sweden), a bridge apart, an hour apart.
    noon = dt.datetime(2024, 7, 1, 12, 0, 0)
    write_jpeg(library.root / "tornio.jpg", shot(noon, (65.8480, 24.1440, 5.0)))
    write_jpeg(library.root / "haparanda.jpg", shot(noon, (65.8355, 24.1330, 5.0)))
    # An offset tag wins over the position (a camera set to home time abroad).
    write_jpeg(library.root / "home.jpg", shot(noon, PARIS, offset="-04:00"))
    # Only the GPS clock (UTC) dates this one; the position gives its wall clock.
    gps_only = write_jpeg(library.root / "gps-only.jpg", shot(None, PARIS))
    write_tags(gps_only, "-GPS:GPSDateStamp=2023:07:14", "-GPS:GPSTimeStamp=16:32:05")
    assert library.index().failed == 0

    expected = {
        "paris.jpg": ("2023-07-14T16:32:05Z", "2023-07-14T18:32:05", "+02:00", "Europe/Paris"),
        "spring.jpg": ("2024-03-31T01:30:00Z", "2024-03-31T02:30:00", "+01:00", "Europe/Berlin"),
        "spring-after.jpg": (
            "2024-03-31T01:30:00Z",
            "2024-03-31T03:30:00",
            "+02:00",
            "Europe/Berlin",
        ),
        "autumn.jpg": ("2024-10-27T00:30:00Z", "2024-10-27T02:30:00", "+02:00", "Europe/Berlin"),
        "tornio.jpg": ("2024-07-01T09:00:00Z", "2024-07-01T12:00:00", "+03:00", "Europe/Helsinki"),
        "haparanda.jpg": (
            "2024-07-01T10:00:00Z",
            "2024-07-01T12:00:00",
            "+02:00",
            "Europe/Stockholm",
        ),
        "home.jpg": ("2024-07-01T16:00:00Z", "2024-07-01T12:00:00", "-04:00", None),
        "gps-only.jpg": ("2023-07-14T16:32:05Z", "2023-07-14T18:32:05", "+02:00", "Europe/Paris"),
    }
    for name, values in expected.items():
        p = library.photo_of(name)
        assert (p["taken_at"], p["taken_at_local"], p["timezone"], p["timezone_name"]) == values, (
            name
        )
        assert p["taken_at_guessed"] is False
    assert library.photo_of("paris.jpg")["sources"]["zone"] == "position"
    assert library.photo_of("home.jpg")["sources"]["zone"] == "offset"
    p = library.photo_of("gps-only.jpg")
    assert (p["taken_at_source"], p["sources"]["place"]) == ("GPSDateTime", "EXIF")


# --- QuickTime and MP4 -------------------------------------------------------------------


def _no_ftyp(path: Path) -> None:
    """Make the movie's first atom `free` instead of `ftyp`, as older cameras' movies begin."""
    data = bytearray(path.read_bytes())
    assert data[4:8] == b"ftyp"
    data[4:8] = b"free"
    path.write_bytes(bytes(data))


def test_quicktime_atoms_phones_write_and_motion_jpeg(library: Library) -> None:
    apple = [
        "-metadata", "com.apple.quicktime.make=Apple",
        "-metadata", "com.apple.quicktime.model=iPhone 15 Pro",
        "-metadata", "com.apple.quicktime.software=17.1.2",
        "-metadata", "com.apple.quicktime.camera.lens_model=iPhone 15 Pro back camera 6.765mm f/1.78",
        "-metadata", "com.apple.quicktime.creationdate=2023-07-15T10:15:00+0200",
        "-metadata", "com.apple.quicktime.location.ISO6709=+48.8577+002.2950+035.000/",
        "-movflags", "use_metadata_tags",
    ]  # fmt: skip
    mjpeg = ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]
    write_video(library.root / "IMG_0001.MOV", seconds=2, extra=(*mjpeg, *apple))
    # A Motion JPEG movie that begins without an ftyp atom, as older compact cameras write.
    _no_ftyp(write_video(library.root / "MVI_0002.MOV", seconds=1, extra=tuple(mjpeg)))
    # An Android phone's MP4: ©mak, ©mod, ©xyz and ©day in UserData, the version in Keys.
    android = write_video(library.root / "VID_0003.mp4", seconds=1)
    write_tags(
        android, "-UserData:Make=samsung", "-UserData:Model=SM-G991B",
        "-UserData:GPSCoordinates#=-33.8568 151.2153",
        "-UserData:DateTimeOriginal=2023:07:15 10:15:00+10:00", "-Keys:AndroidVersion=13",
    )  # fmt: skip
    summary = library.index()
    assert (summary.new, summary.failed) == (3, 0)

    p = library.photo_of("IMG_0001.MOV")
    assert (p["type"], p["codec"]) == ("video", "jpeg")
    assert (p["camera_make"], p["camera_model"], p["software"]) == (
        "Apple",
        "iPhone 15 Pro",
        "17.1.2",
    )
    assert p["lens_model"] == "iPhone 15 Pro back camera 6.765mm f/1.78"
    assert (p["taken_at"], p["taken_at_local"]) == ("2023-07-15T08:15:00Z", "2023-07-15T10:15:00")
    assert (p["taken_at_source"], p["timezone"], p["timezone_name"]) == (
        "QuickTime:CreationDate", "+02:00", "Europe/Paris",
    )  # fmt: skip
    assert (p["lat"], p["lng"], p["altitude"]) == (48.8577, 2.295, 35.0)
    assert p["duration"] == pytest.approx(2.0, abs=0.1)
    assert p["sources"] == {
        "camera": "QuickTime", "place": "QuickTime", "software": "QuickTime",
        "taken_at": "QuickTime:CreationDate", "zone": "offset",
    }  # fmt: skip
    assert p["thumb_hash"] is not None  # its poster frame was made

    p = library.photo_of("MVI_0002.MOV")
    assert (p["type"], p["codec"], p["width"], p["height"]) == ("video", "jpeg", 320, 240)
    assert p["thumb_hash"] is not None

    p = library.photo_of("VID_0003.mp4")
    assert (p["camera_make"], p["camera_model"], p["software"]) == (
        "samsung",
        "SM-G991B",
        "Android 13",
    )
    assert (p["lat"], p["lng"]) == SYDNEY
    assert (p["taken_at"], p["taken_at_source"]) == (
        "2023-07-15T00:15:00Z",
        "QuickTime:DateTimeOriginal",
    )
    assert (p["timezone"], p["timezone_name"]) == ("+10:00", "Australia/Sydney")


# --- names, and the guess ----------------------------------------------------------------


def test_dates_in_names_and_a_guessed_date(library: Library) -> None:
    names = {
        "IMG_20230715_101500.jpg": "2023-07-15T10:15:00",
        "PXL_20230715_101500123.jpg": "2023-07-15T10:15:00",
        "Screenshot_2023-07-15-10-15-00.png": "2023-07-15T10:15:00",
        "WhatsApp Image 2023-07-15 at 10.15.00.jpeg": "2023-07-15T10:15:00",
        "IMG-20230715-WA0003.jpg": "2023-07-15T00:00:00",
    }
    for seed, name in enumerate([*names, "undated.jpg"]):
        write_jpeg(library.root / name, shot(None), seed=seed)  # different pictures
    write_video(library.root / "20230715_101500.mp4", seconds=1)  # ffmpeg writes no date
    write_video(library.root / "VID-20230715-WA0003.mp4", seconds=2)
    names |= {
        "20230715_101500.mp4": "2023-07-15T10:15:00",
        "VID-20230715-WA0003.mp4": "2023-07-15T00:00:00",
    }
    assert library.index().failed == 0
    for name, local in names.items():
        p = library.photo_of(name)
        assert (p["taken_at_local"], p["taken_at_source"], p["taken_at_guessed"]) == (
            local, "FileName", False,
        ), name  # fmt: skip

    p = library.photo_of("undated.jpg")
    mtime = (library.root / "undated.jpg").stat().st_mtime
    assert (p["taken_at_source"], p["taken_at_guessed"]) == ("FileModifyDate", True)
    assert dt.datetime.fromisoformat(p["taken_at"][:-1]).replace(tzinfo=dt.UTC).timestamp() == (
        pytest.approx(mtime, abs=1e-3)
    )
    member = log_in(viewer(library))
    assert "a guess: the file's time" in member.get(f"/photo/{p['id']}").text
    dated = library.photo_of("IMG_20230715_101500.jpg")
    assert "a guess" not in member.get(f"/photo/{dated['id']}").text


# --- Google Takeout ----------------------------------------------------------------------


def takeout_json(
    path: Path, taken: int, lat: float = 0.0, lng: float = 0.0, text: str = ""
) -> None:
    """A JSON as Google Takeout writes it beside a photo."""
    stamp = {"timestamp": str(taken), "formatted": "whatever Google printed"}
    geo = {
        "latitude": lat,
        "longitude": lng,
        "altitude": 0.0,
        "latitudeSpan": 0.0,
        "longitudeSpan": 0.0,
    }
    path.write_text(
        json.dumps(
            {
                "title": path.name.split(".json")[0],
                "description": text,
                "imageViews": "3",
                "creationTime": {"timestamp": "1700000000", "formatted": "Nov 14, 2023"},
                "photoTakenTime": stamp,
                "geoData": geo,
                "geoDataExif": geo,
                "url": "https://photos.google.com/photo/AF1Qip",
                "people": [{"name": "Anna"}],
                "googlePhotosOrigin": {"mobileUpload": {"deviceType": "ANDROID_PHONE"}},
            }
        )
    )


JULY_15_0815_UTC = 1689408900  # 2023-07-15 08:15:00 UTC


def test_a_takeout_folder_as_it_is_unpacked(library: Library) -> None:
    folder = library.root / "Takeout/Google Photos/Photos from 2023"
    folder.mkdir(parents=True)
    (folder.parent / "Trip").mkdir()
    takeout_json(folder.parent / "Trip/metadata.json", 1700000000, text="an album")
    # No date or place in the file: the JSON gives them (new naming, 2024 on).
    write_jpeg(folder / "PHOTO_A.jpg", shot(None))
    takeout_json(
        folder / "PHOTO_A.jpg.supplemental-metadata.json", JULY_15_0815_UTC, *PARIS[:2], "Eiffel"
    )
    # Two photos of one name: image.jpg and image(1).jpg, with the number moved in the JSON.
    write_jpeg(folder / "image.jpg", shot(None), seed=1)
    takeout_json(folder / "image.jpg.json", JULY_15_0815_UTC + 60)
    write_jpeg(folder / "image(1).jpg", shot(None), seed=2)
    takeout_json(folder / "image.jpg(1).json", JULY_15_0815_UTC + 120)
    # A camera date and place in the file win over the JSON; its caption fills a gap.
    write_jpeg(
        folder / "DSC_0001.jpg", shot(dt.datetime(2023, 7, 14, 18, 32, 5), BERLIN, offset="+02:00")
    )
    takeout_json(folder / "DSC_0001.jpg.json", JULY_15_0815_UTC, *PARIS[:2], "From Google")
    summary = library.index()
    assert (summary.new, summary.failed) == (9, 0)

    assert len(library.photos()) == 4  # the JSON files are sidecars, never photos
    roles = {f.rel_path.rsplit("/", 1)[-1]: f.role for f in File.select()}
    assert {n for n, r in roles.items() if r == "sidecar"} == {
        "metadata.json", "PHOTO_A.jpg.supplemental-metadata.json", "image.jpg.json",
        "image.jpg(1).json", "DSC_0001.jpg.json",
    }  # fmt: skip
    assert File.get(File.rel_path.endswith("metadata.json")).photo_id is None

    p = library.photo_of("PHOTO_A.jpg")
    assert (p["taken_at"], p["taken_at_local"]) == ("2023-07-15T08:15:00Z", "2023-07-15T10:15:00")
    assert (p["taken_at_source"], p["timezone_name"]) == ("Takeout", "Europe/Paris")
    assert (p["lat"], p["lng"], p["description"]) == (PARIS[0], PARIS[1], "Eiffel")
    assert p["sources"] == {"camera": "EXIF", "description": "Takeout", "place": "Takeout",
                            "taken_at": "Takeout", "zone": "position"}  # fmt: skip
    assert library.photo_of("image.jpg")["taken_at"] == "2023-07-15T08:16:00Z"
    assert library.photo_of("image(1).jpg")["taken_at"] == "2023-07-15T08:17:00Z"
    p = library.photo_of("DSC_0001.jpg")
    assert (p["taken_at"], p["taken_at_source"]) == ("2023-07-14T16:32:05Z", "DateTimeOriginal")
    assert (p["lat"], p["description"]) == (pytest.approx(BERLIN[0], abs=1e-4), "From Google")
    assert (p["sources"]["place"], p["sources"]["description"]) == ("EXIF", "Takeout")


LONG = "Screenshot_2024-01-14-14-13-33-16_948cd9899890cbd5c2798760b2b95377"


@pytest.mark.parametrize("json_first", [True, False])
def test_a_takeout_json_whose_name_was_cut(library: Library, json_first: bool) -> None:
    """Takeout cuts a JSON's name to 46 characters (before ".json"), into the photo's own name
    when that is long; the photo finds it whichever of the two is indexed first."""
    folder = library.root / "Takeout/Google Photos/Photos from 2024"
    folder.mkdir(parents=True)
    cut = folder / f"{LONG[:46]}.json"
    other = folder / f"{LONG[:40]}_another.png"  # another long name in the folder
    write_jpeg(other.with_suffix(".jpg"), shot(None))
    if json_first:
        takeout_json(cut, JULY_15_0815_UTC)
        library.index()
        assert len(library.photos()) == 1
    write_jpeg(folder / f"{LONG}.jpg", shot(None), seed=3)
    library.index()
    if not json_first:
        takeout_json(cut, JULY_15_0815_UTC)
        library.index()
    p = library.photo_of(f"{LONG}.jpg")
    assert (p["taken_at"], p["taken_at_source"]) == ("2023-07-15T08:15:00Z", "Takeout")
    assert sorted(f["role"] for f in p["files"]) == ["original", "sidecar"]
    # The other long name is dated by its name (2024-01-14 14:13:33) and has no sidecar.
    p = library.photo_of(other.with_suffix(".jpg").name)
    assert (p["taken_at_source"], len(p["files"])) == ("FileName", 1)


# --- XMP sidecars ------------------------------------------------------------------------


def xmp(attributes: str, body: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    {attributes}>
   {body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def test_xmp_sidecars_from_darktable_lightroom_and_digikam_win(library: Library) -> None:
    taken = dt.datetime(2023, 7, 14, 18, 32, 5)
    for n in (1, 2, 3, 4):
        path = write_jpeg(library.root / f"DSC_000{n}.jpg", shot(taken, offset="+02:00"), seed=n)
        write_tags(path, "-XMP-dc:Subject=from the camera", "-XMP:Rating=1")
    # darktable: DSC_0001.jpg.xmp, its date moved an hour on (no offset: the camera's stays).
    (library.root / "DSC_0001.jpg.xmp").write_text(
        xmp('exif:DateTimeOriginal="2023:07:14 19:32:05" xmp:Rating="3" darktable:xmp_version="5"')
    )
    # Lightroom: DSC_0002.xmp, "Edit Capture Time" with its own offset; and a title.
    (library.root / "DSC_0002.xmp").write_text(
        xmp(
            'exif:DateTimeOriginal="2023-07-13T09:00:00.00-05:00" '
            'photoshop:DateCreated="2023-07-13T09:00:00.00-05:00" xmp:Rating="5"',
            '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">At the lake</rdf:li></rdf:Alt></dc:title>',
        )
    )
    # digiKam: tags (they replace the file's), a place, and the same date as the file.
    (library.root / "DSC_0003.jpg.xmp").write_text(
        xmp(
            'exif:DateTimeOriginal="2023-07-14T18:32:05" '
            'exif:GPSLatitude="48,51.462N" exif:GPSLongitude="2,17.7E"',
            "<digiKam:TagsList><rdf:Seq><rdf:li>Family/Anna</rdf:li></rdf:Seq></digiKam:TagsList>"
            "<dc:subject><rdf:Bag><rdf:li>Anna</rdf:li></rdf:Bag></dc:subject>",
        )
    )
    assert library.index().failed == 0
    assert len(library.photos()) == 4

    p = library.photo_of("DSC_0001.jpg")
    assert (p["taken_at"], p["taken_at_local"], p["timezone"]) == (
        "2023-07-14T17:32:05Z", "2023-07-14T19:32:05", "+02:00",
    )  # fmt: skip
    assert (p["taken_at_source"], p["rating"], p["keywords"]) == ("sidecar", 3, ["from the camera"])
    p = library.photo_of("DSC_0002.jpg")
    assert (p["taken_at"], p["timezone"], p["taken_at_source"]) == (
        "2023-07-13T14:00:00Z",
        "-05:00",
        "sidecar",
    )
    assert (p["title"], p["rating"], p["sources"]["title"]) == ("At the lake", 5, "sidecar")
    p = library.photo_of("DSC_0003.jpg")
    assert (p["taken_at"], p["taken_at_source"]) == ("2023-07-14T16:32:05Z", "DateTimeOriginal")
    assert p["keywords"] == ["Anna", "Family/Anna"]
    assert (p["lat"], p["lng"]) == (pytest.approx(48.8577), pytest.approx(2.295))
    assert (p["sources"]["place"], p["sources"]["keywords"], p["rating"]) == (
        "sidecar",
        "sidecar",
        1,
    )
    p = library.photo_of("DSC_0004.jpg")  # no sidecar
    assert (p["taken_at_source"], p["rating"], p["sources"]["rating"]) == (
        "DateTimeOriginal",
        1,
        "XMP",
    )

    # The sidecar is read again when it changes: the date follows it.
    (library.root / "DSC_0003.jpg.xmp").write_text(
        xmp('exif:DateTimeOriginal="2022-01-01T10:00:00"')
    )
    library.index()
    p = library.photo_of("DSC_0003.jpg")
    assert (p["taken_at_local"], p["taken_at_source"], p["keywords"]) == (
        "2022-01-01T10:00:00", "sidecar", ["from the camera"],
    )  # fmt: skip


# --- limits ------------------------------------------------------------------------------


def test_no_file_makes_a_row_a_backend_refuses(library: Library, tmp_path: Path) -> None:
    """A 1 MB title and description of four-byte characters, thousands of long keywords and a
    camera name longer than its column: cut where they are read, so the index stores them
    on MariaDB too (TEXT holds 64 KB there)."""
    title, description = tmp_path / "title.txt", tmp_path / "description.txt"
    title.write_text("📷" * 262_144)  # 1 MiB
    description.write_text("写真" * 180_000)
    path = write_jpeg(
        library.root / "huge.jpg", shot(dt.datetime(2023, 1, 1, 12, 0), make="M" * 300)
    )
    keywords = [f"-XMP-dc:Subject={i:04d} {'k' * 200}" for i in range(2000)]
    write_tags(path, f"-XMP-dc:Title<={title}", f"-XMP-dc:Description<={description}", *keywords)
    summary = library.index()
    assert (summary.new, summary.failed) == (1, 0)
    p = library.photo_of("huge.jpg")
    assert len(p["title"]) == len(p["description"]) == limits.TITLE
    assert p["title"].startswith("📷📷") and p["title"].endswith("…")
    assert len(p["keywords"]) == limits.KEYWORDS and p["keywords"][0] == "0000 " + "k" * 95
    assert p["camera_make"] == "M" * limits.CAMERA
    text = PhotoText.get().text
    assert "📷" in text and "0099 kkk" in text and len(text.encode()) > 65_535
