"""Bursts and near-duplicates on made-up series, indexed for real and measured by the likeness
stage; both backends."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from conftest import Library, ViewerClient, new_page, serving
from shoebox.catalog import likeness, search, visibility
from shoebox.catalog.models import Photo
from shoebox.enrich.likeness import LikenessStage
from shoebox.enrich.runner import Enricher
from shoebox_viewer.formats import badge

T0 = dt.datetime(2024, 5, 1, 12, 0, 0)


def scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A made-up scene: shapes of random colours and fine lines a blur takes away."""
    rng = random.Random(seed)
    im = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(60, 300), rng.randrange(60, 300)
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - w // 2, y - h // 2, x + w // 2, y + h // 2), fill=fill)
    for _ in range(400):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        end = (x + rng.randrange(-20, 20), y + rng.randrange(-20, 20))
        draw.line((x, y, *end), fill=(rng.randrange(256), 0, rng.randrange(256)), width=1)
    return im


def save(im: Image.Image, path: Path, taken: dt.datetime | None, quality: int = 90) -> None:
    """A JPEG with the camera's date and model (none for `taken=None`: a messenger's copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if taken is not None:
        exif[0x010F], exif[0x0110] = "Canon", "EOS R6"
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    im.save(path, "JPEG", quality=quality, exif=exif)


def enrich(library: Library) -> None:
    library.index()
    enricher = Enricher([LikenessStage(library.settings.library.cache)])
    enricher.run_all()
    enricher.close()


def ids(library: Library, *names: str) -> list[int]:
    return [library.photo_of(n)["id"] for n in names]


def test_a_burst_is_stacked_under_its_sharpest_shot(library: Library) -> None:
    base = scene(1)
    for n in range(5):  # one shot a second, the camera moving a little; only the third is sharp
        shot = base.transform(base.size, Image.Transform.AFFINE, (1, 0, n, 0, 1, n))
        if n != 2:
            shot = shot.filter(ImageFilter.GaussianBlur(2 + n % 2))
        save(shot, library.root / "burst" / f"IMG_{n}.jpg", T0 + dt.timedelta(seconds=n))
    save(scene(2), library.root / "burst" / "IMG_5.jpg", T0 + dt.timedelta(seconds=5))
    save(base, library.root / "later" / "IMG_9.jpg", T0 + dt.timedelta(seconds=30))
    enrich(library)

    shots = ids(library, *(f"IMG_{n}.jpg" for n in range(5)))
    cover = shots[2]
    assert [Photo.get_by_id(i).burst_of for i in shots] == [cover] * 5
    # another scene a second later, and the same scene half a minute later, are no burst
    other, later = ids(library, "IMG_5.jpg", "IMG_9.jpg")
    assert Photo.get_by_id(other).burst_of is None
    assert Photo.get_by_id(later).burst_of is None

    # the timeline shows the cover with its count; `burst:ID` shows every shot
    timeline = search.page(search.parse("", viewer=visibility.OPERATOR)).items
    assert sorted((p["id"], p["shots"]) for p in timeline) == sorted(
        [(cover, 5), (other, None), (later, None)]
    )
    assert badge(next(p for p in timeline if p["id"] == cover)) == "5 shots"
    shots = search.page(search.parse(f"burst:{cover}", viewer=visibility.OPERATOR)).items
    assert sorted(p["id"] for p in shots) == sorted(
        ids(library, *(f"IMG_{n}.jpg" for n in range(5)))
    )


def test_near_duplicates_are_grouped_and_one_is_kept(library: Library) -> None:
    base = scene(3)
    save(base, library.root / "camera" / "IMG_1.jpg", T0)
    save(base.resize((400, 300)), library.root / "chat" / "small.jpg", None)
    save(base, library.root / "chat" / "resaved.jpg", None, quality=50)
    save(base.crop((12, 9, 788, 591)), library.root / "chat" / "cropped.jpg", None)
    for n in range(4, 10):
        save(scene(n), library.root / "camera" / f"IMG_{n}.jpg", T0 + dt.timedelta(days=n))
    enrich(library)

    family = set(ids(library, "IMG_1.jpg", "small.jpg", "resaved.jpg", "cropped.jpg"))
    found = likeness.groups(visibility.OPERATOR)
    assert [set(g) for g in found] == [family]

    kept, *others = sorted(family)
    assert likeness.keep(visibility.OPERATOR, kept, others) == others
    assert [Photo.get_by_id(i).archived for i in sorted(family)] == [False, True, True, True]
    assert Photo.select().count() == 10  # archived, never deleted
    assert likeness.groups(visibility.OPERATOR) == []


# Hashes for photos made straight in the catalog: A2 and A3 are 2 and 5 bits from A.
A = 0x0F0F_3C3C_5A5A_9669
A2, A3, FAR = A ^ 0b11, A ^ 0b11111 << 20, ~A


def _dupes(vc: ViewerClient) -> dict[str, int]:
    """Three near-duplicates (one of them ada's private photo), and one photo unlike them."""
    from shoebox.catalog.models import Account

    ada = Account.get(Account.name == "ada").id
    return {
        "a": vc.add_photo("a.jpg", T0, dhash=A, sharpness=50.0),
        "a2": vc.add_photo("chat/a2.jpg", T0 + dt.timedelta(days=3), dhash=A2, sharpness=9.0),
        "a3": vc.add_photo(
            "chat/a3.jpg", T0 + dt.timedelta(days=9), dhash=A3, owner=ada, visibility="private"
        ),
        "far": vc.add_photo("b.jpg", T0 + dt.timedelta(days=1), dhash=FAR),
    }


def test_the_review_api_keeps_one_and_archives_what_the_member_sees(
    viewer_client: ViewerClient,
) -> None:
    vc = viewer_client
    p = _dupes(vc)
    groups = vc.app.get("/api/duplicates").json["groups"]
    assert [[i["id"] for i in g] for g in groups] == [[p["a3"], p["a2"], p["a"]]]
    member = vc.client("max")  # does not see ada's private photo
    assert [[i["id"] for i in g] for g in member.get("/api/duplicates").json["groups"]] == [
        [p["a2"], p["a"]]
    ]
    body = {"keep": p["a"], "archive": [p["a2"]]}
    member.post_json("/api/duplicates/keep", body, status=403)  # no CSRF header
    bad = {"keep": p["a"], "archive": [p["a3"]]}
    member.post_json("/api/duplicates/keep", bad, headers=vc.csrf(member), status=404)
    unlike = {"keep": p["a"], "archive": [p["far"]]}
    member.post_json("/api/duplicates/keep", unlike, headers=vc.csrf(member), status=400)
    assert not any(Photo.get_by_id(i).archived for i in p.values())
    done = member.post_json("/api/duplicates/keep", body, headers=vc.csrf(member)).json
    assert done == {"kept": p["a"], "archived": [p["a2"]]}
    assert [Photo.get_by_id(p[k]).archived for k in ("a", "a2", "a3", "far")] == [
        False, True, False, False,
    ]  # fmt: skip
    viewer = vc.client("vic")  # looks, changes nothing
    viewer.post_json("/api/duplicates/keep", body, headers=vc.csrf(viewer), status=403)


def test_keep_one_in_the_browser(viewer_client: ViewerClient, browser: Any) -> None:
    vc = viewer_client
    p = _dupes(vc)
    problems: list[str] = []
    with serving(vc.library.settings) as url:
        context, page = new_page(browser, problems)
        try:
            page.goto(url + "login?next=/duplicates")
            page.fill("input[name=name]", "ada")
            page.fill("input[name=password]", vc.PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "duplicates")
            assert page.locator("section.dupes figure").count() == 3
            page.click(f"button[data-keep='{p['a2']}']")
            page.wait_for_selector("text=Kept one; 2 archived.")
            assert page.locator("section.dupes").count() == 0
        finally:
            context.close()  # before the server stops: no keep-alive connection holds it
    assert problems == []
    assert [Photo.get_by_id(p[k]).archived for k in ("a", "a2", "a3")] == [True, False, True]
