"""Places: the offline geocoder's recipe (landmarks name their city, the open sea nothing), the
stage writing Place rows with its version kept by the Enricher, `country:` and `city:` search,
the clusters and places APIs, the world map file and the CSP for opt-in tiles, on SQLite and
MariaDB; and the stage over real geotagged photos of the shared corpus."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Library, ViewerClient
from shoebox.catalog import search
from shoebox.catalog.models import Enriched, Photo, Place
from shoebox.enrich.geocode import Found, Geocoder
from shoebox.enrich.places import PlacesStage
from shoebox.enrich.runner import Enricher
from shoebox_viewer.front import tile_origin

T0 = dt.datetime(2024, 5, 1, 12, 0, 0)
EIFFEL = (48.8584, 2.2945)
GOLDEN_GATE_PARK = (37.7694, -122.4862)
SHIBUYA = (35.6595, 139.7005)
MID_ATLANTIC = (30.0, -40.0)


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    return Geocoder(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def stage(geocoder: Geocoder, viewer_client: ViewerClient) -> Iterator[PlacesStage]:
    """The stage with the module's geocoder already loaded (loading costs a second or two)."""
    made = PlacesStage(viewer_client.library.settings.library.cache)
    made._load()  # makes the world map in this test's cache
    made._geocoder = geocoder
    yield made


def test_landmarks_name_their_city_not_a_suburb(geocoder: Geocoder) -> None:
    found = geocoder.lookup([EIFFEL, GOLDEN_GATE_PARK, SHIBUYA, (35.0116, 135.7681)])
    assert [(f.country_code, f.city) for f in found if f] == [
        ("FR", "Paris"),
        ("US", "San Francisco"),
        ("JP", "Tokyo"),
        ("JP", "Kyoto"),
    ]
    assert found[0] == Found("FR", "France", "Île-de-France", "Paris")


def test_far_from_every_place_is_the_country_or_nothing(geocoder: Geocoder) -> None:
    sea, iceland, null_island, broken, nan = geocoder.lookup(
        [MID_ATLANTIC, (65.0556, -16.6257), (0.0, 0.0), (213.64, 103.48), (float("nan"), 0.0)]
    )
    assert sea is None and null_island is None and broken is None and nan is None
    assert iceland == Found("IS", "Iceland", None, None)


def test_a_town_near_a_city_keeps_its_name(geocoder: Geocoder) -> None:
    (potsdam, tuebingen) = geocoder.lookup([(52.3989, 13.0657), (48.5216, 9.0576)])
    assert potsdam is not None and potsdam.city == "Potsdam"
    assert tuebingen is not None and tuebingen.city == "Tübingen"


def _places(vc: ViewerClient) -> dict[str, int]:
    at = {
        "eiffel": EIFFEL,
        "park": GOLDEN_GATE_PARK,
        "shibuya": SHIBUYA,
        "sea": MID_ATLANTIC,
        "hidden": (38.7139, -9.1394),  # Lisbon, archived
    }
    ids = {
        name: vc.add_photo(f"{name}.jpg", T0 - dt.timedelta(hours=i), lat=lat, lng=lng)
        for i, (name, (lat, lng)) in enumerate(at.items())
    }
    ids["nowhere"] = vc.add_photo("nowhere.jpg", T0 - dt.timedelta(days=1))
    Photo.update(archived=True).where(Photo.id == ids["hidden"]).execute()
    return ids


def _found(query: str) -> set[int]:
    return {p["id"] for p in search.iterate(search.parse(query))}


def test_the_stage_names_photos_and_search_finds_them(
    viewer_client: ViewerClient, stage: PlacesStage
) -> None:
    ids = _places(viewer_client)
    counts = Enricher([stage]).run_all()
    assert counts.done == {"places": 5} and counts.failed == 0
    rows = {p.photo_id: p for p in Place.select()}
    assert set(rows) == {ids["eiffel"], ids["park"], ids["shibuya"], ids["hidden"]}
    assert (rows[ids["eiffel"]].country_code, rows[ids["eiffel"]].city) == ("FR", "Paris")
    assert rows[ids["park"]].region == "California"

    assert _found("country:fr") == {ids["eiffel"]}
    assert _found("country:FR|jp") == {ids["eiffel"], ids["shibuya"]}
    assert _found("country:japan") == {ids["shibuya"]}
    assert _found('country:"united states"') == {ids["park"]}
    assert _found('city:"san francisco"') == {ids["park"]}
    assert _found("city:TOKYO") == {ids["shibuya"]}
    assert _found("city:paris country:us") == set()
    assert _found("city:lisbon") == set()  # archived: hidden unless asked for
    assert _found("city:lisbon archived:yes") == {ids["hidden"]}
    with pytest.raises(Exception, match="empty value"):
        search.parse("city:")

    # the photo page says where, and pins it
    page = viewer_client.app.get(f"/photo/{ids['eiffel']}")
    assert "Paris, Île-de-France, France" in page.text
    assert 'class="geo-map small"' in page.text and 'data-lat="48.85840"' in page.text


def test_versions_rerun_the_stage_and_rewrite_rows(
    viewer_client: ViewerClient, stage: PlacesStage
) -> None:
    ids = _places(viewer_client)
    enricher = Enricher([stage])
    enricher.run_all()
    assert enricher.waiting() == {"places": 0}
    assert Enriched.select().where(Enriched.stage == "places").count() == 6  # all marked done
    # the position changes (a re-index would mark it waiting); the next version reruns all
    Photo.update(lat=SHIBUYA[0], lng=SHIBUYA[1]).where(Photo.id == ids["eiffel"]).execute()
    Photo.update(lat=MID_ATLANTIC[0], lng=MID_ATLANTIC[1]).where(Photo.id == ids["park"]).execute()
    stage.version = 2
    assert enricher.waiting() == {"places": 6}
    enricher.run_all()
    assert Place.get(Place.photo == ids["eiffel"]).city == "Tokyo"
    assert Place.get_or_none(Place.photo == ids["park"]) is None  # at sea now: no row
    assert Place.select().count() == 3
    stage.close()
    assert stage._geocoder is None


def _json(vc: ViewerClient, path: str, status: int = 200) -> Any:
    answer = vc.app.get(path, status=status)
    assert answer.content_type == "application/json"
    return answer.json


def test_places_and_clusters_api(viewer_client: ViewerClient, stage: PlacesStage) -> None:
    ids = _places(viewer_client)
    Enricher([stage]).run_all()
    listing = _json(viewer_client, "/api/places")
    assert sorted((r["country_code"], r["city"], r["count"]) for r in listing) == [
        ("FR", "Paris", 1),
        ("JP", "Tokyo", 1),
        ("US", "San Francisco", 1),
    ]  # Lisbon is archived
    world = _json(viewer_client, "/api/places/clusters?zoom=0")
    # the whole world in cells of 22.5 degrees: the sea photo counts, the archived one not
    assert sum(c["count"] for c in world) == 4 and len(world) == 4
    merged = _json(viewer_client, "/api/places/clusters?zoom=0&south=0&north=60")
    assert {c["photo_id"] for c in merged} == {
        ids["eiffel"],
        ids["park"],
        ids["shibuya"],
        ids["sea"],
    }
    near = _json(viewer_client, "/api/places/clusters?zoom=12&south=48&north=49&west=2&east=3")
    assert [(c["count"], c["photo_id"]) for c in near] == [(1, ids["eiffel"])]
    # a box across the 180 degree meridian: Tokyo is west of it, San Francisco east
    across = _json(viewer_client, "/api/places/clusters?zoom=3&south=0&north=60&west=130&east=-100")
    assert {c["photo_id"] for c in across} == {ids["shibuya"], ids["park"]}
    # each cluster's near: search finds its photos
    for cluster in merged:
        found = _json(viewer_client, "/api/photos?q=near:" + cluster["near"])
        assert cluster["photo_id"] in {p["id"] for p in found["items"]}
    # two photos in one place are one cluster until zoomed in far
    viewer_client.add_photo("tower2.jpg", T0, lat=EIFFEL[0] + 0.01, lng=EIFFEL[1])
    paris = "&south=48&north=49.5&west=2&east=3"
    assert [c["count"] for c in _json(viewer_client, "/api/places/clusters?zoom=4" + paris)] == [2]
    assert len(_json(viewer_client, "/api/places/clusters?zoom=14" + paris)) == 2


@pytest.mark.parametrize(
    "query",
    [
        "",
        "zoom=abc",
        "zoom=99",
        "zoom=-1",
        "zoom=nan",
        "zoom=3&south=50&north=10",
        "zoom=3&west=inf",
        "zoom=3&east=200",
        "zoom=1e999",
    ],
)
def test_bad_cluster_requests_are_400(viewer_client: ViewerClient, query: str) -> None:
    answer = _json(viewer_client, "/api/places/clusters?" + query, status=400)
    assert answer["error"]


def test_the_places_page_lists_countries_and_cities(
    viewer_client: ViewerClient, stage: PlacesStage
) -> None:
    _places(viewer_client)
    Enricher([stage]).run_all()
    page = viewer_client.app.get("/places")
    assert 'class="geo-map"' in page.text
    assert "/search?q=country%3AFR" in page.text
    assert "city%3A%22San%20Francisco%22%20country%3AUS" in page.text
    assert ">Places</a>" in page.text  # in the nav
    nobody = viewer_client.client(None)
    nobody.get("/places", status=303)
    nobody.get("/api/places/clusters?zoom=1", status=401)


def test_the_world_map_is_served_with_caching(
    viewer_client: ViewerClient, stage: PlacesStage
) -> None:
    answer = viewer_client.app.get("/places/world.geojson")
    assert answer.content_type == "application/geo+json"
    assert "max-age=86400" in answer.headers["Cache-Control"]
    world = json.loads(answer.body)
    assert len(world["features"]) > 200
    codes = {f["properties"]["code"] for f in world["features"]}
    assert {"FR", "JP", "RU", "FJ", "US"} <= codes
    for feature in world["features"]:  # no ring streaks across the map at 180 degrees
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert all(
                    abs(a[0] - b[0]) <= 180 or abs(a[1]) == abs(b[1]) == 90  # Antarctica's foot
                    for a, b in itertools.pairwise(ring)
                )
    again = viewer_client.app.get(
        "/places/world.geojson",
        headers={"If-Modified-Since": answer.headers["Last-Modified"]},
        status=304,
    )
    assert not again.body


def test_the_viewer_makes_the_world_map_when_no_daemon_has(viewer_client: ViewerClient) -> None:
    cache = viewer_client.library.settings.library.cache
    shutil.rmtree(cache / "places", ignore_errors=True)
    answer = viewer_client.app.get("/places/world.geojson")
    assert answer.json["type"] == "FeatureCollection"


def test_tiles_are_opt_in_and_allowed_by_the_csp(viewer_client: ViewerClient) -> None:
    import webtest

    from shoebox_viewer.app import make_app

    assert (
        "tile.openstreetmap.org"
        not in viewer_client.app.get("/places").headers["Content-Security-Policy"]
    )
    settings = viewer_client.library.settings
    tiled = dataclasses.replace(
        settings,
        places=dataclasses.replace(
            settings.places, tile_url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        ),
    )
    app = webtest.TestApp(make_app(tiled))
    csp = app.get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in csp
    assert (
        tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    )
    assert tile_origin("javascript:alert(1)//{z}") == ""
    assert tile_origin("https://evil.example; script-src *") == ""


CORPUS_PLACES = {
    # file: (country code, city) from the GPS position in its EXIF (exiftool -n)
    "photoprism__photoprism/assets/examples/IMG_4120.JPG": ("DE", "Frankfurt am Main"),
    "photoprism__photoprism/assets/examples/cat_brown.jpg": ("DE", "Tübingen"),
    "photoprism__photoprism/internal/meta/testdata/orientation.jpg": ("FR", "Nice"),
    "drewnoakes__metadata-extractor-images/jpg/Apple iPhone 4.jpg": ("IT", "Rome"),
    "ianare__exif-py/tests/resources/jpg/gps/DSCN0010.jpg": ("IT", "Arezzo"),
    "photoprism__photoprism/internal/meta/testdata/Iceland-P3.jpg": ("IS", None),
}


@pytest.mark.corpus
def test_real_geotagged_photos(corpus: Path, library: Library, geocoder: Geocoder) -> None:
    for name in CORPUS_PLACES:
        target = library.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus / name, target)
    library.index()
    stage = PlacesStage(library.settings.library.cache)
    stage._geocoder = geocoder
    Enricher([stage]).run_all()
    for name, (code, city) in CORPUS_PLACES.items():
        photo = library.photo_of(name.rsplit("/", 1)[-1])
        place = Place.get(Place.photo == photo["id"])
        assert (place.country_code, place.city) == (code, city), name


def test_a_photo_given_a_new_position_is_placed_again(library: Library, geocoder: Geocoder) -> None:
    """Re-indexing a file whose GPS tags changed makes the photo wait for the places stage."""
    from shoebox.sample import Shot, write_jpeg, write_tags

    path = library.root / "trip.jpg"
    write_jpeg(path, Shot(taken=dt.datetime(2024, 5, 1, 10), gps=(48.8584, 2.2945, 35.0)))
    library.index()
    stage = PlacesStage(library.settings.library.cache)
    stage._geocoder = geocoder
    Enricher([stage]).run_all()
    assert [p.city for p in Place.select()] == ["Paris"]
    write_tags(path, "-GPSLatitude=38.7139", "-GPSLatitudeRef=N",
               "-GPSLongitude=9.1394", "-GPSLongitudeRef=W")  # fmt: skip
    library.index()
    assert Enricher([stage]).waiting() == {"places": 1}
    Enricher([stage]).run_all()
    assert [p.city for p in Place.select()] == ["Lisbon"]


def test_the_prepared_data_is_reused_and_a_broken_file_prepared_again(
    geocoder: Geocoder, tmp_path: Path
) -> None:
    """The shipped data is turned into arrays in the cache once; a later geocoder reads them
    (and answers the same), and a damaged file is prepared again rather than failing."""
    points = [EIFFEL, SHIBUYA, MID_ATLANTIC, (64.9, -18.5), (-75.0, 0.0)]
    first = Geocoder(tmp_path)
    expected = first.lookup(points)
    assert expected == geocoder.lookup(points)
    prepared = sorted((tmp_path / "places").glob("*.npz"))
    assert [p.name.split("-")[0] for p in prepared] == ["geonames", "outlines"]
    written = {p: p.stat().st_mtime_ns for p in prepared}
    assert Geocoder(tmp_path).lookup(points) == expected
    assert {p: p.stat().st_mtime_ns for p in prepared} == written  # read, not made again
    prepared[0].write_bytes(b"not an npz file")
    assert Geocoder(tmp_path).lookup(points) == expected
    assert prepared[0].stat().st_size > 1_000_000
