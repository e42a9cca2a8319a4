"""People: the incremental clustering on made-up embeddings (joining, waiting, forming a
person, chaining, "not this person", one face per photo), and what the viewer lets a person
do (name, merge, remove a face, hide, `person:` search, face boxes, crops), through WebTest on
both backends. No models are needed here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from conftest import ViewerClient, page_body
from shoebox.catalog import people, visibility
from shoebox.catalog.models import Face, FaceRejection, NotFace, Person
from shoebox.enrich.clusters import DIMENSIONS, place

T = 0.5  # match_distance
WHEN = dt.datetime(2024, 5, 1, 12, 0)


def _vector(seed: int, spread: float = 0.0, step: int = 0) -> bytes:
    """A unit-ish vector for identity `seed`, moved `spread` away in a direction of its own
    for `step`."""
    base = np.random.default_rng(seed).normal(size=DIMENSIONS)
    base /= np.linalg.norm(base)
    if spread:
        noise = np.random.default_rng(seed * 1000 + step).normal(size=DIMENSIONS)
        noise -= noise.dot(base) * base
        base = base + noise / np.linalg.norm(noise) * spread
    return base.astype(np.float32).tobytes()


def _face(client: ViewerClient, embedding: bytes, photo: int | None = None, x: float = 0.1) -> int:
    if photo is None:
        photo = client.add_photo(f"p{Face.select().count()}.jpg", WHEN)
    face = Face.create(
        photo=photo, x=x, y=0.2, width=0.2, height=0.25, score=0.9, embedding=embedding
    )
    return int(face.id)


def _person(face_id: int) -> int | None:
    return Face.get_by_id(face_id).person_id


def test_unknown_faces_wait_until_enough_are_alike(viewer_client: ViewerClient) -> None:
    first = [_face(viewer_client, _vector(1, 0.2, i)) for i in range(2)]
    place(first, T, 3)
    assert [_person(f) for f in first] == [None, None]  # two are not enough
    third = _face(viewer_client, _vector(1, 0.2, 2))
    place([third], T, 3)
    owner = _person(third)
    assert owner is not None and {_person(f) for f in first} == {owner}
    later = _face(viewer_client, _vector(1, 0.2, 3))  # joins the person at once
    stranger = _face(viewer_client, _vector(2, 0.2, 0))
    place([later, stranger], T, 3)
    assert _person(later) == owner and _person(stranger) is None
    assert Person.get_by_id(owner).name is None


def test_a_growing_child_stays_one_person(viewer_client: ViewerClient) -> None:
    """Each year's face is near the year before, not near the first: nearest-neighbour
    matching follows the drift that an average face would lose."""
    base = np.frombuffer(_vector(5), dtype=np.float32).astype(np.float64)
    drift = np.frombuffer(_vector(6), dtype=np.float32).astype(np.float64)
    faces = []
    for year in range(8):
        for shot in range(3):
            v = (
                base
                + drift * 0.12 * year
                + np.frombuffer(_vector(7 + shot, 0.0), np.float32) * 0.05
            )
            faces.append(_face(viewer_client, v.astype(np.float32).tobytes()))
            place([faces[-1]], T, 3)
    first_year = np.frombuffer(Face.get_by_id(faces[0]).embedding, np.float32)
    last_year = np.frombuffer(Face.get_by_id(faces[-1]).embedding, np.float32)
    assert np.linalg.norm(first_year - last_year) > T  # too far for one threshold
    assert len({_person(f) for f in faces}) == 1 and _person(faces[0]) is not None


def test_no_chaining_and_one_face_per_photo(viewer_client: ViewerClient) -> None:
    photo = viewer_client.add_photo("group.jpg", WHEN)
    twins = [_face(viewer_client, _vector(3, 0.1, i), photo, x=0.1 * i) for i in range(3)]
    place(twins, T, 3)
    assert {_person(f) for f in twins} == {None}  # three faces in one photo: three people
    # a hub near four faces that are far from each other (a blurry face between strangers)
    hub = np.frombuffer(_vector(8), np.float32)
    spokes = []
    for k in range(4):
        away = np.frombuffer(_vector(40 + k), np.float32)
        away = away - away.dot(hub) * hub
        spokes.append((hub + away / np.linalg.norm(away) * 0.45).astype(np.float32).tobytes())
    strangers = [_face(viewer_client, v) for v in spokes]
    place(strangers, T, 3)
    centre = _face(viewer_client, hub.tobytes())
    place([centre], T, 3)
    assert {_person(f) for f in [*strangers, centre]} == {None}


def test_not_this_person_is_remembered(viewer_client: ViewerClient) -> None:
    faces = [_face(viewer_client, _vector(4, 0.2, i)) for i in range(4)]
    place(faces, T, 3)
    owner = people.person(_person(faces[0]), visibility.OPERATOR)
    people.reject(Face.get_by_id(faces[3]), owner)
    assert _person(faces[3]) is None
    Face.update(person=None).where(Face.id == faces[3]).execute()
    place([faces[3]], T, 3)  # placed again (a re-run): never back to the rejected person
    assert _person(faces[3]) != owner.id
    people.assign(Face.get_by_id(faces[3]), owner)  # a person's word lifts it
    assert _person(faces[3]) == owner.id and Face.get_by_id(faces[3]).confirmed
    assert not FaceRejection.select().where(FaceRejection.face == faces[3]).exists()


def _two_people(client: ViewerClient) -> tuple[int, int, list[int]]:
    faces = [_face(client, _vector(seed, 0.2, i)) for seed in (11, 12) for i in range(3)]
    place(faces, T, 3)
    first, second = _person(faces[0]), _person(faces[3])
    assert first is not None and second is not None and first != second
    return first, second, faces


def _post(client: ViewerClient, path: str, body: Any, status: int = 200, app: Any = None) -> Any:
    app = app or client.app
    return app.post_json(path, body, headers=client.csrf(app), status=status)


def test_name_merge_hide_and_search(viewer_client: ViewerClient) -> None:
    c = viewer_client
    anna, other, faces = _two_people(c)
    assert _post(c, f"/api/people/{anna}", {"name": "  Anna  "}).json["name"] == "Anna"
    listing = c.app.get("/api/people").json
    assert [p["name"] for p in listing["items"]] == ["Anna", None]
    photos = {p["id"] for p in c.app.get("/api/photos", {"q": "person:ANNA"}).json["items"]}
    assert photos == {Face.get_by_id(f).photo_id for f in faces[:3]}
    assert c.app.get("/api/photos", {"q": "person:nobody"}).json["items"] == []
    page = c.app.get(f"/person/{anna}")
    assert "Anna" in page.text and page.text.count('class="tile') == 3
    assert "Anna" in c.app.get("/people").text
    # hide: gone from the list, still found by name
    _post(c, f"/api/people/{anna}", {"hidden": True})
    assert [p["id"] for p in c.app.get("/api/people").json["items"]] == [other]
    assert [p["id"] for p in c.app.get("/api/people?hidden=1").json["items"]] == [anna]
    assert len(c.app.get("/api/photos", {"q": "person:anna|ben"}).json["items"]) == 3
    # merge: one person with every face
    merged = _post(c, f"/api/people/{other}/merge", {"into": anna}).json
    assert merged["id"] == anna and merged["faces"] == 6 and merged["name"] == "Anna"
    c.app.get(f"/person/{other}", status=404)


def test_faces_on_the_photo_page_and_naming(viewer_client: ViewerClient) -> None:
    c = viewer_client
    photo = c.add_photo("pair.jpg", WHEN)
    known = _face(c, _vector(20), photo, x=0.1)
    unknown = _face(c, _vector(21), photo, x=0.6)
    ben = Person.create(name="Ben")
    Face.update(person=ben.id).where(Face.id == known).execute()
    page = c.app.get(f"/photo/{photo}")
    assert page.text.count("data-box=") == 2
    assert 'data-box="0.1,0.2,0.2,0.25"' in page.text and "Ben" in page.text
    answer = _post(c, f"/api/faces/{unknown}", {"name": "cara"}).json
    cara = Person.get_by_id(answer["person_id"])
    assert cara.name == "cara" and answer["confirmed"]
    # "Cara" is the same person, in any case
    assert _post(c, f"/api/faces/{known}", {"name": "Cara"}).json["person_id"] == cara.id
    faces = c.app.get(f"/api/photos/{photo}/faces").json["faces"]
    assert [f["person_name"] for f in faces] == ["cara", "cara"]  # the name as first typed
    # remove a wrong face: back to unknown, remembered
    assert _post(c, f"/api/faces/{known}", {"unassign": True}).json["person_id"] is None
    assert FaceRejection.get(FaceRejection.face == known).person_id == cara.id
    assert Person.get_or_none(Person.id == ben.id) is not None  # named: kept though empty


def test_face_crops_by_id(viewer_client: ViewerClient) -> None:
    c = viewer_client
    face = _face(c, _vector(30))
    c.app.get(f"/face/{face}", status=404)  # no crop made yet
    crop = people.crop_path(c.library.settings.library.cache, face)
    crop.parent.mkdir(parents=True, exist_ok=True)
    crop.write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    answer = c.app.get(f"/face/{face}")
    assert answer.content_type == "image/jpeg" and "immutable" in answer.headers["Cache-Control"]
    again = c.app.get(f"/face/{face}", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_int == 304
    c.app.get("/face/999999", status=404)
    c.client(None).get(f"/face/{face}", status=303)  # nobody in particular: log in first


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/people/{p}", {"name": 5}, 400),
        ("/api/people/{p}", {"name": "a|b"}, 400),
        ("/api/people/{p}", {"name": "x" * 101}, 400),
        ("/api/people/{p}", {"hidden": "yes"}, 400),
        ("/api/people/{p}", {"colour": "red"}, 400),
        ("/api/people/{p}", [1, 2], 400),
        ("/api/people/{p}/merge", {"into": "{p}"}, 400),
        ("/api/people/{p}/merge", {"into": 99999}, 404),
        ("/api/people/{p}/merge", {"into": "abc"}, 400),
        ("/api/people/{p}/merge", {}, 400),
        ("/api/people/99999", {"name": "x"}, 404),
        ("/api/faces/{f}", {}, 400),
        ("/api/faces/{f}", {"person_id": 1.5}, 400),
        ("/api/faces/{f}", {"person_id": 99999}, 404),
        ("/api/faces/{f}", {"unassign": False}, 400),
        ("/api/faces/{f}", {"name": ""}, 400),
        ("/api/faces/{f}", {"name": "a", "unassign": True}, 400),
        ("/api/faces/99999", {"unassign": True}, 404),
    ],
)
def test_bad_changes_are_4xx_not_500(
    viewer_client: ViewerClient, path: str, body: Any, status: int
) -> None:
    c = viewer_client
    p, _, faces = _two_people(c)
    text = path.replace("{p}", str(p)).replace("{f}", str(faces[0]))
    if isinstance(body, dict):
        body = {k: (int(v.replace("{p}", str(p))) if v == "{p}" else v) for k, v in body.items()}
    answer = _post(c, text, body, status=status)
    assert answer.json["error"]


def test_viewers_look_but_do_not_change(viewer_client: ViewerClient) -> None:
    c = viewer_client
    p, _, faces = _two_people(c)
    vic = c.client("vic")
    assert vic.get("/people").status_int == 200
    assert vic.get(f"/person/{p}").status_int == 200
    _post(c, f"/api/people/{p}", {"name": "X"}, status=403, app=vic)
    _post(c, f"/api/faces/{faces[0]}", {"unassign": True}, status=403, app=vic)
    c.app.post_json(f"/api/people/{p}", {"name": "X"}, status=403)  # no CSRF header
    assert Person.get_by_id(p).name is None


def test_two_alike_faces_are_a_suggestion_that_becomes_a_person(
    viewer_client: ViewerClient,
) -> None:
    c = viewer_client
    pair = [_face(c, _vector(50, 0.2, i)) for i in range(2)]
    place(pair, T, 3)
    assert [_person(f) for f in pair] == [None, None]  # too few for a person by themselves
    offered = c.app.get("/api/suggestions").json["items"]
    assert [sorted(f["id"] for f in s["faces"]) for s in offered] == [sorted(pair)]
    page = c.app.get("/people").text
    assert "Same person?" in page and page.count('class="accept-suggestion"') == 1
    who = _post(c, f"/api/suggestions/{offered[0]['id']}/accept", {"name": "Grandpa"}).json
    assert who["name"] == "Grandpa" and who["faces"] == 2
    assert {_person(f) for f in pair} == {who["id"]}
    assert all(Face.get_by_id(f).confirmed for f in pair)
    assert c.app.get("/api/suggestions").json["items"] == []
    third = _face(c, _vector(50, 0.2, 2))  # the grouping then grows the person as usual
    place([third], T, 3)
    assert _person(third) == who["id"]


def test_a_dismissed_suggestion_is_not_offered_again(viewer_client: ViewerClient) -> None:
    c = viewer_client
    pair = [_face(c, _vector(51, 0.2, i)) for i in range(2)]
    place(pair, T, 3)
    (offered,) = c.app.get("/api/suggestions").json["items"]
    _post(c, f"/api/suggestions/{offered['id']}/dismiss", {})
    assert c.app.get("/api/suggestions").json["items"] == []
    place(pair, T, 3)  # placed again (a re-run): still not offered
    assert c.app.get("/api/suggestions").json["items"] == []
    assert "Same person?" not in c.app.get("/people").text
    _post(c, f"/api/suggestions/{offered['id']}/accept", {}, status=400)


def test_suggestions_grow_and_do_not_outlive_their_faces(viewer_client: ViewerClient) -> None:
    c = viewer_client
    first = _face(c, _vector(52, 0.2, 0))
    second = _face(c, _vector(52, 0.2, 1))
    place([first, second], T, 4)
    third = _face(c, _vector(52, 0.2, 2))
    place([third], T, 4)  # three alike, min_cluster 4: one suggestion of three
    (offered,) = c.app.get("/api/suggestions").json["items"]
    assert sorted(f["id"] for f in offered["faces"]) == sorted([first, second, third])
    fourth = _face(c, _vector(52, 0.2, 3))
    place([fourth], T, 4)  # now a person: nothing left to suggest
    assert _person(first) is not None
    assert c.app.get("/api/suggestions").json["items"] == []


def test_not_a_face_goes_and_teaches_the_grouping_nothing(viewer_client: ViewerClient) -> None:
    c = viewer_client
    owner, _, faces = _two_people(c)
    wrong = faces[0]
    photo = Face.get_by_id(wrong).photo_id
    crop = people.crop_path(c.library.settings.library.cache, wrong)
    crop.parent.mkdir(parents=True, exist_ok=True)
    crop.write_bytes(b"\xff\xd8 a jpeg")
    people.reject(
        Face.get_by_id(faces[1]), people.person(owner, visibility.OPERATOR)
    )  # memory that must go too
    assert _post(c, f"/api/faces/{wrong}/not-a-face", {}).json == {"id": wrong, "deleted": True}
    assert Face.get_or_none(Face.id == wrong) is None and not crop.exists()
    (box,) = NotFace.select().where(NotFace.photo == photo)
    assert (box.x, box.y, box.width, box.height) == (0.1, 0.2, 0.2, 0.25)
    assert c.app.get(f"/api/photos/{photo}/faces").json["faces"] == []
    c.app.get(f"/face/{wrong}", status=404)
    _post(c, f"/api/faces/{wrong}/not-a-face", {}, status=404)
    assert Person.get_by_id(owner)  # two faces left: still a person
    _post(c, f"/api/faces/{faces[2]}/not-a-face", {"extra": 1}, status=400)


def test_not_a_face_empties_an_unnamed_person(viewer_client: ViewerClient) -> None:
    c = viewer_client
    photo = c.add_photo("cat.jpg", WHEN)
    cat = _face(c, _vector(60), photo)
    whiskers = Person.create(name=None)
    Face.update(person=whiskers.id).where(Face.id == cat).execute()
    _post(c, f"/api/faces/{cat}/not-a-face", {})
    assert Person.get_or_none(Person.id == whiskers.id) is None


def test_only_members_say_not_a_face_or_answer_suggestions(viewer_client: ViewerClient) -> None:
    c = viewer_client
    pair = [_face(c, _vector(53, 0.2, i)) for i in range(2)]
    place(pair, T, 3)
    (offered,) = c.app.get("/api/suggestions").json["items"]
    vic = c.client("vic")
    assert "Same person?" in vic.get("/people").text
    assert "accept-suggestion" not in vic.get("/people").text  # viewers see no buttons
    assert 'data-action="not-a-face"' not in vic.get("/people").text
    for path in (
        f"/api/faces/{pair[0]}/not-a-face",
        f"/api/suggestions/{offered['id']}/accept",
        f"/api/suggestions/{offered['id']}/dismiss",
    ):
        _post(c, path, {}, status=403, app=vic)
        c.app.post_json(path, {}, status=403)  # no CSRF header
    c.client(None).get("/api/suggestions", status=401)
    assert Face.select().where(Face.id.in_(pair)).count() == 2
    max_ = c.client("max")
    _post(c, f"/api/faces/{pair[0]}/not-a-face", {}, app=max_)  # a member may
    assert Face.get_or_none(Face.id == pair[0]) is None
    _post(c, "/api/suggestions/99999/accept", {}, status=404)
    _post(c, "/api/suggestions/abc/accept", {}, status=404)


def test_menus_say_which_extras_are_off_and_how_to_turn_them_on(
    viewer_client: ViewerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import importlib.util

    import webtest

    from shoebox_viewer.app import make_app

    c = viewer_client
    on = page_body(c.app.get("/people").text)
    assert 'class="off"' not in on and "is off" not in on  # this install has both extras
    settings = c.library.settings
    settings = dataclasses.replace(
        settings, faces=dataclasses.replace(settings.faces, enabled=False)
    )
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnxruntime" else real(n, *a)
    )
    app = webtest.TestApp(make_app(settings))
    form = app.get("/login").forms[0]
    form["name"], form["password"] = "vic", c.PASSWORD
    form.submit()
    page = app.get("/people").text
    assert page.count('class="off"') == 2  # People and Labels, in the menu
    assert "Faces is off" in page and "enabled = false" in page and "No people yet" not in page
    assert f"--config {settings.source} index" in page
    labels = app.get("/labels").text
    assert "Labels is off" in labels and "the labels extra is not installed" in labels
    assert "pip install" in labels and "[labels]" in labels and "No labels yet" not in labels
