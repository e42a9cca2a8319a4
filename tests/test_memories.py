"""Memories: this day in earlier years (the /memories page, the timeline's strip) and a
year's highlights, through the viewer in-process, on both backends. Photos are catalog rows
with made-up dates around today."""

from __future__ import annotations

import datetime as dt
import re

from conftest import ViewerClient
from shoebox.catalog.models import Account


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-id="(\d+)"', html)]


def _on(year: int, day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, day.month, day.day, hour)


def test_this_day_in_earlier_years_skips_this_year_other_days_archived_and_others_private(
    viewer_client: ViewerClient,
) -> None:
    today = dt.date.today()
    today_years = [2020, 2016]  # leap years: every day of the year is in them
    vc = viewer_client
    max_id = Account.get(Account.name == "max").id
    ada_id = Account.get(Account.name == "ada").id
    newer = vc.add_photo("a/newer.jpg", _on(today_years[0], today))
    older = vc.add_photo("a/older.jpg", _on(today_years[1], today, 9))
    mine_private = vc.add_photo("a/mine.jpg", _on(today_years[1], today, 10),
                                owner=max_id, visibility="private")  # fmt: skip
    this_year = vc.add_photo("a/now.jpg", _on(today.year, today))
    other_day = vc.add_photo("a/other.jpg", _on(2020, today) + dt.timedelta(days=2))
    archived = vc.add_photo("a/archived.jpg", _on(2012, today), archived=True)
    theirs = vc.add_photo("a/theirs.jpg", _on(2008, today), owner=ada_id, visibility="private")

    as_max = vc.client("max")
    page = as_max.get("/memories")
    shown = _ids(page.text)
    assert shown == [newer, mine_private, older]  # newest first; a year a section
    for hidden in (this_year, other_day, archived, theirs):
        assert hidden not in shown
    assert f"{today_years[0]} · " in page.text and "years ago" in page.text
    # the photo links carry the day's search, so previous and next walk the same list
    assert f"photo/{newer}?q=month%3A{today.month}+day%3A{today.day}+before%3A" in page.text

    strip = as_max.get("/memories?part=strip")
    assert _ids(strip.text) == [newer, mine_private, older]
    assert "On this day" in strip.text and "<html" not in strip.text
    as_vic = vc.client("vic").get("/memories?part=strip")  # nobody's private photo but her own
    assert _ids(as_vic.text) == [newer, older]

    assert 'class="memories-slot"' in vc.app.get("/").text  # the timeline fetches the strip
    assert 'class="memories-slot"' not in vc.app.get("/?q=garden").text


def test_no_memories_says_so_and_the_strip_is_empty(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    vc.add_photo("a/x.jpg", dt.datetime.combine(dt.date.today(), dt.time(12)))  # this year
    assert "No photos from this day in earlier years yet." in vc.app.get("/memories").text
    assert vc.app.get("/memories?part=strip").text == ""


def test_a_year_s_page_shows_every_month_favourites_first(viewer_client: ViewerClient) -> None:
    vc = viewer_client
    march = [vc.add_photo(f"y/m{n}.jpg", dt.datetime(2019, 3, 1 + n, 12)) for n in range(20)]
    favourite = vc.add_photo("y/fav.jpg", dt.datetime(2019, 3, 25, 12), favorite=True)
    july = vc.add_photo("y/july.jpg", dt.datetime(2019, 7, 4, 12))
    vc.add_photo("y/other-year.jpg", dt.datetime(2018, 7, 4, 12))
    archived = vc.add_photo("y/archived.jpg", dt.datetime(2019, 5, 1, 12), archived=True)

    page = vc.app.get("/memories/2019")
    sections = re.findall(r'<section class="month" data-month="([\d-]+)"', page.text)
    assert sections == ["2019-03", "2019-07"]  # oldest month first; May's only photo is archived
    shown = _ids(page.text)
    assert favourite in shown and july in shown and archived not in shown
    in_march = [i for i in shown if i in march or i == favourite]
    assert len(in_march) == 8  # a few of the month, not all 21
    assert "22 photos" in page.text  # the year's count (the archived photo is not counted)
    assert 'href="/memories/2018"' in page.text  # the other years
    assert vc.app.get("/memories/0", expect_errors=True).status_int == 404


def test_memories_are_for_members(viewer_client: ViewerClient) -> None:
    nobody = viewer_client.client(None)
    for path in ("/memories", "/memories/2019", "/memories?part=strip"):
        answer = nobody.get(path, expect_errors=True)
        assert answer.status_int in (302, 303, 401, 403), path
