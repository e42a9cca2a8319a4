"""The places stage: names where every geotagged photo was taken (country, region, city) with
the offline geocoder (`shoebox.enrich.geocode`), one `Place` row per photo, and makes the
offline world map (`shoebox.worldmap`) the viewer serves.

The geocoder's data (about 60 MB) is prepared once into the cache folder
(`shoebox.enrich.placedata`), loads at the first photo with a position and is given back by
`close`. A photo with no place known (the open sea) has no row; a photo whose position
changed gets its row rewritten by the next version of this stage or by re-indexing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoebox import worldmap
from shoebox.catalog.models import Photo, Place
from shoebox.errors import ShoeboxError

if TYPE_CHECKING:
    from shoebox.enrich.geocode import Geocoder

log = logging.getLogger("shoebox.enrich.places")


class PlacesStage:
    """Country, region and city for photos with a latitude and longitude."""

    name = "places"
    version = 1

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self._geocoder: Geocoder | None = None

    def wants(self) -> Any:
        return Photo.lat.is_null(False) & Photo.lng.is_null(False)

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        geocoder = self._load()
        found = geocoder.lookup([(p.lat, p.lng) for p in photos])
        ids = [p.id for p in photos]
        rows = [
            {
                "photo": photo.id,
                "country_code": place.country_code,
                "country": place.country,
                "region": place.region,
                "city": place.city,
            }
            for photo, place in zip(photos, found, strict=True)
            if place is not None
        ]
        with Place._meta.database.atomic():
            Place.delete().where(Place.photo.in_(ids)).execute()
            if rows:
                Place.insert_many(rows).execute()
        return {}

    def close(self) -> None:
        self._geocoder = None

    def _load(self) -> Geocoder:
        if self._geocoder is None:
            from shoebox.enrich.geocode import Geocoder  # numpy and scipy: only now

            started = time.monotonic()
            self._geocoder = Geocoder(self.cache)
            log.info("places: GeoNames data loaded in %.1f s", time.monotonic() - started)
            try:  # the viewer's map, made here once, off its hot path
                worldmap.ensure(self.cache)
            except (OSError, ShoeboxError) as exc:  # the viewer tries again itself
                log.warning("places: the world map was not made: %s", exc)
        return self._geocoder
