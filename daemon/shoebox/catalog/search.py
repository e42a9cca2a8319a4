"""The one photo search engine: the query language, and pages of matching photos.

It owns what the viewer's pages, its JSON API and `shoebox photos QUERY` share: `parse`
turns query text into a `Query` (or a `UsageError` naming the bad term), and `page`,
`iterate`, `count`, `months`, `cursor_for_month` and `neighbours` read the photos that
match, newest first (`taken_at DESC, id DESC`), as dicts in the shape of
`shoebox.catalog.photos.as_dict`.

The language: words and `key:value` filters, all of which must match; `|` ORs the values of
one term (`type:video|live`); double or single quotes keep spaces in a value
(`camera:"pixel 7"`). A bare word matches the title, description, keywords, camera, artist or
a file path that holds it, starting at the start of a word (`shoebox.catalog.text`). `country:` takes an ISO code (`country:fr|de`) or part of a country's name,
`city:` part of a city's name (`city:"new york"`), both as the places stage named them.
`label:` takes a word of the labels stage (`label:dog|cat`, any case, the whole word).
Dates are the local wall-clock date (`taken_at_local`): `after:` is inclusive,
`before:` exclusive. Unless a query says `archived:` or `missing:`, archived and missing
photos are left out (the timeline hides them); unless it says `burst:COVER-ID`, a burst shows
only its cover; `parse(..., everything=True)` drops those
defaults for the command line.

Every query is read for a viewer (`shoebox.catalog.visibility`): it finds only the photos that
viewer sees, and it is the household's photos only unless the caller names the viewer.
Paths in the dicts are relative to their library root, except for the command line's
`OPERATOR`, which sees the server's paths.

Paging is by keyset for the timeline (an opaque cursor, `taken_at<=:t AND (taken_at<:t OR
id<:id)`, which seeks in the `(archived, missing, taken_at, id, ...)` index), or by offset for
the API.
Every query is read to its end before anything is returned: a half-read SQLite cursor would
keep an old snapshot open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import SQL, MySQLDatabase, NodeList, fn
from playhouse.migrate import make_index_name

from shoebox.catalog import counts, people, text, values, visibility
from shoebox.catalog.models import (
    MONTHS_INDEX,
    TIMELINE_INDEX,
    Account,
    Album,
    AlbumPhoto,
    File,
    Label,
    Photo,
    Place,
    Root,
)
from shoebox.catalog.photos import as_dict
from shoebox.errors import UsageError

MAX_LIMIT = 500  # photos in one page
MAX_OFFSET = 999_999_999  # photos skipped before a page
PAGING = {"limit": (1, MAX_LIMIT), "offset": (0, MAX_OFFSET)}  # what each may be, inclusive
MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_ALTERNATIVES = 16  # values ORed with | in one term
EARTH_RADIUS_KM = 6371.0088  # mean radius
_CHUNK = 500  # photos per query when iterating over all of them

# two of Photo.Meta.indexes, as Peewee names them
_TIMELINE_INDEX, _MONTHS_INDEX = (
    str(make_index_name("photo", tuple(Photo._meta.fields[f].column_name for f in fields)))
    for fields in (TIMELINE_INDEX, MONTHS_INDEX)
)

_TYPES = {
    "photo": "image",
    "image": "image",
    "video": "video",
    "live": "live",
    "raw": "raw",
    "animated": "animated",
}
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
# Filters on photo columns that no index serves and that usually match few photos: walking
# the timeline index to find a page of them could look up every photo's row; reading the
# table and sorting what matches is faster, and its time does not vary. (album: and path:
# need only the id, which the index holds: walking it stays cheap. folder: too, but a folder
# of 2019 lies seven years down the timeline, and the path index finds its files at once.)
_SELECTIVE = {
    None, "id", "near", "keyword", "lens", "person", "country", "city", "label", "folder",
}  # fmt: skip
# Filters that test "contains" on a column an index starts with (`catalog.values`): the text is
# matched against the column's distinct values first, and the filter becomes "one of these
# values" (an arm each). A page reads each arm's first photos from its index, in timeline
# order, and merges them; the total adds up each arm's count, read from the index alone.
MAX_ARMS = 64
_MERGED = 2_000  # a page that ends deeper than this is read the plain way
# photos an `id:` filter names at most: a selection shared as one link (an album for more)
MAX_IDS = 100
_KEY = re.compile(r"[A-Za-z_]+\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)_([1-9]\d{0,17})\Z")
# Local time is UTC plus at most 14 hours either way: a local date bounds `taken_at` too, and
# the bound lets the timeline index seek (filters on local dates add it, redundantly).
_SLACK = dt.timedelta(days=2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Query:
    """A parsed query. `where` is what the database is asked; `filters` is the user's part;
    `viewer` is who reads (the photos they do not see are never found)."""

    text: str
    filters: Any = field(compare=False)  # a Peewee expression, or None for "everything"
    archived_given: bool = False
    missing_given: bool = False
    burst_given: bool = False
    everything: bool = False  # no hidden defaults: archived and missing photos too
    selective: bool = False  # a filter no index serves that likely matches few photos
    on_files: bool = False  # a filter on file paths (folder:, path:)
    viewer: visibility.Viewer = visibility.HOUSEHOLD
    # One filter split in arms (exact values, each served in timeline order by an index), and
    # the user's other filters: `filters` is `rest` and any of `arms`. None: no split.
    arms: tuple[Any, ...] | None = field(default=None, compare=False)
    rest: Any = field(default=None, compare=False)

    @property
    def where(self) -> Any:
        """The whole condition, hidden defaults included, written so that an index on
        `(archived, missing, taken_at)` can serve it in timeline order."""
        return self._where(lambda column: column == _FALSE)

    @property
    def scan_where(self) -> Any:
        """The same condition for counting and grouping: the defaults are written so that no
        index is chosen for them (`archived+0 = 0`), as nearly every photo passes them; an
        index for the query's own filters, or a plain scan, is cheaper than an index lookup
        per photo."""
        return self._where(lambda column: (column + 0) == 0)

    @property
    def seeks(self) -> bool:
        """Whether pages walk the `(archived, missing, taken_at)` index in timeline order."""
        return not self.everything and not self.selective

    def narrowed(self, condition: Any) -> Query:
        """This query, asking `condition` too (a split filter's arms stay as they are)."""
        rest = self.rest
        if self.arms is not None:
            rest = condition if rest is None else rest & condition
        filters = condition if self.filters is None else self.filters & condition
        return dataclasses.replace(self, filters=filters, rest=rest)

    def arm_where(self, arm: Any, *, scan: bool = False) -> Any:
        """`where` (or `scan_where`) with only this arm of the split filter."""
        hidden: Callable[[Any], Any] = (
            (lambda column: (column + 0) == 0) if scan else (lambda column: column == _FALSE)
        )
        return self._where(hidden, _all([c for c in (self.rest, arm) if c is not None]))

    @property
    def merges(self) -> bool:
        """Whether pages merge the arms of a split filter, each read in timeline order."""
        return self.arms is not None and self.seeks

    def _where(self, hidden: Callable[[Any], Any], filters: Any = None) -> Any:
        filters = self.filters if filters is None else filters
        clauses = []
        if not self.everything and not self.archived_given:
            clauses.append(hidden(Photo.archived))
        if not self.everything and not self.missing_given:
            clauses.append(hidden(Photo.missing))
        if not self.everything and not self.burst_given:  # a burst shows its cover
            clauses.append(Photo.burst_of.is_null() | (Photo.burst_of == Photo.id))
        if filters is not None:
            clauses.append(filters)
        seen = visibility.visible(self.viewer)
        if seen is not None:
            clauses.append(seen)
        return _all(clauses)


@dataclass(frozen=True)
class Page:
    """One page of photos. `total` counts every match (None when not asked for);
    `next_cursor` continues after the last item, None on the last page."""

    total: int | None
    items: list[dict[str, Any]]
    next_cursor: str | None


_FALSE = False  # compared as a value, so linters leave `== False` alone
_TRUE = True


@dataclass(frozen=True)
class _Term:
    key: str | None
    values: tuple[str, ...]
    raw: str


# --- parsing -------------------------------------------------------------------------------


def parse(
    text: str, *, everything: bool = False, viewer: visibility.Viewer = visibility.HOUSEHOLD
) -> Query:
    """The query for `text`, as `viewer` reads it; `everything` keeps archived and missing
    photos unless the query filters on them. Raises UsageError, naming the term, for anything
    it cannot read."""
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(f"query: too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    if _CONTROL.search(text):
        raise UsageError("query: holds a control character")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise UsageError("query: is not valid text (a lone surrogate)") from None
    terms = _terms(text)
    if len(terms) > MAX_TERMS:
        raise UsageError(f"query: too many terms ({len(terms)}; at most {MAX_TERMS})")
    clauses = []
    arms: list[Any] | None = None
    split_at = -1
    for term in terms:
        if len(term.values) > MAX_ALTERNATIVES:
            raise UsageError(f"query: {term.raw[:40]!r}: at most {MAX_ALTERNATIVES} values")
        if any(not value.strip() for value in term.values):
            raise UsageError(f"query: {term.raw[:40]!r}: an empty value")
        if term.key is None:
            clauses.append(_any(_word(value) for value in term.values))
            continue
        if term.key in _SPLIT:
            found = _SPLIT[term.key]([value.strip() for value in term.values])
            clauses.append(_any(found) if found else _NOTHING)
            if arms is None and len(found) <= MAX_ARMS:
                arms, split_at = found, len(clauses) - 1
            continue
        make = _FILTERS.get(term.key)
        if make is None:
            raise UsageError(
                f"query: {term.raw[:40]!r}: unknown filter {term.key}:; "
                f"known filters: {', '.join(k + ':' for k in sorted([*_FILTERS, *_SPLIT]))}"
            )
        try:
            clauses.append(_any(make(value.strip()) for value in term.values))
        except _Bad as exc:
            raise UsageError(f"query: {term.raw[:40]!r}: {exc}") from None
    keys = {term.key for term in terms}
    selective = keys & _SELECTIVE
    if arms is not None and [t.key for t in terms].count(terms[split_at].key) == 1:
        selective.discard(terms[split_at].key)  # its index serves it
    return Query(
        text=text,
        filters=_all(clauses),
        archived_given="archived" in keys,
        missing_given="missing" in keys,
        burst_given="burst" in keys,
        everything=everything,
        selective=bool(selective),
        on_files=bool(keys & {"folder", "path"}),
        viewer=viewer,
        arms=tuple(arms) if arms is not None else None,
        rest=_all(clauses[:split_at] + clauses[split_at + 1 :]) if arms is not None else None,
    )


def _terms(text: str) -> list[_Term]:
    """Splits at white space outside quotes. A quote opens only at the start of a value (at
    the start of a term, after `key:` or after `|`), so an apostrophe inside a word is a
    letter; `key:` counts only before any quote."""
    terms = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        key: str | None = None
        values: list[str] = []
        part = ""
        quoted = False
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "\"'" and not part and not quoted:
                end = text.find(c, i + 1)
                if end < 0:
                    raise UsageError(f"query: unbalanced quote {c} in {text[start:][:40]!r}")
                part, quoted, i = text[i + 1 : end], True, end + 1
            elif c == ":" and key is None and not values and not quoted and _KEY.match(part):
                key, part, i = part.lower(), "", i + 1
            elif c == "|":
                values.append(part)
                part, quoted, i = "", False, i + 1
            else:
                part += c
                i += 1
        values.append(part)
        terms.append(_Term(key, tuple(values), text[start:i]))
    return terms


class _Bad(Exception):
    """A value a filter cannot read; `parse` names the term."""


def _all(clauses: list[Any]) -> Any:
    where = None
    for clause in clauses:
        where = clause if where is None else where & clause
    return where


def _any(clauses: Any) -> Any:
    where = None
    for clause in clauses:
        where = clause if where is None else where | clause
    return where


def _files_where(condition: Any) -> Any:
    return Photo.id.in_(File.select(File.photo).where(condition))


def exact(text: Any) -> Any:
    """`text` compared and grouped by its characters: SQLite's default, while MariaDB's
    utf8mb4 collations fold case and accents."""
    if isinstance(File._meta.database, MySQLDatabase):
        return NodeList((text, SQL("COLLATE utf8mb4_bin")))
    return text


def _word(word: str) -> Any:
    return Photo.id.in_(text.matching(word))


def _number(value: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise _Bad(f"wants a number from {low} to {high}, not {value!r}")
    return int(value)


def _yes(value: str) -> bool:
    try:
        return _YES[value.lower()]
    except KeyError:
        raise _Bad(f"wants yes or no, not {value!r}") from None


def _date(value: str) -> dt.datetime:
    try:
        if not _DATE.match(value):
            raise ValueError
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
    except ValueError:
        raise _Bad(f"wants a date YYYY-MM-DD, not {value!r}") from None


def _slack(value: str, sign: int) -> dt.datetime:
    """The date moved by _SLACK, within what a datetime can hold."""
    try:
        return _date(value) + sign * _SLACK
    except OverflowError:
        return dt.datetime.max if sign > 0 else dt.datetime.min


def _year(value: str) -> Any:
    year = _number(value, 1, 9999)
    start = _slack(f"{year:04d}-01-01", -1)
    end = _slack(f"{year + 1:04d}-01-01", 1) if year < 9999 else dt.datetime.max
    return (Photo.year == year) & Photo.taken_at.between(start, end)


def _type(value: str) -> Any:
    try:
        return Photo.type == _TYPES[value.lower()]
    except KeyError:
        raise _Bad(f"wants one of {', '.join(_TYPES)}, not {value!r}") from None


def _day(value: str) -> Any:
    # The `DD` of the stored `YYYY-MM-DD HH:MM:SS`: the same SQL on SQLite and MariaDB.
    return fn.SUBSTR(Photo.taken_at_local, 9, 2) == f"{_number(value, 1, 31):02d}"


def _album(value: str) -> Any:
    titled = Album.title.contains(value)
    if value.isascii() and value.isdigit() and len(value) <= 18:
        titled |= Album.id == int(value)
    entries = AlbumPhoto.select(AlbumPhoto.photo).join(Album).where(titled)
    return Photo.id.in_(entries)


def _ids(value: str) -> Any:
    """`id:12,15,40`: these photos (a selection)."""
    parts = value.split(",")
    if len(parts) > MAX_IDS:
        raise _Bad(f"names {MAX_IDS} photos at most, not {len(parts)}")
    if not all(p.isascii() and p.isdigit() and 0 < len(p) <= 18 for p in parts):
        raise _Bad(f"wants photo numbers separated by commas, such as 12,15,40, not {value[:40]!r}")
    return Photo.id.in_(sorted({int(p) for p in parts}))


def _folder(value: str) -> Any:
    folder = value.strip("/")
    if not folder or any(part in (".", "..") for part in folder.split("/")):
        raise _Bad(f"wants a folder inside a library root, such as 2024/summer, not {value!r}")
    prefix = folder + "/"
    if isinstance(File._meta.database, MySQLDatabase):
        # LIKE seeks in the path index but folds case and accents, as the collation does:
        # the exact test keeps 2024/Summer out of folder:2024/summer, as the Folders view
        # lists them apart
        exactly = exact(fn.SUBSTR(File.rel_path, 1, len(prefix))) == prefix
        return _files_where(File.rel_path.startswith(prefix) & exactly)
    # SQLite compares by the bytes, and its LIKE (folding case) cannot seek: the paths that
    # start with "a/b/" are exactly those from "a/b/" up to "a/b0" ("0" follows "/")
    return _files_where((File.rel_path >= prefix) & (File.rel_path < prefix[:-1] + "0"))


def _geo(value: str) -> Any:
    if _yes(value):
        return Photo.lat.is_null(False) & Photo.lng.is_null(False)
    return Photo.lat.is_null() | Photo.lng.is_null()


def _within(lat: float, lng: float, km: float) -> Any:
    """Photos within `km` of a point (great-circle distance): a bounding box that an index or a
    cheap comparison can use, then the exact haversine test, both in SQL."""
    if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lng) and -180 <= lng <= 180):
        raise _Bad("wants a latitude from -90 to 90 and a longitude from -180 to 180")
    if not (math.isfinite(km) and 0 < km <= 20_100):
        raise _Bad(f"wants a distance in km above 0 and at most 20100, not {km:g}")
    radians = km / EARTH_RADIUS_KM
    if radians >= math.pi:
        return Photo.lat.is_null(False) & Photo.lng.is_null(False)
    margin = 1e-9
    dlat = math.degrees(radians) + margin
    where = Photo.lat.between(max(-90.0, lat - dlat), min(90.0, lat + dlat))
    if abs(lat) + dlat < 90 and math.sin(radians) < math.cos(math.radians(lat)):
        dlng = math.degrees(math.asin(math.sin(radians) / math.cos(math.radians(lat)))) + margin
        low, high = lng - dlng, lng + dlng
        if low < -180:
            where &= Photo.lng.between(-180.0, high) | Photo.lng.between(low + 360, 180.0)
        elif high > 180:
            where &= Photo.lng.between(low, 180.0) | Photo.lng.between(-180.0, high - 360)
        else:
            where &= Photo.lng.between(low, high)
    else:
        where &= Photo.lng.is_null(False)
    # haversine: sin²(Δφ/2) + cos φ0 cos φ sin²(Δλ/2) <= sin²(d/2R)
    phi0, lambda0 = math.radians(lat), math.radians(lng)
    half_dphi = fn.SIN((fn.RADIANS(Photo.lat) - phi0) / 2.0)
    half_dlambda = fn.SIN((fn.RADIANS(Photo.lng) - lambda0) / 2.0)
    hav = half_dphi * half_dphi + math.cos(phi0) * fn.COS(fn.RADIANS(Photo.lat)) * (
        half_dlambda * half_dlambda
    )
    return where & (hav <= math.sin(radians / 2) ** 2)


def _near(value: str) -> Any:
    parts = value.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        lat, lng, km = (float(part) for part in parts)
    except ValueError:
        raise _Bad(f"wants LAT,LNG,KM such as 48.85,2.35,10, not {value!r}") from None
    return _within(lat, lng, km)


def _placed(condition: Any) -> Any:
    return Photo.id.in_(Place.select(Place.photo).where(condition))


def _country(value: str) -> Any:
    """Two letters are an ISO code (`country:fr|de`); anything longer is part of a name
    (`country:"new zealand"`)."""
    if len(value) == 2 and value.isascii() and value.isalpha():
        return _placed(Place.country_code == value.upper())
    return _placed(Place.country.contains(value))


def _flag(column: Any) -> Callable[[str], Any]:
    return lambda value: column == (_TRUE if _yes(value) else _FALSE)


def _cameras(texts: list[str]) -> list[Any]:
    """`camera:`: the (make, model) pairs whose make or model holds one of the texts, each as
    an exact condition (an arm) that the camera index serves in timeline order."""
    pairs = values.distinct((Photo.camera_make, Photo.camera_model), texts)
    return [
        _is(Photo.camera_make, make) & _is(Photo.camera_model, model)
        for (make, model), holds in pairs
        if holds
    ]


def _lenses(texts: list[str]) -> list[Any]:
    """`lens:`: the lenses that hold one of the texts, each an exact condition (an arm)."""
    lenses = values.distinct((Photo.lens_model,), texts)
    return [Photo.lens_model == lens for (lens,), holds in lenses if holds]


def _is(column: Any, value: Any) -> Any:
    return column.is_null() if value is None else column == value


_NOTHING = Photo.id.in_([])  # a filter no photo passes
_SPLIT: dict[str, Callable[[list[str]], list[Any]]] = {"camera": _cameras, "lens": _lenses}

_FILTERS: dict[str, Callable[[str], Any]] = {
    "year": _year,
    "month": lambda v: Photo.month == _number(v, 1, 12),
    "day": _day,
    "after": lambda v: (Photo.taken_at_local >= _date(v)) & (Photo.taken_at >= _slack(v, -1)),
    "before": lambda v: (Photo.taken_at_local < _date(v)) & (Photo.taken_at < _slack(v, 1)),
    "type": _type,
    "favorite": _flag(Photo.favorite),
    "favourite": _flag(Photo.favorite),
    "archived": _flag(Photo.archived),
    "missing": _flag(Photo.missing),
    "album": _album,
    "id": _ids,
    "folder": _folder,
    "geo": _geo,
    "near": _near,
    "keyword": lambda v: Photo.keywords.contains(v),
    "path": lambda v: _files_where(File.rel_path.contains(v)),
    "person": lambda v: Photo.id.in_(people.photos_named([v])),
    "country": _country,
    "city": lambda v: _placed(Place.city.contains(v)),
    "label": lambda v: Photo.id.in_(Label.select(Label.photo).where(Label.name == v.lower())),
    "burst": lambda v: Photo.burst_of == _number(v, 1, 2**62),
}


# --- reading -------------------------------------------------------------------------------


def _timeline(query: Query) -> Any:
    select = Photo.select().order_by(Photo.taken_at.desc(), Photo.id.desc())
    if query.where is None:
        return select
    return select.where(query.scan_where if query.selective else query.where)


def cursor_of(taken_at: dt.datetime, photo_id: int) -> str:
    """The cursor that continues after the photo taken at `taken_at` with id `photo_id`."""
    return f"{taken_at.isoformat()}_{photo_id}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime, int]:
    found = _CURSOR.match(cursor) if len(cursor) <= 64 else None
    try:
        if found is None:
            raise ValueError
        return dt.datetime.fromisoformat(found[1]), int(found[2])
    except ValueError:
        raise UsageError(f"bad cursor {cursor[:64]!r}: start again from the first page") from None


def page(
    query: Query,
    *,
    cursor: str | None = None,
    offset: int = 0,
    limit: int = 100,
    total: bool = True,
) -> Page:
    """Up to `limit` (1 to MAX_LIMIT; more is refused, not cut) photos after `cursor` (keyset
    paging, for the timeline) or after the first `offset` (for the API), with the number of
    matches when `total` is true."""
    limit, offset = paging("limit", limit), paging("offset", offset)
    if cursor is not None and offset:
        raise UsageError("give a cursor or an offset, not both")
    mysql = isinstance(Photo._meta.database, MySQLDatabase)
    after = None
    if cursor is not None:
        taken_at, photo_id = _parse_cursor(cursor)
        after = (Photo.taken_at <= taken_at) & ((Photo.taken_at < taken_at) | (Photo.id < photo_id))
    if query.merges and offset + limit < _MERGED:
        merged = _by_ids(_merged(query, after, offset + limit + 1)[offset:])
        last = merged[limit - 1] if len(merged) > limit else None
        return Page(
            count(query) if total else None,
            _as_dicts(merged[:limit], query.viewer),
            None if last is None else cursor_of(last.taken_at, last.id),
        )
    select = _timeline(query)
    if cursor is not None:
        if mysql and query.seeks:
            # MariaDB otherwise reads the index by (archived, missing) only, not by the range.
            select = select.from_(NodeList((Photo, SQL(f"FORCE INDEX ({_TIMELINE_INDEX})"))))
        select = select.where(after)
    matches: int | None = None
    if (query.selective or (query.on_files and mysql)) and total and cursor is None:
        # The photos (or, on MariaDB, the files) would be read twice, for the page and for the
        # total: one read of the matches' ids, in order, gives both. (SQLite counts the
        # photos of a file subquery by their rowids: cheap.)
        ids = [row[0] for row in list(select.select(Photo.id).tuples())]
        matches = len(ids)
        photos = _by_ids(ids[offset : offset + limit + 1])
    else:
        photos = list(select.offset(offset or None).limit(limit + 1))
        if total:
            matches = count(query)
    more = len(photos) > limit
    photos = photos[:limit]
    next_cursor = cursor_of(photos[-1].taken_at, photos[-1].id) if more else None
    return Page(matches, _as_dicts(photos, query.viewer), next_cursor)


def _merged(query: Query, after: Any, first: int) -> list[int]:
    """The ids of the first `first` matches (after the keyset condition `after`, if any), in
    timeline order: the first of each arm of the split filter, read from its index, merged."""
    assert query.arms is not None
    rows: list[tuple[Any, int]] = []
    for arm in query.arms:
        select = Photo.select(Photo.taken_at, Photo.id).where(query.arm_where(arm))
        if after is not None:
            select = select.where(after)
        ordered = select.order_by(Photo.taken_at.desc(), Photo.id.desc()).limit(first)
        found: Any = ordered.tuples()
        rows.extend(list(found))
    rows.sort(reverse=True)
    return [photo_id for _, photo_id in rows[:first]]


def paging(name: str, given: int | str) -> int:
    """`limit` or `offset` (`name`) as a number within its `PAGING` range, from an int or a
    query parameter's text; a UsageError in one wording for anything else (-1, 0, 501, "x")."""
    low, high = PAGING[name]
    if isinstance(given, str) and given.isascii() and given.isdigit() and len(given) <= 9:
        number: object = int(given)
    else:
        number = given
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
        shown = given[:20] if isinstance(given, str) else given
        raise UsageError(f"{name} must be a whole number from {low} to {high}, not {shown!r}")
    return number


def count(query: Query) -> int:
    """How many photos match (a query without filters: from the counts kept up to date)."""
    kept = counts.total(query)
    if kept is not None:
        return kept
    if query.arms is not None and not query.everything:
        # each arm's photos (exact values, apart from each other) counted in its index; alone,
        # an arm reads its whole part of the index (the defaults written so that no other index
        # is chosen); with other filters (year:), the defaults help to seek its range
        alone = query.rest is None
        return sum(
            int(Photo.select(Photo.id).where(query.arm_where(arm, scan=alone)).count())
            for arm in query.arms
        )
    select = Photo.select(Photo.id)
    where = query.where if query.filters is None else query.scan_where  # covering index
    return int((select if where is None else select.where(where)).count())


def neighbours(query: Query, taken_at: dt.datetime, photo_id: int) -> tuple[int | None, int | None]:
    """The ids of the matches just newer and just older than the photo (`taken_at`,
    `photo_id`) in timeline order: previous and next on a photo page."""
    t, pid = taken_at, photo_id
    newer = (Photo.taken_at > t) | ((Photo.taken_at == t) & (Photo.id > pid))
    older = (Photo.taken_at < t) | ((Photo.taken_at == t) & (Photo.id < pid))
    where = query.where

    def first(condition: Any, *order: Any) -> int | None:
        select = Photo.select(Photo.id).where(condition if where is None else where & condition)
        rows: list[Any] = list(select.order_by(*order).limit(1).tuples())
        return int(rows[0][0]) if rows else None

    return (
        first(newer, Photo.taken_at.asc(), Photo.id.asc()),
        first(older, Photo.taken_at.desc(), Photo.id.desc()),
    )


def iterate(query: Query) -> Iterator[dict[str, Any]]:
    """Every matching photo, newest first, read in chunks (each query read to its end)."""
    ids = [row[0] for row in list(_timeline(query).select(Photo.id).tuples())]
    for start in range(0, len(ids), _CHUNK):
        yield from _as_dicts(_by_ids(ids[start : start + _CHUNK]), query.viewer)


def _by_ids(ids: list[int]) -> list[Any]:
    """The photos with these ids, in this order (less any deleted meanwhile)."""
    found = {p.id: p for p in list(Photo.select().where(Photo.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]


def months(query: Query) -> list[tuple[int, int, int]]:
    """(year, month, photos) for every month with a match, newest first: the scrubber (a
    query without filters: from the counts kept up to date)."""
    kept = counts.months(query)
    if kept is not None:
        return kept
    select = Photo.select(Photo.year, Photo.month, fn.COUNT(Photo.id))
    if query.arms is not None and not query.everything:
        # each arm's photos found through its index, rather than every photo read
        counted: dict[tuple[int, int], int] = {}
        for arm in query.arms:
            grouped: Any = select.where(query.arm_where(arm, scan=query.rest is None)).group_by(
                Photo.year, Photo.month
            )
            for y, m, n in list(grouped.tuples()):
                counted[int(y), int(m)] = counted.get((int(y), int(m)), 0) + int(n)
        return [(y, m, n) for (y, m), n in sorted(counted.items(), reverse=True)]
    if query.filters is not None:
        # Both would walk the (year, month, ...) index for the grouping, with one row lookup
        # per photo for the filters; a scan and a small sort are several times faster.
        if isinstance(Photo._meta.database, MySQLDatabase):
            hint = SQL(f"IGNORE INDEX FOR GROUP BY ({_MONTHS_INDEX})")
        else:
            hint = SQL("NOT INDEXED")  # the rowid, for album: and folder:, is still used
        select = select.from_(NodeList((Photo, hint)))
    if query.scan_where is not None:
        select = select.where(query.scan_where)
    grouped = select.group_by(Photo.year, Photo.month).order_by(
        Photo.year.desc(), Photo.month.desc()
    )
    rows: list[Any] = list(grouped.tuples())
    return [(int(y), int(m), int(n)) for y, m, n in rows]


def cursor_for_month(query: Query, year: int, month: int) -> str | None:
    """A cursor whose page starts with the newest matching photo of that month (by local
    date), or None when the month has none."""
    first = list(
        _timeline(query)
        .select(Photo.taken_at, Photo.id)
        .where((Photo.year == year) & (Photo.month == month))
        .limit(1)
        .tuples()
    )
    if not first:
        return None
    taken_at, photo_id = first[0]
    return cursor_of(taken_at, photo_id + 1)  # keyset paging is strict: start just above it


@dataclass(frozen=True, slots=True)
class _File:
    """What `as_dict` reads of a file: plain rows are several times cheaper than models."""

    root_path: str | None  # None: the path is shown relative to its root
    rel_path: str
    size: int
    mime: str | None
    hash: str | None
    role: str
    status: str


def _as_dicts(photos: list[Any], viewer: visibility.Viewer) -> list[dict[str, Any]]:
    if not photos:
        return []
    query = (
        File.select(
            File.photo, Root.path, File.rel_path, File.size, File.mime, File.hash, File.role,
            File.status,
        )
        .join(Root)
        .where(File.photo.in_([p.id for p in photos]))
        .order_by(File.id)
        .tuples()
    )  # fmt: skip
    files: dict[int, list[_File]] = {}
    rows: list[Any] = list(query)
    for photo_id, root, *rest in rows:
        shown = root if viewer.server_paths else None
        files.setdefault(photo_id, []).append(_File(shown, *rest))
    owners = {p.owner_id for p in photos if p.owner_id is not None}
    names: dict[int, str] = {}
    if owners:
        named: Any = Account.select(Account.id, Account.name).where(Account.id.in_(owners))
        names = dict(list(named.tuples()))
    covers = [p.id for p in photos if p.burst_of == p.id]
    shots: dict[int, int] = {}
    if covers:
        counted: Any = (
            Photo.select(Photo.burst_of, fn.COUNT(Photo.id))
            .where(Photo.burst_of.in_(covers))
            .group_by(Photo.burst_of)
        )
        shots = dict(list(counted.tuples()))
    return [as_dict(photo, files.get(photo.id, []), names, shots.get(photo.id)) for photo in photos]
