"""A private space for each member, on SQLite and MariaDB: a photo's owner is the account whose
upload folder made it; member A's private upload is invisible to member B on every route of
the viewer (pages, media, API, search, albums, folders, people, places, labels, neighbours on
a photo page) and in B's share links, including a search link B made before the upload; an
admin sees it only where the config says so; owners make photos private or the household's,
one or many at once; members see paths relative to their library root; the command line's
`user add --private-uploads` and `user set`; an older catalog's photos get their owners."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import bottle
import pytest
import webtest

from conftest import Library
from shoebox import cli
from shoebox.catalog import migrations, people, shares, visibility
from shoebox.catalog.database import Catalog, connect
from shoebox.catalog.models import (
    MODELS,
    Account,
    Album,
    AlbumPhoto,
    Face,
    File,
    Label,
    Person,
    Photo,
    Place,
    Share,
    Suggestion,
    SuggestionFace,
)
from shoebox.errors import NotFound
from shoebox.sample import Shot, make_library, write_jpeg, write_tags
from shoebox_viewer.app import make_app

PASSWORD = "correct horse battery staple"  # noqa: S105
MARKERS = ("ZZPRIV", "Secretville", "secretlabel", "Secret Person")  # only on A's private photo
PARAM = re.compile(r"<([a-z_]+)(?::[a-z]+)?>")


def _cli(library: Library, *argv: str, stdin: str = "") -> int:
    """The command line in this process; the catalog it opens binds the models to itself, so
    they are bound back to the test's (whose transactions the indexer opens)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        try:
            return cli.main(["--config", str(library.settings.source), *argv])
        finally:
            library.catalog.db.bind(MODELS)


def _member(library: Library, name: str, *, admins_see_private: bool = False) -> webtest.TestApp:
    viewer = dataclasses.replace(library.settings.viewer, admins_see_private=admins_see_private)
    app = webtest.TestApp(
        make_app(dataclasses.replace(library.settings, viewer=viewer)),
        extra_environ={"REMOTE_ADDR": "198.51.100.20"},
    )
    form = next(f for f in app.get("/login").forms.values() if f.action.endswith("/login"))
    form["name"], form["password"] = name, PASSWORD
    assert form.submit().status_int == 303
    return app


def _csrf(app: webtest.TestApp) -> dict[str, str]:
    return {"X-CSRF-Token": app.cookies["sb_csrf"]}


@dataclass
class Home:
    library: Library
    ana: webtest.TestApp  # member, uploads private
    ben: webtest.TestApp  # member, uploads the household's
    ada: webtest.TestApp  # admin
    secret: int  # Ana's private upload
    secret_file: int
    face: int
    person: int
    album: int  # the household's album, holding the garden photo and Ana's private one
    garden: int  # a household photo from the sample
    ben_link: Share  # camera:pixel, made by Ben before Ana's upload
    before: int  # what Ben's link showed then

    def routes(self) -> list[tuple[str, str]]:
        app = self.ben.app
        while not isinstance(app, bottle.Bottle):
            app = app.app
        return [(route.method, route.rule) for route in app.routes]


def leaks(body: str, photo_id: int) -> list[str]:
    """Whatever in a page or JSON answer gives away the private photo."""
    found = [marker for marker in MARKERS if marker in body]
    pattern = (
        rf"(?:tile|preview|large|video|photo|original)/{photo_id}\b|"
        rf'"(?:id|photo_id|cover_id)": {photo_id}\b|data-id="{photo_id}"'
    )
    return found + re.findall(pattern, body)


@pytest.fixture
def home(library: Library) -> Home:
    make_library(library.root)
    assert _cli(library, "user", "add", "ana", "--password-stdin", "--private-uploads", stdin=PASSWORD + "\n") == 0  # fmt: skip
    assert _cli(library, "user", "add", "ben", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert _cli(library, "user", "add", "ada", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n") == 0  # fmt: skip
    library.index()
    garden = library.photo_of("20240512_101500.jpg")["id"]
    ben_id = Account.get(Account.name == "ben").id
    ben_link = shares.create("search", query="camera:pixel", created_by=ben_id)
    before = shares.page(ben_link).total or 0
    album = Album.create(title="Garden", created_by=ben_id)
    AlbumPhoto.create(album=album.id, photo=garden)
    # Ana's phone uploads into her folder (as SFTP would), and the daemon indexes it.
    upload = write_jpeg(
        library.root / "ana/2025/Secret/ZZPRIV01.jpg",
        Shot(dt.datetime(2025, 6, 1, 12, 0), "+02:00", "Google", "Pixel 9", (47.37, 8.54, 400.0)),
        seed=9,
    )
    write_tags(upload, "-XMP-dc:Title=ZZPRIV garden party")
    library.index()
    row = File.get(File.rel_path == "ana/2025/Secret/ZZPRIV01.jpg")
    secret = row.photo_id
    assert secret is not None
    photo = Photo.get_by_id(secret)
    assert photo.owner_id == Account.get(Account.name == "ana").id
    assert photo.visibility == visibility.PRIVATE  # her default
    assert Photo.get_by_id(garden).owner_id is None  # the sample is nobody's upload
    Place.create(photo=secret, country_code="CH", country="Switzerland", city="Secretville")
    Label.create(photo=secret, name="secretlabel", confidence=0.9)
    person = Person.create(name="Secret Person")
    face = Face.create(
        photo=secret, x=0.2, y=0.2, width=0.2, height=0.2, score=0.9, embedding=bytes(512),
        person=person.id,
    )  # fmt: skip
    # "same person?": two unknown faces, one on her private photo, one on the garden photo
    unknown = [
        Face.create(photo=p, x=0.6, y=0.6, width=0.1, height=0.1, score=0.9, embedding=bytes(512))
        for p in (secret, garden)
    ]
    asked = Suggestion.create()
    for each in unknown:
        SuggestionFace.create(suggestion=asked.id, face=each.id)
    crop = people.crop_path(library.settings.library.cache, face.id)  # as the faces stage would
    crop.parent.mkdir(parents=True, exist_ok=True)
    crop.write_bytes((library.root / "ana/2025/Secret/ZZPRIV01.jpg").read_bytes())
    AlbumPhoto.create(album=album.id, photo=secret)
    album.cover_id = secret
    album.save()
    return Home(
        library, _member(library, "ana"), _member(library, "ben"), _member(library, "ada"),
        secret, row.id, face.id, person.id, album.id, garden, ben_link, before,
    )  # fmt: skip


LISTS = (
    "/", "/?q=party", "/search?q=camera:pixel", "/favorites", "/archive", "/albums",
    "/folders", "/folders/ana", "/folders/ana/2025/Secret", "/people", "/places", "/labels",
    "/api/photos", "/api/photos?q=garden", "/api/photos?q=city:secretville",
    "/api/photos?q=label:secretlabel", "/api/photos?q=person:%22Secret%20Person%22",
    "/api/photos?q=folder:ana", "/api/months", "/api/folders", "/api/folders?path=ana",
    "/api/albums", "/api/people", "/api/places", "/api/places/clusters?zoom=0", "/search",
    "/places/world.geojson", "/shares", "/api/shares", "/api/suggestions", "/duplicates",
    "/api/duplicates", "/memories", "/memories?part=strip",
)  # fmt: skip


def test_a_private_upload_is_invisible_to_another_member_on_every_route(home: Home) -> None:
    values = {
        "photo_id": [str(home.secret)],
        "file_id": [str(home.secret_file)],
        "face_id": [str(home.face)],
        "person_id": [str(home.person)],
        "album_id": [str(home.album)],
        "path": ["ana", "ana/2025/Secret"],
        "year": ["2025"],  # the secret photo's: not among the year's memories
    }
    walked = 0
    for method, rule in home.routes():
        if method != "GET" or rule.startswith(("/s/", "/static/", "/login")):
            continue
        if rule == "/admin":  # admins only: a member gets 403 (tests/test_verify.py)
            continue
        if rule.endswith("/zip") and rule != "/zip":
            continue  # an album's zip: its photos as the album page lists them (tests/test_zips.py)
        if rule == "/api/rendered":  # photos named in its query: the secret one is no answer
            asked = f"/api/rendered?ids={home.secret}"
            assert home.ben.get(asked).json == {"ready": [], "pending": []}
            assert home.ana.get(asked).json == {"ready": [home.secret], "pending": []}
            continue
        if rule == "/zip":  # photos named in its query: below, with the secret one
            zipped = home.ben.get(f"/zip?ids={home.secret}", expect_errors=True)
            assert (
                zipped.status_int == 404
                or zipfile.ZipFile(io.BytesIO(zipped.body)).namelist() == []
            )
            continue
        names = PARAM.findall(rule)
        if not names:  # the lists: below, each with what it needs
            assert any(path.split("?")[0] == rule for path in LISTS), rule
            continue
        if any(name not in values for name in names):
            continue
        paths = [rule]
        for name in names:
            paths = [PARAM.sub(value, p, count=1) for p in paths for value in values[name]]
        for path in paths:
            answer = home.ben.get(path, expect_errors=True)
            walked += 1
            private_id = any(n in ("photo_id", "file_id", "face_id", "person_id") for n in names)
            assert answer.status_int == (404 if private_id else 200), (path, answer.status)
            assert leaks(answer.text, home.secret) == [], path
            if private_id:  # Ana gets what Ben does not (a video of a photo is 404 for her too)
                mine = home.ana.get(path, expect_errors=True).status_int
                assert mine == (404 if "/video/" in path else 200), path
    assert walked >= 12
    for path in LISTS:
        answer = home.ben.get(path)
        assert leaks(answer.text, home.secret) == [], path
    assert leaks(home.ana.get("/").text, home.secret)  # she sees it (the check can fail)
    assert leaks(home.ana.get("/api/photos?q=city:secretville").text, home.secret)
    assert leaks(home.ana.get(f"/album/{home.album}").text, home.secret)
    assert leaks(home.ana.get("/people").text, home.secret)
    # the album: counted, covered and listed without it for Ben
    album = home.ben.get(f"/api/albums/{home.album}").json
    assert album["count"] == 1 and album["cover_id"] == home.garden
    assert home.ana.get(f"/api/albums/{home.album}").json["count"] == 2
    # previous and next on a photo page never lead to it
    for context in ("", f"?album={home.album}", "?q=camera:pixel"):
        page = home.ben.get(f"/photo/{home.garden}{context}").text
        assert leaks(page, home.secret) == [], context
    assert "ana" not in [f["name"] for f in home.ben.get("/api/folders").json["folders"]]
    assert "ana" in [f["name"] for f in home.ana.get("/api/folders").json["folders"]]


def test_another_member_cannot_touch_it(home: Home) -> None:
    ben, pid = home.ben, home.secret
    for path, body in (
        (f"/api/photos/{pid}", {"favorite": True}),
        (f"/api/albums/{home.album}/photos", {"add": [pid]}),
        (f"/api/albums/{home.album}", {"cover_id": pid}),
        ("/api/photos/visibility", {"ids": [pid], "visibility": "household"}),
        (f"/api/faces/{home.face}", {"name": "Someone"}),
        (f"/api/people/{home.person}", {"name": "Someone"}),
        ("/api/shares", {"kind": "photo", "photo_id": pid}),
    ):
        answer = ben.post_json(path, body, headers=_csrf(ben), expect_errors=True)
        assert answer.status_int in (400, 404), (path, answer.status)
    removed = ben.post_json(
        f"/api/albums/{home.album}/photos", {"remove": [pid]}, headers=_csrf(ben)
    ).json
    assert removed["removed"] == 0  # what Ben does not see, Ben does not take out
    assert AlbumPhoto.select().where(AlbumPhoto.photo == pid).count() == 1
    photo = Photo.get_by_id(pid)
    assert (photo.favorite, photo.visibility) == (False, visibility.PRIVATE)
    assert Face.get_by_id(home.face).person_id == home.person


def test_links_show_only_what_their_maker_sees_when_a_visitor_comes(home: Home) -> None:
    app = make_app(home.library.settings)

    def visitor_ids(share: Share) -> set[int]:
        guest = webtest.TestApp(app)  # a fresh browser each time
        return {item["id"] for item in guest.get(f"/s/{share.token}/api/photos").json["items"]}

    assert home.secret not in visitor_ids(home.ben_link)
    assert shares.page(home.ben_link).total == home.before  # it did not grow
    made = home.ben.post_json(
        "/api/shares", {"kind": "album", "album_id": home.album}, headers=_csrf(home.ben)
    ).json
    ben_album = shares.find(made["token"])
    assert ben_album is not None and visitor_ids(ben_album) == {home.garden}
    assert made["photos"] == 1
    ana_id = Account.get(Account.name == "ana").id
    ana_link = shares.create("search", query="camera:pixel", created_by=ana_id)
    assert home.secret in visitor_ids(ana_link)  # her own link: she chose to share it
    # an admin who sees everything still never shares another member's private photo
    ada_id = Account.get(Account.name == "ada").id
    ada_link = shares.create("search", query="camera:pixel", created_by=ada_id)
    assert home.secret not in visitor_ids(ada_link)
    cli_link = shares.create("search", query="camera:pixel")
    assert home.secret not in visitor_ids(cli_link)
    with pytest.raises(NotFound):
        shares.create("photo", photo_id=home.secret, created_by=ada_id)
    # once Ana makes it the household's, Ben's link shows it too (it is a live search)
    visibility.set_visibility(visibility.Viewer(ana_id), [home.secret], visibility.HOUSEHOLD_ONLY)
    assert home.secret in visitor_ids(home.ben_link)


def test_admins_see_private_photos_only_where_the_config_says(home: Home) -> None:
    assert home.ada.get(f"/photo/{home.secret}", expect_errors=True).status_int == 404
    assert leaks(home.ada.get("/").text, home.secret) == []
    seeing = _member(home.library, "ada", admins_see_private=True)
    assert seeing.get(f"/photo/{home.secret}").status_int == 200
    assert leaks(seeing.get("/").text, home.secret)
    assert "private: only they see it" in seeing.get(f"/photo/{home.secret}").text
    # seeing is not owning: it stays Ana's to change
    answer = seeing.post_json(
        "/api/photos/visibility",
        {"ids": [home.secret], "visibility": "household"},
        headers=_csrf(seeing),
        expect_errors=True,
    )
    assert answer.status_int == 403
    album = seeing.post_json("/api/albums", {"title": "Ada's"}, headers=_csrf(seeing)).json
    for path, body in (
        (f"/api/photos/{home.secret}", {"favorite": True}),
        ("/api/photos/edit", {"ids": [home.secret], "title": "Mine now"}),
        ("/api/photos/flags", {"ids": [home.secret], "archived": True}),
        (f"/api/albums/{album['id']}/photos", {"add": [home.secret]}),
    ):  # nor is it hers to touch
        touched = seeing.post_json(path, body, headers=_csrf(seeing), expect_errors=True)
        assert touched.status_int == 404, (path, touched.status_int)
    photo = Photo.get_by_id(home.secret)
    assert (photo.favorite, photo.archived, photo.title) == (False, False, "ZZPRIV garden party")
    ben_seeing = _member(home.library, "ben", admins_see_private=True)
    assert ben_seeing.get(f"/photo/{home.secret}", expect_errors=True).status_int == 404


def test_owners_make_their_photos_private_or_the_households(home: Home) -> None:
    ana, ben = home.ana, home.ben
    write_jpeg(
        home.library.root / "ana/2025/Party/P1.jpg", Shot(dt.datetime(2025, 7, 1, 20)), seed=1
    )
    write_jpeg(
        home.library.root / "ana/2025/Party/P2.jpg", Shot(dt.datetime(2025, 7, 1, 21)), seed=2
    )
    home.library.index()
    party = [home.library.photo_of(n)["id"] for n in ("P1.jpg", "P2.jpg")]
    batch = [home.secret, *party]
    page = ana.get(f"/photo/{home.secret}").text
    assert 'data-action="private"' in page and "private: only you see it" in page
    assert 'data-action="private"' not in ben.get(f"/photo/{home.garden}").text  # nobody's
    ana.post_json(  # no CSRF token: refused
        "/api/photos/visibility", {"ids": batch, "visibility": "household"}, status=403
    )
    done = ana.post_json(
        "/api/photos/visibility", {"ids": batch, "visibility": "household"}, headers=_csrf(ana)
    ).json
    assert done == {"ids": batch, "visibility": "household"}
    assert all(ben.get(f"/photo/{pid}").status_int == 200 for pid in batch)
    mine = ben.get(f"/photo/{home.secret}").text
    assert 'data-action="private"' not in mine and 'class="owner">ana' in mine
    refused = ben.post_json(  # Ben sees them now, but they are not his
        "/api/photos/visibility",
        {"ids": [party[0]], "visibility": "private"},
        headers=_csrf(ben),
        status=403,
    )
    assert "not yours" in refused.json["error"]
    for bad in ({"ids": "1", "visibility": "private"}, {"ids": batch, "visibility": "secret"}):
        ana.post_json("/api/photos/visibility", bad, headers=_csrf(ana), status=400)
    ana.post_json(
        "/api/photos/visibility",
        {"ids": [party[0]], "visibility": "private"},
        headers=_csrf(ana),
    )
    assert ben.get(f"/photo/{party[0]}", expect_errors=True).status_int == 404
    assert ben.get(f"/photo/{party[1]}").status_int == 200
    # all or nothing: one id that is not hers and nothing changes
    ana.post_json(
        "/api/photos/visibility",
        {"ids": [party[1], 999_999], "visibility": "private"},
        headers=_csrf(ana),
        status=404,
    )
    assert Photo.get_by_id(party[1]).visibility == visibility.HOUSEHOLD_ONLY


def test_members_see_paths_relative_to_their_root(home: Home) -> None:
    root = str(home.library.root)
    for app in (home.ana, home.ben, home.ada):
        found = app.get("/api/photos?limit=500").json["items"]
        paths = [f["path"] for item in found for f in item["files"]]
        assert paths and all(not p.startswith("/") and root not in p for p in paths)
        assert root not in app.get(f"/photo/{home.garden}").text
    item = home.ana.get(f"/api/photos/{home.secret}").json
    assert item["files"][0]["path"] == "ana/2025/Secret/ZZPRIV01.jpg"
    assert (item["owner"], item["visibility"]) == ("ana", "private")


def test_the_user_commands_set_the_default_for_new_uploads(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _cli(home.library, "user", "list") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "private" in lines["ana"] and "household" in lines["ben"]
    assert _cli(home.library, "user", "set", "ben", "--private-uploads") == 0
    assert "private" in capsys.readouterr().out
    write_jpeg(home.library.root / "ben/B1.jpg", Shot(dt.datetime(2025, 8, 1, 9)), seed=3)
    home.library.index()
    b1 = Photo.get_by_id(home.library.photo_of("B1.jpg")["id"])
    assert b1.visibility == visibility.PRIVATE and b1.owner_id == Account.get(name="ben").id
    assert home.ana.get(f"/photo/{b1.id}", expect_errors=True).status_int == 404
    assert _cli(home.library, "user", "set", "ben", "--household-uploads") == 0
    assert Photo.get_by_id(b1.id).visibility == visibility.PRIVATE  # made before: it stays
    assert _cli(home.library, "user", "set", "nobody", "--private-uploads") == 2


def test_an_older_catalog_gets_its_owners(db_url: str, tmp_path: Any) -> None:
    """A catalog at schema 3 (before owners) with a member's uploads: after the migration they
    are hers and still the household's; the rest is nobody's."""
    db = connect(db_url, tmp_path)
    with db.bind_ctx([migrations.SchemaVersion]):
        migrations.SchemaVersion.create_table()
        for number, name, step in migrations.MIGRATIONS[:3]:
            step(db)
            migrations.SchemaVersion.create(version=number, name=name, applied_at=dt.datetime.now())
    db.execute_sql("INSERT INTO root (path, path_key) VALUES ('/srv/photos', 'r')")
    db.execute_sql(
        "INSERT INTO account (name, authorized_keys, folder, role, created_at) VALUES "
        "('eve', '', '/srv/photos/uploads/eve', 'member', '2026-01-01 00:00:00')"
    )
    for i, rel in enumerate(("uploads/eve/a.jpg", "uploads/evelyn/b.jpg", "c.jpg"), 1):
        db.execute_sql(
            "INSERT INTO photo (type, taken_at, taken_at_local, taken_at_source, year, month, "
            "favorite, archived, missing, created_at, updated_at) VALUES ('image', "
            "'2020-01-01 00:00:00', '2020-01-01 00:00:00', 'exif', 2020, 1, 0, 0, 0, "
            "'2020-01-01 00:00:00', '2020-01-01 00:00:00')"
        )
        insert = (
            "INSERT INTO file (root_id, rel_path, rel_path_raw, path_key, stem_key, photo_id, "
            "size, mtime_ns, role, status, v_identify, v_metadata, v_renditions, rendered, "
            "indexed_at) VALUES (1, ?, ?, ?, ?, ?, 1, 1, 'original', 'present', 1, 1, 1, 1, "
            "'2020-01-01 00:00:00')"
        )
        db.execute_sql(
            insert.replace("?", db.param),
            (rel, rel.encode(), f"k{i}", f"s{i}", i),
        )
    db.close()
    with Catalog(db_url, tmp_path) as catalog:
        assert "0006_household" in catalog.applied
        eve = Account.get(Account.name == "eve")
        owners = [(p.owner_id, p.visibility) for p in Photo.select().order_by(Photo.id)]
        assert owners == [(eve.id, "household"), (None, "household"), (None, "household")]
        assert eve.private_uploads is False


def test_full_screen_answers_whoever_asks_as_the_preview_does(home: Home) -> None:
    """`/large/ID` and `/s/TOKEN/large/ID` let in exactly whom the preview lets in: the
    owner, not another member, an admin only where the config says, a visitor only for a
    photo of the link, nobody once the link is withdrawn; an archived photo as well."""
    Photo.update(archived=True).where(Photo.id == home.garden).execute()
    seeing = _member(home.library, "ada", admins_see_private=True)
    ben_id = Account.get(Account.name == "ben").id
    link = shares.create("photo", photo_id=home.garden, created_by=ben_id)
    guest = webtest.TestApp(make_app(home.library.settings))
    cases = [
        (home.ana, "", home.secret, 200),
        (home.ben, "", home.secret, 404),
        (home.ada, "", home.secret, 404),
        (seeing, "", home.secret, 200),
        (home.ben, "", home.garden, 200),
        (guest, f"/s/{link.token}", home.garden, 200),
        (guest, f"/s/{link.token}", home.secret, 404),
        (guest, "/s/nosuchlink", home.garden, 404),
        (guest, "", home.garden, 303),  # not logged in: to the login page
    ]
    for revoked in (False, True):
        if revoked:
            shares.revoke(link)
            cases = [(guest, f"/s/{link.token}", p, 410) for p in (home.garden, home.secret)]
        for app, prefix, photo, status in cases:
            preview = app.get(f"{prefix}/preview/{photo}", expect_errors=True).status_int
            large = app.get(f"{prefix}/large/{photo}", expect_errors=True).status_int
            assert (preview, large) == (status, status), (prefix, photo, revoked)
