"""Dates, zones and names without a catalog: the order of date sources, the zone of a position
(summer time, borders, the nights the clocks change), dates in file names, the names Google
Takeout gives its JSON, and the limits on text read from files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from shoebox.ingest import dates, limits, scan, takeout, zones
from shoebox.ingest.dates import Clock
from shoebox.ingest.metadata import normalise

MTIME = int(dt.datetime(2024, 12, 1, 9, 0, 0, tzinfo=dt.UTC).timestamp() * 1e9)
BERLIN = (52.5163, 13.3777)  # the Brandenburg Gate
PARIS = (48.8577, 2.2950)  # the Eiffel Tower


def taken(tags: dict[str, Any], name: str = "a.jpg") -> dict[str, Any]:
    meta = normalise({"File:MIMEType": "image/jpeg", **tags}, Path(name), MTIME)
    return {
        k: meta.get(k)
        for k in (
            "taken_at",
            "taken_at_local",
            "timezone",
            "timezone_name",
            "taken_at_source",
            "zone_source",
        )
    }


def gps(lat: float, lng: float) -> dict[str, float]:
    return {"Composite:GPSLatitude": lat, "Composite:GPSLongitude": lng}


# --- the order of sources ----------------------------------------------------------------


def test_every_source_in_its_order() -> None:
    """Each source wins over every one after it (one file holding all of them, the best
    removed one by one)."""
    tags = {
        "EXIF:DateTimeOriginal": "2020:01:01 10:00:00",
        "XMP:DateTimeOriginal": "2020:01:02 10:00:00",
        "MakerNotes:DateTimeOriginal": "2020:01:03 10:00:00",
        "QuickTime:CreationDate": "2020:01:04 10:00:00+02:00",
        "QuickTime:DateTimeOriginal": "2020:01:05 10:00:00",
        "QuickTime:ContentCreateDate": "2020:01:06 10:00:00",
        "EXIF:CreateDate": "2020:01:07 10:00:00",
        "XMP:CreateDate": "2020:01:08 10:00:00",
        "XMP:DateCreated": "2020:01:09 10:00:00",
        "Composite:DateTimeCreated": "2020:01:10 10:00:00",
        "RIFF:DateTimeOriginal": "2020:01:11 10:00:00",
        "PNG:CreationTime": "2020:01:12 10:00:00",
        "Composite:GPSDateTime": "2020:01:13 10:00:00Z",
        "QuickTime:CreateDate": "2020:01:14 10:00:00",
        "QuickTime:MediaCreateDate": "2020:01:15 10:00:00",
    }
    order = [s for s in dates.ORDER if s not in (dates.SIDECAR, dates.TAKEOUT)]
    name = "IMG_20200116_100000.jpg"
    for source, tag in zip(order, [*tags, "name", "mtime"], strict=True):
        got = taken(tags, name)
        assert got["taken_at_source"] == source, tag
        tags.pop(tag, None)
        if tag == "name":
            name = "a.jpg"
    assert got["taken_at"] == "2024-12-01T09:00:00"  # the file's time at last


def test_a_date_with_an_offset_keeps_it_whatever_the_position() -> None:
    got = taken(
        {
            "EXIF:DateTimeOriginal": "2023:07:14 18:32:05",
            "EXIF:OffsetTimeOriginal": "+05:00",
            **gps(*PARIS),
        }
    )
    assert got["taken_at"] == "2023-07-14T13:32:05"
    assert (got["timezone"], got["zone_source"]) == ("+05:00", "offset")
    assert got["timezone_name"] is None  # Paris is at +02:00 then: not this photo's zone


def test_the_position_gives_a_local_date_its_zone_and_name() -> None:
    got = taken({"EXIF:DateTimeOriginal": "2023:07:14 18:32:05", **gps(*PARIS)})
    assert got == {
        "taken_at": "2023-07-14T16:32:05",
        "taken_at_local": "2023-07-14T18:32:05",
        "timezone": "+02:00",
        "timezone_name": "Europe/Paris",
        "taken_at_source": "DateTimeOriginal",
        "zone_source": "position",
    }
    winter = taken({"EXIF:DateTimeOriginal": "2023:01:14 18:32:05", **gps(*PARIS)})
    assert (winter["taken_at"], winter["timezone"]) == ("2023-01-14T17:32:05", "+01:00")


def test_a_utc_date_gets_its_wall_clock_from_the_position() -> None:
    got = taken({"Composite:GPSDateTime": "2023:07:14 16:32:05Z", **gps(*PARIS)})
    assert (got["taken_at"], got["taken_at_local"]) == (
        "2023-07-14T16:32:05",
        "2023-07-14T18:32:05",
    )
    assert (got["taken_at_source"], got["timezone_name"]) == ("GPSDateTime", "Europe/Paris")


def test_the_gps_clock_gives_a_zone_only_near_a_quarter_hour() -> None:
    fresh = taken(
        {
            "EXIF:DateTimeOriginal": "2023:07:14 18:32:05",
            "Composite:GPSDateTime": "2023:07:14 16:29:40Z",
        }
    )
    assert (fresh["timezone"], fresh["zone_source"]) == ("+02:00", "GPSDateTime")
    stale = taken(
        {
            "EXIF:DateTimeOriginal": "2023:07:14 18:32:05",
            "Composite:GPSDateTime": "2023:07:14 15:53:00Z",
        }
    )
    assert (stale["timezone"], stale["taken_at"]) == (None, "2023-07-14T18:32:05")


def test_a_dated_name_gives_a_utc_date_its_zone() -> None:
    got = taken({"QuickTime:CreateDate": "2023:07:15 08:15:02"}, "VID_20230715_101500.mp4")
    assert (got["taken_at_local"], got["timezone"]) == ("2023-07-15T10:15:02", "+02:00")
    assert got["zone_source"] == "FileName"


def test_a_sidecar_date_is_an_edit_only_when_it_differs() -> None:
    photo = [
        Clock(
            "DateTimeOriginal", dt.datetime(2023, 7, 14, 18, 32, 5, 230000), dt.timedelta(hours=2)
        )
    ]
    settled = dates.settle(photo, None, None)
    same = [Clock("XMP:DateTimeOriginal", dt.datetime(2023, 7, 14, 18, 32, 5))]
    assert dates.edited(same, photo[0], settled) is None
    moved = [Clock("XMP:DateTimeOriginal", dt.datetime(2023, 7, 14, 19, 32, 5))]
    edit = dates.edited(moved, photo[0], settled)
    assert edit == Clock("sidecar", dt.datetime(2023, 7, 14, 19, 32, 5), dt.timedelta(hours=2))
    again = dates.settle([edit, *photo], None, None)
    assert (again["taken_at"], again["taken_at_source"]) == ("2023-07-14T17:32:05", "sidecar")


# --- zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "offset", "instant"),
    [
        # Berlin, 31 March 2024: at 02:00 the clocks jumped to 03:00.
        ("2024-03-31T01:30:00", "+01:00", "2024-03-31T00:30:00"),
        ("2024-03-31T02:30:00", "+01:00", "2024-03-31T01:30:00"),  # never shown: a clock not moved
        ("2024-03-31T03:30:00", "+02:00", "2024-03-31T01:30:00"),
        # 27 October 2024: at 03:00 the clocks went back to 02:00; 02:30 happened twice.
        ("2024-10-27T01:30:00", "+02:00", "2024-10-26T23:30:00"),
        ("2024-10-27T02:30:00", "+02:00", "2024-10-27T00:30:00"),  # the first 02:30
        ("2024-10-27T03:30:00", "+01:00", "2024-10-27T02:30:00"),
    ],
)
def test_the_nights_the_clocks_change(local: str, offset: str, instant: str) -> None:
    stamp = local.replace("-", ":", 2).replace("T", " ")
    got = taken({"EXIF:DateTimeOriginal": stamp, **gps(*BERLIN)})
    assert (got["taken_at_local"], got["timezone"], got["taken_at"]) == (local, offset, instant)
    assert got["timezone_name"] == "Europe/Berlin"


def test_instants_across_the_spring_night_get_the_offset_then_in_force() -> None:
    for utc, local in (("00:59:00", "01:59:00"), ("01:00:00", "03:00:00")):
        got = taken({"Composite:GPSDateTime": f"2024:03:31 {utc}Z", **gps(*BERLIN)})
        assert got["taken_at_local"] == f"2024-03-31T{local}"


@pytest.mark.parametrize(
    ("place", "lat", "lng", "name", "noon_utc"),
    [
        # Tornio (Finland) and Haparanda (Sweden) face each other across the Torne, an hour apart.
        ("Tornio", 65.8480, 24.1440, "Europe/Helsinki", "09:00"),
        ("Haparanda", 65.8355, 24.1330, "Europe/Stockholm", "10:00"),
        # Elvas (Portugal) and Badajoz (Spain), 10 km apart across the Guadiana.
        ("Elvas", 38.8810, -7.1630, "Europe/Lisbon", "11:00"),
        ("Badajoz", 38.8790, -6.9700, "Europe/Madrid", "10:00"),
        # Lord Howe Island is at +10:30 in July (+11:00 in summer); the Chatham Islands at +12:45.
        ("Lord Howe", -31.5520, 159.0830, "Australia/Lord_Howe", "01:30"),
        ("Chatham", -43.9560, -176.5590, "Pacific/Chatham", "23:15"),
        # Out at sea, in the middle of the Atlantic: a nautical zone.
        ("Atlantic", 30.0, -40.0, "Etc/GMT+3", "15:00"),
    ],
)
def test_photos_near_zone_borders(
    place: str, lat: float, lng: float, name: str, noon_utc: str
) -> None:
    got = taken({"EXIF:DateTimeOriginal": "2024:07:01 12:00:00", **gps(lat, lng)})
    assert got["timezone_name"] == name, place
    assert got["taken_at"][11:16] == noon_utc, place


def test_an_unknown_zone_name_gives_no_offset() -> None:
    assert zones.offset_of_local("Mars/Olympus_Mons", dt.datetime(2024, 1, 1)) is None


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("IMG_20230715_101500.jpg", "2023-07-15T10:15:00"),
        ("PXL_20230715_101500123.jpg", "2023-07-15T10:15:00"),
        ("PXL_20230715_101500123.PORTRAIT.jpg", "2023-07-15T10:15:00"),
        ("20230715_101500.mp4", "2023-07-15T10:15:00"),
        ("Screenshot_2023-07-15-10-15-00.png", "2023-07-15T10:15:00"),
        ("Screenshot_20230715-101500_Chrome.jpg", "2023-07-15T10:15:00"),
        ("WhatsApp Image 2023-07-15 at 10.15.00.jpeg", "2023-07-15T10:15:00"),
        ("WhatsApp Image 2023-07-15 at 10.15.00 PM.jpeg", "2023-07-15T22:15:00"),
        ("WhatsApp Image 2023-07-15 at 12.05.00 AM (1).jpeg", "2023-07-15T00:05:00"),
        ("VID-20230715-WA0003.mp4", "2023-07-15T00:00:00"),
        ("IMG-20230715-WA0003.jpg", "2023-07-15T00:00:00"),
        ("signal-2023-07-15-101500.jpg", "2023-07-15T10:15:00"),
        ("telegram_2020-01-30_09-57-18.jpg", "2020-01-30T09:57:18"),
        ("Screenshot 2021-05-06 at 10.11.12.png", "2021-05-06T10:11:12"),
    ],
)
def test_dates_in_file_names(name: str, local: str) -> None:
    clock = dates.from_name(name)
    assert clock is not None and (clock.at.isoformat(), clock.utc) == (local, False)


@pytest.mark.parametrize(
    "name",
    [
        "DSC_0001.JPG",
        "IMG_1234.HEIC",
        "FB_IMG_1689415500123.jpg",
        "20231345_101500.jpg",
        "IMG_20990101_000000.jpg",
    ],
)
def test_names_without_a_date(name: str) -> None:
    assert dates.from_name(name) is None


@pytest.mark.parametrize(
    ("json_name", "photo_name"),
    [
        ("IMG_1234.jpg.json", "IMG_1234.jpg"),
        ("IMG_1234.JPG.supplemental-metadata.json", "IMG_1234.JPG"),
        ("PXL_20230715_101500123.jpg.supplemental-metada.json", "PXL_20230715_101500123.jpg"),
        (
            "Screenshot_20230715-101500_Chrome.jpg.suppleme.json",
            "Screenshot_20230715-101500_Chrome.jpg",
        ),
        (
            "WhatsApp Image 2023-07-15 at 10.15.00 PM.jpeg..json",
            "WhatsApp Image 2023-07-15 at 10.15.00 PM.jpeg",
        ),
        (
            "WhatsApp Image 2023-07-15 at 10.15.00 PM (1).j.json",
            "WhatsApp Image 2023-07-15 at 10.15.00 PM (1).jpeg",
        ),
        ("image.jpg(1).json", "image(1).jpg"),
        ("image.jpg.supplemental-metadata(2).json", "image(2).jpg"),
        ("20030616.json", "20030616.jpg"),
        (
            "Screenshot_2024-01-14-14-13-33-16_948cd9899890.json",
            "Screenshot_2024-01-14-14-13-33-16_948cd9899890cbd5c2798760b2b95377.jpg",
        ),
        (
            "original_d3c4a3f1-8a5b-4c4e-9d2e-7b1a2f3c4d5e_.json",
            "original_d3c4a3f1-8a5b-4c4e-9d2e-7b1a2f3c4d5e_PXL_20230715_101500123.jpg",
        ),
    ],
)
def test_takeout_json_names_find_their_photo(json_name: str, photo_name: str) -> None:
    json_key = scan.stem_key(f"Photos from 2023/{json_name}".encode())
    photo = f"Photos from 2023/{photo_name}".encode()
    assert json_key in (scan.stem_key(photo), scan.cut_stem_key(photo))


@pytest.mark.parametrize("length", range(20, 70))
def test_every_cut_of_a_long_name_finds_its_photo(length: int) -> None:
    """Takeout cuts the JSON's name to 46 characters before ".json", both the old name
    (photo + ".json") and the new one (photo + ".supplemental-metadata.json")."""
    photo = "x" * length + ".jpeg"
    for full in (photo, photo + ".supplemental-metadata"):
        json_key = scan.stem_key(f"a/{full[: takeout.NAME_LIMIT]}.json".encode())
        keys = (scan.stem_key(f"a/{photo}".encode()), scan.cut_stem_key(f"a/{photo}".encode()))
        assert json_key in keys, (length, full[: takeout.NAME_LIMIT])


def test_a_duplicate_json_is_not_the_first_photo_s() -> None:
    assert scan.stem_key(b"a/image.jpg(1).json") != scan.stem_key(b"a/image.jpg")


def test_takeout_fields() -> None:
    tags = {
        "JSON:Title": "IMG_1.jpg",  # the file's name, not a title
        "JSON:Description": "Grandma's 80th",
        "JSON:PhotoTakenTimeTimestamp": 1689408900,
        "JSON:CreationTimeTimestamp": 1700000000,
        "JSON:GeoDataLatitude": 0.0,
        "JSON:GeoDataLongitude": 0.0,
        "JSON:GeoDataExifLatitude": 48.8577,
        "JSON:GeoDataExifLongitude": 2.295,
        "JSON:GeoDataExifAltitude": 35.0,
    }
    meta = normalise({"File:MIMEType": "application/json", **tags}, Path("IMG_1.jpg.json"), MTIME)
    assert meta["takeout"] and meta["title"] is None
    assert (meta["lat"], meta["lng"], meta["altitude"]) == (48.8577, 2.295, 35.0)
    assert meta["description"] == "Grandma's 80th"
    assert meta["taken_at_source"] == "Takeout"
    # 1689408900 is 2023-07-15 08:15:00 UTC, 10:15 in Paris
    assert (meta["taken_at"], meta["taken_at_local"]) == (
        "2023-07-15T08:15:00",
        "2023-07-15T10:15:00",
    )
    assert meta["sources"] == {
        "place": "Takeout",
        "description": "Takeout",
        "taken_at": "Takeout",
        "zone": "position",
    }
    # A JSON that is not Takeout's (an exiftool dump, as PhotoPrism keeps) says nothing.
    dump = normalise({"JSON:CompositeGPSLatitude": "34 deg N"}, Path("IMG_1.json"), MTIME)
    assert (dump["lat"], dump.get("taken_at"), dump["clocks"]) == (None, None, [])


# --- QuickTime ---------------------------------------------------------------------------


def test_quicktime_keys_in_another_language_and_what_phones_write() -> None:
    tags = {
        "File:MIMEType": "video/quicktime",
        "QuickTime:Make-und-US": "Apple",
        "QuickTime:Model-und-US": "iPhone 15 Pro",
        "QuickTime:Software": 17.1,
        "QuickTime:CameraLensModel-und-DE": "iPhone 15 Pro back camera 6.765mm f/1.78",
        "QuickTime:CameraFocalLength35mmEquivalent-und-DE": 24,
        "QuickTime:CreationDate": "2023:07:15 10:15:00+02:00",
        "QuickTime:CreateDate": "2023:07:15 08:15:01",
    }
    meta = normalise(tags, Path("IMG_0001.MOV"), MTIME)
    assert (meta["camera_make"], meta["camera_model"], meta["software"]) == (
        "Apple",
        "iPhone 15 Pro",
        "17.1",
    )
    assert meta["lens_model"] == "iPhone 15 Pro back camera 6.765mm f/1.78"
    assert meta["focal_length_35mm"] == 24
    assert (meta["taken_at"], meta["taken_at_source"]) == (
        "2023-07-15T08:15:00",
        "QuickTime:CreationDate",
    )
    android = normalise(
        {"QuickTime:AndroidVersion": 13, "QuickTime:AndroidModel": "Pixel 7"}, Path("v.mp4"), MTIME
    )
    assert (android["software"], android["camera_model"]) == ("Android 13", "Pixel 7")


# --- limits ------------------------------------------------------------------------------


def test_text_from_files_is_cut_to_the_limits() -> None:
    tags = {
        "XMP:Title": "Sunset " * 200_000,  # 1.4 MB
        "XMP:Description": "é" * 50_000,
        "XMP:Subject": [f"keyword {i} " + "x" * 300 for i in range(1000)],
        "EXIF:Make": "M" * 500,
        "EXIF:Model": "Model " * 100,
        "EXIF:Artist": "A" * 5000,
        "QuickTime:CompressorID": "c" * 100,
        "EXIF:ExposureTime": "inf",
        "EXIF:ISO": 2**40,
        "XMP:Rating": 99,
    }
    meta = normalise(tags, Path("a.jpg"), MTIME)
    assert len(meta["title"]) == limits.TITLE and meta["title"].endswith("…")
    assert len(meta["description"]) == limits.TITLE
    assert len(meta["keywords"]) == limits.KEYWORDS
    assert max(len(k) for k in meta["keywords"]) == limits.KEYWORD
    assert len(meta["camera_make"]) == len(meta["camera_model"]) == limits.CAMERA
    assert len(meta["artist"]) == limits.CREDIT
    assert (meta["exposure_time"], meta["iso"], meta["rating"]) == (None, None, None)
