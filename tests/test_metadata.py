"""Normalising exiftool's tags: dates and zones, numbers, text, unknowns as None."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shoebox.catalog.photos import format_exposure
from shoebox.ingest.dates import parse_datetime
from shoebox.ingest.metadata import normalise, resolve_taken_at

MTIME = int(dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp() * 1e9)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023:10:31 11:44:43", (dt.datetime(2023, 10, 31, 11, 44, 43), None)),
        ("2023:10:31 11:44:43+01:00", (dt.datetime(2023, 10, 31, 11, 44, 43), dt.timedelta(hours=1))),
        ("2023:10:31 11:44:43.432-05:30", (dt.datetime(2023, 10, 31, 11, 44, 43, 432000), dt.timedelta(hours=-5, minutes=-30))),
        ("2023:10:31 10:44:43Z", (dt.datetime(2023, 10, 31, 10, 44, 43), dt.timedelta(0))),
        ("2019-01-01T10:00:00+02:00", (dt.datetime(2019, 1, 1, 10), dt.timedelta(hours=2))),
        ("0000:00:00 00:00:00", None),
        ("2023:02:30 10:00:00", None),
        ("1600:01:01 00:00:00", None),
        ("    :  :     :  :  ", None),
        (20231031, None),
    ],
)  # fmt: skip
def test_parse_datetime(value: object, expected: object) -> None:
    assert parse_datetime(value) == expected


def test_original_date_with_offset_wins() -> None:
    tags = {
        "EXIF:DateTimeOriginal": "2023:10:31 11:44:43",
        "EXIF:OffsetTimeOriginal": "+01:00",
        "EXIF:CreateDate": "2020:01:01 00:00:00",
        "QuickTime:CreateDate": "2021:01:01 00:00:00",
    }
    taken = resolve_taken_at(tags, "IMG_1.jpg", MTIME)
    assert {k: v for k, v in taken.items() if k != "clocks"} == {
        "taken_at": "2023-10-31T10:44:43",
        "taken_at_local": "2023-10-31T11:44:43",
        "timezone": "+01:00",
        "timezone_name": None,
        "taken_at_source": "DateTimeOriginal",
        "zone_source": "offset",
    }
    # Every date the file gives is kept, in the order of trust, for the photo to settle.
    assert [c[0] for c in taken["clocks"]] == [
        "DateTimeOriginal", "CreateDate", "QuickTime:CreateDate", "FileModifyDate",
    ]  # fmt: skip


def test_zone_is_derived_from_the_gps_clock_when_missing() -> None:
    tags = {
        "EXIF:DateTimeOriginal": "2023:07:14 18:32:05",
        "Composite:GPSDateTime": "2023:07:14 16:32:04Z",
    }
    taken = resolve_taken_at(tags, "x.jpg", MTIME)
    assert taken["timezone"] == "+02:00"
    assert taken["taken_at"] == "2023-07-14T16:32:05"
    assert (taken["zone_source"], taken["timezone_name"]) == ("GPSDateTime", None)


def test_quicktime_dates_are_utc() -> None:
    taken = resolve_taken_at({"QuickTime:CreateDate": "2023:09:22 16:34:05"}, "v.mov", MTIME)
    assert taken["taken_at"] == "2023-09-22T16:34:05"
    assert taken["timezone"] is None
    assert taken["taken_at_source"] == "QuickTime:CreateDate"


def test_keys_creation_date_keeps_its_zone() -> None:
    tags = {
        "QuickTime:CreateDate": "2023:09:22 16:34:05",
        "QuickTime:CreationDate": "2023:09:22 18:34:05+02:00",
    }
    taken = resolve_taken_at(tags, "v.mov", MTIME)
    assert (taken["taken_at"], taken["taken_at_local"], taken["timezone"]) == (
        "2023-09-22T16:34:05",
        "2023-09-22T18:34:05",
        "+02:00",
    )


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("IMG_20230101_123456.jpg", "2023-01-01T12:34:56"),
        ("telegram_2020-01-30_09-57-18.jpg", "2020-01-30T09:57:18"),
        ("Screenshot 2021-05-06 at 10.11.12.png", "2021-05-06T10:11:12"),
        ("20240512.jpg", "2024-05-12T00:00:00"),
    ],
)
def test_date_in_the_file_name(name: str, local: str) -> None:
    taken = resolve_taken_at({}, name, MTIME)
    assert (taken["taken_at_local"], taken["taken_at_source"]) == (local, "FileName")


def test_mtime_is_the_last_resort() -> None:
    taken = resolve_taken_at({"EXIF:DateTimeOriginal": "0000:00:00 00:00:00"}, "a.jpg", MTIME)
    assert taken["taken_at"] == "2020-01-02T03:04:05"
    assert taken["taken_at_source"] == "FileModifyDate"


def test_normalise_maps_fields_and_leaves_unknowns_none() -> None:
    tags = {
        "File:MIMEType": "image/jpeg",
        "EXIF:Make": "Apple",
        "EXIF:Model": "iPhone 15 Pro",
        "EXIF:Orientation": 6,
        "EXIF:ISO": 400,
        "EXIF:ExposureTime": 0.01666666667,
        "EXIF:FNumber": 2.2,
        "EXIF:FocalLength": 2.22,
        "EXIF:FocalLengthIn35mmFormat": 14,
        "Composite:ImageSize": "4032 3024",
        "Composite:GPSLatitude": 52.4596055555556,
        "Composite:GPSLongitude": 13.3218416666667,
        "Composite:GPSAltitude": 50.15664187,
        "EXIF:ImageDescription": "OLYMPUS DIGITAL CAMERA",
        "XMP:Subject": ["beach", "summer"],
        "IPTC:Keywords": "summer",
        "XMP:Rating": 0,
    }
    meta = normalise(tags, Path("IMG_1.jpg"), MTIME)
    assert meta["camera_make"] == "Apple"
    assert (meta["width"], meta["height"]) == (3024, 4032)  # turned by orientation 6
    assert meta["lat"] == pytest.approx(52.4596055555556)
    assert meta["altitude"] == pytest.approx(50.15664187)
    assert meta["iso"] == 400
    assert meta["focal_length_35mm"] == 14
    assert format_exposure(meta["exposure_time"]) == "1/60"
    assert meta["keywords"] == ["beach", "summer"]
    for unknown in ("description", "title", "rating", "lens_model", "duration", "codec", "artist"):
        assert meta[unknown] is None, unknown


def test_null_island_and_impossible_gps_are_dropped() -> None:
    for lat, lng in ((0.0, 0.0), (91.0, 10.0)):
        meta = normalise(
            {"Composite:GPSLatitude": lat, "Composite:GPSLongitude": lng}, Path("a.jpg"), MTIME
        )
        assert (meta["lat"], meta["lng"], meta["altitude"]) == (None, None, None)


def test_video_rotation_turns_the_displayed_size() -> None:
    tags = {
        "File:MIMEType": "video/quicktime",
        "Composite:ImageSize": "1280 720",
        "Composite:Rotation": 90,
        "QuickTime:Duration": 1.1666,
        "QuickTime:CompressorID": "hvc1",
        "QuickTime:VideoFrameRate": 29.97,
    }
    meta = normalise(tags, Path("v.mov"), MTIME)
    assert (meta["width"], meta["height"], meta["orientation"]) == (720, 1280, 6)
    assert (meta["codec"], meta["duration"]) == ("hvc1", 1.1666)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1 / 125, "1/125"), (0.5, "1/2"), (2.5, "2.5"), (1.0, "1"), (None, None), (0, None)],
)
def test_format_exposure(seconds: float | None, text: str | None) -> None:
    assert format_exposure(seconds) == text
