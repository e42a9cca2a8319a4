"""Face boxes on the photo page in a real headless Chromium: placed over the right part of the
picture, named, linking to the person; naming an unknown face from the page; on the People
page, saying yes to a "same person?" suggestion and "not a face" to a cat. The faces are
catalog rows as the faces stage leaves them (the stage itself is tested in test_faces.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import ViewerServer
from shoebox.catalog import search
from shoebox.catalog.models import Face, NotFace, Person, Suggestion, SuggestionFace

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def faces(viewer_server: ViewerServer) -> Iterator[tuple[int, Person]]:
    photo = search.page(search.parse("type:image camera:canon"), limit=1).items[0]["id"]
    ana = Person.create(name="Ana Browser")
    known = Face.create(
        photo=photo, x=0.1, y=0.2, width=0.25, height=0.3, score=0.9, embedding=bytes(512),
        person=ana.id,
    )  # fmt: skip
    unknown = Face.create(
        photo=photo, x=0.6, y=0.5, width=0.2, height=0.2, score=0.8, embedding=bytes(512)
    )
    try:
        yield photo, ana
    finally:
        Face.delete().where(Face.id.in_([known.id, unknown.id])).execute()
        Person.delete().where(Person.name.in_(["Ana Browser", "Ben Browser"])).execute()


def test_face_boxes_sit_on_the_picture_and_an_unknown_face_gets_a_name(
    page: Any, viewer_server: ViewerServer, faces: tuple[int, Person]
) -> None:
    photo, ana = faces
    page.goto(f"{viewer_server.url}photo/{photo}")
    named = page.locator(".face-box", has_text="Ana Browser")
    expect(named).to_be_visible()
    picture = page.locator(".stage img").first.bounding_box()
    box = named.bounding_box()
    assert picture and box
    assert abs(box["x"] - (picture["x"] + 0.1 * picture["width"])) < 2
    assert abs(box["y"] - (picture["y"] + 0.2 * picture["height"])) < 2
    assert abs(box["width"] - 0.25 * picture["width"]) < 2
    assert named.get_attribute("href").endswith(f"person/{ana.id}")

    form = page.locator("form.name-face").nth(1)  # the unknown face
    form.locator("input[name=name]").fill("Ben Browser")
    form.locator("button[type=submit]").click()
    expect(page.locator(".face-box", has_text="Ben Browser")).to_be_visible()


@pytest.fixture
def suggested(viewer_server: ViewerServer) -> Iterator[list[int]]:
    """Two unknown faces offered as "same person?", and a third unknown face (a cat)."""
    photos = [p["id"] for p in search.page(search.parse("type:image"), limit=3).items]
    faces = [
        Face.create(
            photo=p, x=0.1 + 0.3 * i, y=0.2, width=0.2, height=0.2, score=0.8,
            embedding=bytes(512),
        ).id
        for i, p in enumerate(photos)
    ]  # fmt: skip
    offer = Suggestion.create()
    for face in faces[:2]:
        SuggestionFace.create(suggestion=offer.id, face=face)
    try:
        yield faces
    finally:
        Face.delete().where(Face.id.in_(faces)).execute()
        Suggestion.delete().where(Suggestion.id == offer.id).execute()
        Person.delete().where(Person.name == "Grandpa Browser").execute()
        NotFace.delete().execute()


def test_a_suggestion_becomes_a_person_and_a_cat_is_not_a_face(
    page: Any, viewer_server: ViewerServer, suggested: list[int]
) -> None:
    first, second, cat = suggested
    page.goto(f"{viewer_server.url}people")
    offer = page.locator(".suggestions > li")
    expect(offer).to_have_count(1)
    expect(offer.locator("img")).to_have_count(2)
    offer.locator("input[name=name]").fill("Grandpa Browser")
    offer.locator("button[type=submit]").click()
    grandpa = page.locator(".people a", has_text="Grandpa Browser")
    expect(grandpa).to_be_visible()
    expect(grandpa).to_contain_text("2 faces")
    expect(page.locator(".suggestions")).to_have_count(0)
    assert {Face.get_by_id(f).person_id for f in (first, second)} == {
        Person.get(Person.name == "Grandpa Browser").id
    }

    unknown = page.locator(f'.faces li[data-face="{cat}"]')
    expect(unknown).to_be_visible()
    unknown.locator('[data-action="not-a-face"]').click()
    expect(page.locator(f'.faces li[data-face="{cat}"]')).to_have_count(0)
    assert Face.get_or_none(Face.id == cat) is None
    assert NotFace.select().count() == 1
