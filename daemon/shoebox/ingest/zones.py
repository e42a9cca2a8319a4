"""Time zones, offline: the IANA zone of a position, and the offset in force there at a given
moment (summer time included).

The zone of a point comes from tzfpy, which ships the outlines of timezone-boundary-builder
(data under the ODbL) simplified to within about 111 m of the true border, oceans included
(`Etc/GMT+2` out at sea); a lookup takes a microsecond once its index is built (about 0.2 s
and 35 MB, on the first use in a process). The offsets come from the IANA database through
`zoneinfo` (the system's copy, or the `tzdata` package for names it lacks).

A wall-clock time on the night the clocks change is read as a camera shows it: 02:30 on the
spring night, a time that never happened where the clocks jumped, is taken in the offset in
force before the jump (a camera whose clock had not moved yet); 02:30 on the autumn night,
which happened twice, is the first one (summer time).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of this IANA name, or None when the database does not know it."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is not in the IANA database here; its offset is unknown", name)
        return None


def name_at(lat: float, lng: float) -> str | None:
    """The IANA name of the zone holding this position (None on no zone's ground)."""
    import tzfpy  # loaded by the processes that look positions up, not by the viewer

    found = tzfpy.get_tz(lng, lat)
    return found or None


def offset_of_local(name: str, local: dt.datetime) -> dt.timedelta | None:
    """The offset from UTC of a wall-clock time in this zone (see the module for the nights
    the clocks change)."""
    tz = zone(name)
    if tz is None:
        return None
    return _utcoffset(tz, local.replace(tzinfo=None, fold=0))


def offset_of_instant(name: str, instant: dt.datetime) -> dt.timedelta | None:
    """The offset in force in this zone at an instant (a naive datetime in UTC)."""
    tz = zone(name)
    if tz is None:
        return None
    aware = instant.replace(tzinfo=dt.UTC).astimezone(tz)
    return _utcoffset(tz, aware)


def _utcoffset(tz: zoneinfo.ZoneInfo, when: dt.datetime) -> dt.timedelta | None:
    try:
        return tz.utcoffset(when)
    except (OverflowError, ValueError):  # beyond what the zone's rules cover
        return None
