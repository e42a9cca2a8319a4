"""The photo counts kept by triggers (`shoebox.catalog.counts`), on SQLite and MariaDB: after
every kind of change they equal a real count of the photos, for every viewer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from conftest import add_photo
from shoebox.catalog import counts, migrations, search, visibility
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, Photo, PhotoCount, Root
from shoebox.sftp import accounts

VIEWERS = [
    visibility.HOUSEHOLD,
    visibility.Viewer(1),
    visibility.Viewer(2),
    visibility.Viewer(1, everything=True),
]


def counted(query: search.Query) -> tuple[int, list[tuple[int, int, int]]]:
    """The total and the months of a query, counted from the photo rows themselves."""
    select: Any = Photo.select(Photo.year, Photo.month)
    if query.where is not None:
        select = select.where(query.where)
    by_month: dict[tuple[int, int], int] = {}
    for year, month in list(select.tuples()):
        by_month[(year, month)] = by_month.get((year, month), 0) + 1
    months = [(y, m, n) for (y, m), n in sorted(by_month.items(), reverse=True)]
    return sum(by_month.values()), months


def assert_counts_agree() -> None:
    for viewer in VIEWERS:
        for everything in (False, True):
            query = search.parse("", viewer=viewer, everything=everything)
            total, months = counted(query)
            assert (counts.total(query), counts.months(query)) == (total, months), viewer
            assert (search.count(query), search.months(query)) == (total, months)
    assert PhotoCount.select().where(PhotoCount.photos <= 0).count() == 0


def test_counts_follow_every_change(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path):
        root = Root.create(path=str(tmp_path), path_key="r" * 32)
        for name in ("ana", "ben"):
            Account.create(name=name, folder=str(tmp_path / name))
        ids = [
            add_photo(root.id, f"p{i}.jpg", dt.datetime(2020 + i % 3, 1 + i % 5, 2),
                      owner=1 + i % 2 if i % 4 else None)
            for i in range(12)
        ]  # fmt: skip
        assert_counts_agree()
        assert counts.total(search.parse("", viewer=visibility.HOUSEHOLD)) == 12
        Photo.update(archived=True).where(Photo.id == ids[0]).execute()
        Photo.update(visibility="private").where(Photo.id.in_(ids[1:4])).execute()
        assert_counts_agree()
        Photo.update(owner=2).where(Photo.id == ids[1]).execute()  # owner change
        Photo.update(missing=True).where(Photo.id == ids[5]).execute()
        when = dt.datetime(2015, 6, 1)
        Photo.update(year=2015, month=6, taken_at=when, taken_at_local=when).where(
            Photo.id == ids[6]
        ).execute()  # date change
        assert_counts_agree()
        # a burst: the timeline lists its cover only
        Photo.update(burst_of=ids[7]).where(Photo.id.in_(ids[7:10])).execute()
        assert_counts_agree()
        Photo.update(archived=False, burst_of=None).where(Photo.id.in_(ids[:9])).execute()
        assert_counts_agree()
        Photo.delete().where(Photo.id.in_(ids[9:11])).execute()
        assert_counts_agree()
        accounts.remove("ana")  # its photos keep no owner: its private ones leave every view
        assert Photo.select().where(Photo.owner == 1).count() == 0
        assert_counts_agree()
        assert counts.total(search.parse("year:2020", viewer=visibility.HOUSEHOLD)) is None
        Photo.delete().execute()
        assert PhotoCount.select().count() == 0


def test_migration_15_counts_what_is_there_and_runs_again(db_url: str, tmp_path: Path) -> None:
    with Catalog(db_url, tmp_path) as catalog:
        root = Root.create(path=str(tmp_path), path_key="r" * 32)
        for i in range(5):
            add_photo(root.id, f"p{i}.jpg", dt.datetime(2021, 1 + i % 2, 3))
        PhotoCount.delete().execute()  # as a catalog before migration 15 has none
        with catalog.db.atomic():
            migrations._0015_photo_counts(catalog.db)
            migrations._0015_photo_counts(catalog.db)  # after a crash: again, over what it made
        assert_counts_agree()
        add_photo(root.id, "more.jpg", dt.datetime(2021, 1, 4))  # the triggers are there once
        assert counts.months(search.parse("")) == [(2021, 2, 2), (2021, 1, 4)]
