"""The search engine on SQLite and MariaDB: every filter, OR and quotes, the hidden defaults,
keyset and offset paging, near: distances, the month scrubber, and bad input as UsageError."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Library
from conftest import add_photo as make_photo
from shoebox.catalog import search, text, visibility
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import (
    Account,
    Album,
    AlbumPhoto,
    Photo,
    PhotoText,
    PhotoWord,
    Root,
)
from shoebox.errors import UsageError

T0 = dt.datetime(2024, 7, 14, 12, 0, 0)


def add_photo(root: Root, rel_path: str, **values: Any) -> int:
    return make_photo(root.id, rel_path, values.pop("taken_at", T0), **values)


@pytest.fixture
def lib(db_url: str, tmp_path: Path) -> Iterator[dict[str, int]]:
    """A small library: name -> photo id."""
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/srv/photos", path_key="r" * 32)
        ids = {
            "canon": add_photo(
                root, "2024/summer/beach.jpg", camera_make="Canon", camera_model="EOS R5",
                lens_model="RF 50mm F1.8", title="At the beach", keywords=json.dumps(["sea"]),
                taken_at=dt.datetime(2024, 7, 14, 10, 0), lat=48.8566, lng=2.3522,
            ),
            "pixel": add_photo(
                root, "2024/summer/pixel.jpg", camera_make="Google", camera_model="Pixel 7",
                taken_at=dt.datetime(2024, 7, 20, 9, 0), favorite=True, lat=48.9, lng=2.4,
                description="Picnic by the river",
            ),
            "sony_video": add_photo(
                root, "2023/trip/clip.mp4", type="video", camera_make="Sony",
                camera_model="ILCE-7M3", taken_at=dt.datetime(2023, 3, 5, 18, 30),
                lat=35.0116, lng=135.7681,
            ),
            "live": add_photo(
                root, "2019/IMG_0001.HEIC", type="live", camera_make="Apple",
                camera_model="iPhone 11", taken_at=dt.datetime(2019, 12, 31, 23, 30),
                taken_at_local=dt.datetime(2020, 1, 1, 0, 30),
            ),
            "raw": add_photo(
                root, "2020/raw/DSC_1.NEF", type="raw", camera_make="Nikon",
                camera_model="D750", taken_at=dt.datetime(2020, 6, 1, 8, 0),
            ),
            "archived": add_photo(
                root, "2024/summer/old.jpg", archived=True, camera_make="Canon",
                taken_at=dt.datetime(2024, 7, 1, 8, 0),
            ),
            "missing": add_photo(
                root, "2022/gone.jpg", missing=True, taken_at=dt.datetime(2022, 2, 2, 2, 2),
            ),
            "summerish": add_photo(
                root, "2024/summertime/x.jpg", taken_at=dt.datetime(2024, 8, 1, 8, 0),
            ),
        }  # fmt: skip
        summer = Album.create(title="Summer 2024")
        other = Album.create(title="Kyoto")
        AlbumPhoto.create(album=summer, photo=ids["canon"])
        AlbumPhoto.create(album=summer, photo=ids["pixel"])
        AlbumPhoto.create(album=other, photo=ids["sony_video"])
        ids["album_summer"] = int(summer.id)
        yield ids


def found(query: str, **kwargs: Any) -> set[int]:
    q = search.parse(query, **kwargs)
    ids = {p["id"] for p in search.iterate(q)}
    assert search.count(q) == len(ids)
    return ids


def names(lib: dict[str, int], *wanted: str) -> set[int]:
    return {lib[name] for name in wanted}


VISIBLE = ("canon", "pixel", "sony_video", "live", "raw", "summerish")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", VISIBLE),
        ("beach", ("canon",)),
        ("BEACH", ("canon",)),
        ("river", ("pixel",)),
        ("sea", ("canon",)),
        ("clip", ("sony_video",)),
        ("beach|river", ("canon", "pixel")),
        ("beach river", ()),
        ("year:2024", ("canon", "pixel", "summerish")),
        ("year:2019|2020", ("live", "raw")),  # the live photo is 2020 locally
        ("YEAR:2023", ("sony_video",)),
        ("year:2020", ("live", "raw")),
        ("year:2019", ()),
        ("year:1|9999", ()),
        ("before:0001-01-01", ()),
        ("after:9999-12-31", ()),
        ("month:7", ("canon", "pixel")),
        ("day:14", ("canon",)),
        ("day:1", ("live", "raw", "summerish")),
        ("after:2024-07-14", ("canon", "pixel", "summerish")),
        ("before:2024-07-14", ("sony_video", "live", "raw")),
        ("after:2020-01-01 before:2020-01-02", ("live",)),
        ("camera:canon", ("canon",)),
        ("camera:canon|sony", ("canon", "sony_video")),
        ('camera:"pixel 7"', ("pixel",)),
        ("camera:'pixel 7'", ("pixel",)),
        ("lens:50mm", ("canon",)),
        ("type:video", ("sony_video",)),
        ("type:video|live", ("sony_video", "live")),
        ("type:photo", ("canon", "pixel", "summerish")),
        ("type:image", ("canon", "pixel", "summerish")),
        ("type:raw", ("raw",)),
        ("type:animated", ()),
        ("favorite:yes", ("pixel",)),
        ("favourite:true", ("pixel",)),
        ("favorite:0", ("canon", "sony_video", "live", "raw", "summerish")),
        ("archived:yes", ("archived",)),
        ("archived:yes|no", (*VISIBLE, "archived")),
        ("missing:yes", ("missing",)),
        ("missing:1 archived:no|yes", ("missing",)),
        ('album:"summer 2024"', ("canon", "pixel")),
        ("album:kyoto", ("sony_video",)),
        ("folder:2024/summer", ("canon", "pixel")),
        ("folder:/2024/summer/", ("canon", "pixel")),
        ("folder:2024", ("canon", "pixel", "summerish")),
        ("geo:yes", ("canon", "pixel", "sony_video")),
        ("geo:no", ("live", "raw", "summerish")),
        ("near:48.8566,2.3522,10", ("canon", "pixel")),
        ("near:48.8566,2.3522,1", ("canon",)),
        ("near:35,135.7,50", ("sony_video",)),
        ("near:48.8566,2.3522,10|35,135.7,50", ("canon", "pixel", "sony_video")),
        ("keyword:sea", ("canon",)),
        ("path:trip/", ("sony_video",)),
        ("camera:canon archived:yes|no", ("canon", "archived")),
        ("year:2024 camera:google favorite:yes near:48.9,2.4,1", ("pixel",)),
        # a word is found at the start of a word of the text (letters and digits), as typed
        ("bea", ("canon",)),
        ("each", ()),  # inside "beach": not at the start of a word
        ("picnic", ("pixel",)),  # in a description
        ("mp4", ("sony_video",)),  # in a file name
        ("img_0001", ("live",)),
        ("0001", ("live",)),  # "_" separates words
        ("IMG_0001.HEIC", ("live",)),
        ("img_0002", ()),
        ("ilce-7m3", ("sony_video",)),
        ("7m3", ("sony_video",)),
        ("summer/beach", ("canon",)),
        ("summer/pixel.jpg|clip", ("pixel", "sony_video")),
        ("don't", ()),
        ("100%", ()),
        ("_", ("live", "raw")),  # a literal underscore, not a LIKE wildcard
        ("x' OR '1'='1", ()),
        ("Robert'); DROP TABLE photo;--", ()),
    ],
)
def test_filters(lib: dict[str, int], query: str, expected: tuple[str, ...]) -> None:
    assert found(query) == names(lib, *expected)


def test_album_by_id(lib: dict[str, int]) -> None:
    assert found(f"album:{lib['album_summer']}") == names(lib, "canon", "pixel")


@pytest.mark.parametrize("text", ['album:"summer 2024"', "folder:2024/summer", "beach|river"])
def test_pages_of_files_albums_and_words(lib: dict[str, int], text: str) -> None:
    first = search.page(search.parse(text), limit=1)
    assert (first.total, [p["id"] for p in first.items]) == (2, [lib["pixel"]])
    assert first.next_cursor is not None
    rest = search.page(search.parse(text), cursor=first.next_cursor, limit=1)
    assert (rest.total, [p["id"] for p in rest.items], rest.next_cursor) == (
        2,
        [lib["canon"]],
        None,
    )


def test_everything_keeps_archived_and_missing_unless_asked(lib: dict[str, int]) -> None:
    """The command line lists every photo; the viewer's timeline hides archived and missing
    ones. An explicit archived: or missing: filter wins in both."""
    every = {v for k, v in lib.items() if k != "album_summer"}
    assert found("", everything=True) == every
    assert found("missing:no", everything=True) == every - names(lib, "missing")
    assert found("archived:no", everything=True) == every - names(lib, "archived")
    assert found("archived:yes", everything=True) == names(lib, "archived")
    q = search.parse("")
    assert (q.archived_given, q.missing_given, q.everything) == (False, False, False)
    assert search.parse("archived:yes").archived_given


def test_items_have_the_api_shape(lib: dict[str, int]) -> None:
    (item,) = search.page(search.parse("beach")).items
    assert item["id"] == lib["canon"]
    assert item["files"] == [
        {
            "path": "2024/summer/beach.jpg", "size": 123_456, "mime": "image/jpeg", "hash": "0" * 64,
            "role": "original", "status": "present",
        }
    ]  # fmt: skip
    assert item["taken_at"] == "2024-07-14T10:00:00Z"
    assert item["keywords"] == ["sea"]
    assert (item["owner"], item["visibility"]) == (None, "household")
    # only the command line sees the server's paths
    (item,) = search.page(search.parse("beach", viewer=visibility.OPERATOR)).items
    assert item["files"][0]["path"] == "/srv/photos/2024/summer/beach.jpg"


def test_near_is_great_circle_distance(db_url: str, tmp_path: Path) -> None:
    """Points just inside and just outside the circle, north, east and across the
    antimeridian: the box prefilter never decides alone."""
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/p", path_key="r" * 32)
        inside: set[int] = set()
        outside: set[int] = set()
        for lat0, lng0 in ((60.0, 10.0), (-33.9, 151.2), (10.0, 179.9), (0.0, -179.95)):
            for bearing in range(0, 360, 45):
                for km, into in ((99.0, inside), (101.0, outside)):
                    lat, lng = _destination(lat0, lng0, bearing, km)
                    into.add(add_photo(root, f"{lat0}/{bearing}/{km}", lat=lat, lng=lng))
            q = search.parse(f"near:{lat0},{lng0},100")
            ids = {p["id"] for p in search.iterate(q)}
            assert ids == inside, (lat0, lng0)
            assert search.count(q) == len(inside)
            Photo.update(lat=None, lng=None).execute()
            inside.clear()


def _destination(lat: float, lng: float, bearing: float, km: float) -> tuple[float, float]:
    d = km / search.EARTH_RADIUS_KM
    phi, lam, theta = math.radians(lat), math.radians(lng), math.radians(bearing)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(theta))
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(d) * math.cos(phi), math.cos(d) - math.sin(phi) * math.sin(phi2)
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540) % 360 - 180


def test_near_the_pole_and_everywhere(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/p", path_key="r" * 32)
        pole = add_photo(root, "a", lat=89.5, lng=-120.0)
        far = add_photo(root, "b", lat=-45.0, lng=60.0)
        assert found("near:90,0,60") == {pole}
        assert found("near:0,0,20100") == {pole, far}


LIMITS = (1, 2, 5, 7, 53, 100)


def test_keyset_paging_across_ties(db_url: str, tmp_path: Path) -> None:
    """Many photos share a time: every one is on exactly one page, in timeline order, and
    offset paging agrees."""
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/p", path_key="r" * 32)
        times = [T0, T0, T0, T0 - dt.timedelta(seconds=1), T0 + dt.timedelta(microseconds=1)]
        for i in range(53):
            add_photo(root, f"f/{i}", taken_at=times[i % 5] if i % 7 else T0, lens_model="L")
        expected = [p.id for p in Photo.select().order_by(Photo.taken_at.desc(), Photo.id.desc())]
        # the timeline walks an index (FORCE INDEX on MariaDB); lens: reads and sorts instead
        for q, limit in itertools.product((search.parse(""), search.parse("lens:l")), LIMITS):
            seen: list[int] = []
            cursor = None
            while True:
                got = search.page(q, cursor=cursor, limit=limit)
                assert got.total == 53
                seen += [p["id"] for p in got.items]
                cursor = got.next_cursor
                if cursor is None:
                    break
            assert seen == expected, limit
            by_offset = [
                p["id"]
                for offset in range(0, 53, limit)
                for p in search.page(q, offset=offset, limit=limit, total=False).items
            ]
            assert by_offset == expected
        for q in (search.parse("lens:l"), search.parse("folder:f"), search.parse("")):
            last = search.page(q, offset=50, limit=10)
            assert (last.total, len(last.items), last.next_cursor) == (53, 3, None)
            assert [p["id"] for p in last.items] == expected[50:]
        q = search.parse("")
        assert search.page(q, limit=search.MAX_LIMIT, total=False).total is None
        assert len(search.page(q, limit=search.MAX_LIMIT).items) == 53
        for limit in (0, search.MAX_LIMIT + 1, True, 1.5):
            with pytest.raises(UsageError, match="limit must be a whole number from 1 to 500"):
                search.page(q, limit=limit)  # type: ignore[arg-type]  # refused, not capped


def test_months_and_jump_to_a_month(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/p", path_key="r" * 32)
        for i in range(3):
            add_photo(root, f"a{i}", taken_at=dt.datetime(2024, 3, 10 + i))
        for i in range(2):
            add_photo(root, f"b{i}", taken_at=dt.datetime(2023, 12, 31, 12), type="video")
        add_photo(root, "c", taken_at=dt.datetime(2023, 11, 1), archived=True)
        add_photo(root, "d", taken_at=dt.datetime(2022, 5, 5))
        q = search.parse("")
        assert search.months(q) == [(2024, 3, 3), (2023, 12, 2), (2022, 5, 1)]
        assert search.months(search.parse("type:video")) == [(2023, 12, 2)]
        assert search.months(search.parse("archived:yes")) == [(2023, 11, 1)]
        cursor = search.cursor_for_month(q, 2023, 12)
        assert cursor is not None
        got = search.page(q, cursor=cursor, limit=2)
        assert [p["taken_at"][:10] for p in got.items] == ["2023-12-31", "2023-12-31"]
        rest = search.page(q, cursor=got.next_cursor, limit=5)
        assert [p["taken_at"][:10] for p in rest.items] == ["2022-05-05"]
        assert search.cursor_for_month(q, 2023, 11) is None  # archived only
        assert search.cursor_for_month(q, 1999, 1) is None


def test_the_command_line_lists_everything(lib: dict[str, int]) -> None:
    def listed(text: str) -> list[dict[str, Any]]:
        return list(search.iterate(search.parse(text, everything=True)))

    assert {p["id"] for p in listed("")} == {v for k, v in lib.items() if k != "album_summer"}
    assert {p["id"] for p in listed("missing:yes")} == {lib["missing"]}
    dates = [p["taken_at"] for p in listed("")]
    assert dates == sorted(dates, reverse=True)


HOSTILE = [
    "year:abc",
    "year:2024x",
    "year:0",
    "year:١٢",  # Arabic-Indic digits are digits to str.isdigit, not to us
    "month:13",
    "day:32",
    "near:1,2",
    "near:a,b,c",
    "near:91,0,5",
    "near:0,181,5",
    "near:0,0,0",
    "near:0,0,-5",
    "near:nan,0,5",
    "near:0,0,inf",
    "before:2024-13-01",
    "after:2024-02-30",
    "before:yesterday",
    "after:24-01-01",
    '"unbalanced',
    "camera:'pixel 7",
    "' OR 1=1 --",
    "'; DROP TABLE photo; --",
    "colour:red",
    "country:",
    "city:|paris",
    "label:|dog",
    "type:gif",
    "favorite:maybe",
    "archived:",
    "geo:perhaps",
    "missing:2",
    "type:video|",
    "|",
    '""',
    "folder:..",
    "folder:/",
    "folder:a/../b",
    "x" * 5000,
    "a\x00b",
    "year:2024\x00",
    "\x1b[31m",
    "beach\ud800",
    " ".join(["cat"] * 100),
    "type:" + "|".join(["video"] * 50),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_bad_queries_are_usage_errors(lib: dict[str, int], text: str) -> None:
    with pytest.raises(UsageError) as caught:
        search.parse(text)
    assert str(caught.value).startswith("query: ")
    assert Photo.select().count() == 8  # nothing was run, nothing was dropped


def test_bad_messages_name_the_term(lib: dict[str, int]) -> None:
    with pytest.raises(UsageError, match=r"'year:abc'.*number"):
        search.parse("beach year:abc")
    with pytest.raises(UsageError, match="unknown filter colour:"):
        search.parse("colour:red")
    with pytest.raises(UsageError, match="unbalanced quote"):
        search.parse('camera:"pixel 7')


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "2024-07-14T12:00:00",
        "2024-07-14T12:00:00_",
        "2024-07-14T12:00:00_0",
        "2024-07-14T12:00:00_-1",
        "2024-07-14T12:00:00_abc",
        "2024-13-14T12:00:00_5",
        "2024-07-14T25:00:00_5",
        "2024-07-14 12:00:00_5",
        "2024-07-14T12:00:00_5; DROP TABLE photo",
        "2024-07-14T12:00:00_" + "9" * 40,
        "\x00",
        "x" * 10_000,
    ],
)
def test_bad_cursors_are_usage_errors(lib: dict[str, int], cursor: str) -> None:
    with pytest.raises(UsageError, match="bad cursor"):
        search.page(search.parse(""), cursor=cursor)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -5}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 5, "cursor": "2024-07-14T12:00:00_5"}, "not both"),
    ],
)
def test_bad_paging_is_a_usage_error(
    lib: dict[str, int], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        search.page(search.parse(""), **kwargs)


def test_a_bad_query_on_the_command_line(library: Library) -> None:
    cfg = str(library.settings.source)
    out = subprocess.run(
        [sys.executable, "-m", "shoebox", "--config", cfg, "photos", "beach", "year:abc"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "shoebox: query: 'year:abc': wants a number from 1 to 9999, not 'abc'"
    )


def test_the_search_text_can_be_rebuilt_from_the_photos(lib: dict[str, int]) -> None:
    """What migration 3 does for a catalog made before the search text existed."""
    before = found("beach")
    assert before
    PhotoText.delete().execute()
    PhotoWord.delete().execute()
    assert found("beach") == set()
    assert text.rebuild() == Photo.select().count()
    assert found("beach") == before


def test_words_with_accents_any_case_and_kept_in_step(lib: dict[str, int]) -> None:
    """The words' index follows the photo's text: accents as written, any case ("noël" and
    "noel" both in one photo, one word to MariaDB's collation); a changed title drops its old
    words; a deleted photo takes its words along."""
    root = Root.get()
    noel = add_photo(root, "2024/noel/tree.jpg", title="Fête de Noël", description="Ünïcode")
    assert found("noël") == found("NOËL") == found("fête") == found("ünï") == {noel}
    photo = Photo.get_by_id(noel)
    photo.title = "Réveillon"
    photo.save()
    text.store(photo, ["2024/noel/tree.jpg"])
    assert (found("fête"), found("réveillon"), found("noel/tree")) == (set(), {noel}, {noel})
    Photo.delete_by_id(noel)
    assert PhotoWord.select().where(PhotoWord.photo == noel).count() == 0


def test_a_word_matching_many_photos_is_a_subquery(
    lib: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `_LISTED` matches, the ids are not read into a list but asked as a subquery."""
    monkeypatch.setattr(text, "_LISTED", 1)
    assert not isinstance(text.matching("2024"), list)
    assert found("2024") == names(lib, "canon", "pixel", "summerish")
    assert found("2024/summer") == names(lib, "canon", "pixel", "summerish")


def test_camera_and_lens_by_their_values(db_url: str, tmp_path: Path) -> None:
    """`camera:` and `lens:` find the values that hold the text first, then merge each value's
    photos in timeline order: the same photos in the same order as testing every row with
    LIKE, on every page (keyset and offset), with the same totals and months; LIKE's wildcards in the
    text are letters; a text no value holds finds nothing."""
    makes = ["Canon", "canon", None, "50%_x", "50ab_x", "Sony"]
    models = ["EOS R5", None, "X 50%_x", "Alpha 7", "50ab_x"]
    lenses = ["RF 50mm", "rf 24mm", None, "50%_x", "50a_x", "FE 24"]
    times = [T0, T0 - dt.timedelta(seconds=1), T0 + dt.timedelta(days=400), T0]
    with Catalog(db_url, tmp_path):
        root = Root.create(path="/p", path_key="r" * 32)
        account = Account.create(name="ana", folder="/p/ana")
        rows = []
        for i in range(90):
            values = {
                "camera_make": makes[i % 6], "camera_model": models[i % 5],
                "lens_model": lenses[i % 7 % 6], "archived": i % 11 == 0,
                "visibility": "private" if i % 13 == 0 else "household",
                "owner": account.id if i % 13 == 0 else None,
                "taken_at": times[i % 4] - dt.timedelta(days=i // 9),
            }  # fmt: skip
            photo_id = add_photo(root, f"f/{i}.jpg", **values)
            rows.append((photo_id, values))

        def expected(key: str, texts: list[str], viewer: visibility.Viewer) -> list[int]:
            def holds(value: str | None) -> bool:
                return value is not None and any(t.lower() in value.lower() for t in texts)

            hits = [
                (v["taken_at"], pid)
                for pid, v in rows
                if not v["archived"]
                and (v["visibility"] == "household" or viewer.account_id == v["owner"])
                and (
                    holds(v["camera_make"]) or holds(v["camera_model"])
                    if key == "camera"
                    else holds(v["lens_model"])
                )
            ]
            return [pid for _, pid in sorted(hits, reverse=True)]

        cases = [
            ("camera", ["canon"]), ("camera", ["50%_x"]), ("camera", ["canon", "sony"]),
            ("camera", ["x"]), ("camera", ["nothing like it"]), ("lens", ["rf"]),
            ("lens", ["50%_x"]), ("lens", ["_"]), ("lens", ["24", "50a"]), ("lens", ["zzz"]),
        ]  # fmt: skip
        viewers = (visibility.HOUSEHOLD, visibility.Viewer(int(account.id)))
        for (key, texts), viewer in itertools.product(cases, viewers):
            query = search.parse(f"{key}:" + "|".join(f'"{t}"' for t in texts), viewer=viewer)
            want = expected(key, texts, viewer)
            assert query.merges
            assert search.count(query) == len(want), (key, texts)
            assert [p["id"] for p in search.iterate(query)] == want
            by_month = collections.Counter(
                (v["taken_at"].year, v["taken_at"].month) for pid, v in rows if pid in want
            )
            assert search.months(query) == sorted(
                ((y, m, n) for (y, m), n in by_month.items()), reverse=True
            )
            for limit in (1, 7, 100):
                seen: list[int] = []
                cursor = None
                while True:
                    got = search.page(query, cursor=cursor, limit=limit)
                    assert got.total == len(want)
                    seen += [p["id"] for p in got.items]
                    cursor = got.next_cursor
                    if cursor is None:
                        break
                assert seen == want, (key, texts, limit)
                by_offset = [
                    p["id"]
                    for offset in range(0, max(len(want), 1), limit)
                    for p in search.page(query, offset=offset, limit=limit, total=False).items
                ]
                assert by_offset == want
        # with another filter, and two split filters (the second tested on each row)
        both = search.parse("camera:canon lens:rf")
        canon = set(expected("camera", ["canon"], visibility.HOUSEHOLD))
        want = [pid for pid in expected("lens", ["rf"], visibility.HOUSEHOLD) if pid in canon]
        assert want
        assert [p["id"] for p in search.page(both, limit=100).items] == want
        assert search.page(both).total == len(want)
        year = search.parse(f"camera:canon year:{T0.year}")
        assert [p["id"] for p in search.page(year).items] == [
            pid for pid in expected("camera", ["canon"], visibility.HOUSEHOLD)
            if Photo.get_by_id(pid).year == T0.year
        ]  # fmt: skip
