"""People in the viewer: the people page (people, "same person?" suggestions, unknown faces),
a person's page (their photos, their faces, rename, merge, hide), face crops by face id, and
the JSON API behind them and the face boxes on the photo page, "not a face" included. With the
faces stage off, the people page says what it does and how to turn it on.

The faces stage writes crops to `<cache>/faces/<face id>.jpg`; this module only sends them,
so the viewer decodes no images and never imports the face models. What a person may do with
people and faces is `shoebox.catalog.people`; reads need `browse`, changes `change`. Faces on
photos the requester does not see, and people it knows only from such faces, are 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import bottle

from shoebox.catalog import lists, people, visibility
from shoebox.errors import UsageError
from shoebox_viewer import access, jsonio
from shoebox_viewer.context import Context, url
from shoebox_viewer.grid import read_grid
from shoebox_viewer.http import IMMUTABLE, send_file

MAX_BODY = 16 * 1024  # a name, an id: people requests are small


def install(app: bottle.Bottle, ctx: Context) -> None:
    """The /people, /person, /face and people API routes."""
    cache = ctx.settings.library.cache

    def sees() -> visibility.Viewer:
        return access.who().sees

    @app.get("/people")
    @access.browse
    def people_page() -> str:
        hidden = bottle.request.query.get("hidden") == "1"
        waiting, unknown = people.unknown_faces(sees())
        return ctx.render(
            "people.html",
            people=people.listing(sees(), hidden=hidden),
            hidden=hidden,
            unknown=unknown,
            waiting=waiting,
            suggestions=[] if hidden else people.suggestions(sees()),
            min_cluster=ctx.settings.faces.min_cluster,
            can_change=access.who().can_change,
        )

    @app.get("/person/<person_id:int>")
    @access.browse
    def person_page(person_id: int) -> str:
        who = _person(person_id)
        query = lists.person(who.id, who.name, sees())
        context = {"q": f'person:"{who.name}"'} if who.name and '"' not in who.name else {}
        shared = {
            "grid": read_grid(query),
            "prefix": url(""),
            "ctx_qs": "?" + urlencode(context) if context else "",
        }
        if bottle.request.query.get("part") == "grid":
            return ctx.render("_grid.html", **shared)
        return ctx.render(
            "person.html",
            person=people.as_dict(who, sees()),
            faces=people.faces_of_person(who.id, sees()),
            others=[p for p in people.listing(sees()) if p["id"] != who.id],
            can_change=access.who().can_change,
            **shared,
        )

    @app.get("/face/<face_id:int>")
    @access.browse
    def face_crop(face_id: int) -> Any:
        _face(face_id)  # a face that is gone is a 404 even if its crop is still there
        path = people.crop_path(cache, face_id)
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        return send_file(
            bytes(path),
            content_type="image/jpeg",
            etag=f'"face-{face_id}-{stamp:x}"',
            cache_control=IMMUTABLE if stamp else "no-store",
        )

    @app.get("/api/people")
    @access.browse
    def api_people() -> str:
        hidden = bottle.request.query.get("hidden") == "1"
        found = people.listing(sees(), hidden=hidden)
        return jsonio.answer({"total": len(found), "items": found})

    @app.get("/api/people/<person_id:int>")
    @access.browse
    def api_person(person_id: int) -> str:
        who = _person(person_id)
        return jsonio.answer(
            {**people.as_dict(who, sees()), "face_list": people.faces_of_person(who.id, sees())}
        )

    @app.post("/api/people/<person_id:int>")
    @access.change
    def api_person_change(person_id: int) -> str:
        body = jsonio.body({"name", "hidden"}, limit=MAX_BODY)
        who = _person(person_id)
        if "name" in body:
            people.rename(who, body["name"])
        if "hidden" in body:
            people.set_hidden(who, body["hidden"])
        return jsonio.answer(people.as_dict(who, sees()))

    @app.post("/api/people/<person_id:int>/merge")
    @access.change
    def api_merge(person_id: int) -> str:
        body = jsonio.body({"into"}, limit=MAX_BODY)
        source = _person(person_id)
        into = _person(body.get("into"))
        people.merge(source, into)
        return jsonio.answer(people.as_dict(into, sees()))

    @app.get("/api/photos/<photo_id:int>/faces")
    @access.browse
    def api_photo_faces(photo_id: int) -> str:
        if not visibility.can_see(sees(), photo_id):
            raise bottle.HTTPError(404, "no such photo")
        return jsonio.answer({"photo_id": photo_id, "faces": people.faces_in_photo(photo_id)})

    @app.post("/api/faces/<face_id:int>")
    @access.change
    def api_face(face_id: int) -> str:
        body = jsonio.body({"person_id", "reject_person_id", "unassign", "name"}, limit=MAX_BODY)
        if len(body) != 1:
            raise UsageError("send one of person_id, reject_person_id, unassign or name")
        face = _face(face_id)
        if "person_id" in body:
            people.assign(face, _person(body["person_id"]))
        elif "reject_person_id" in body:
            people.reject(face, _person(body["reject_person_id"]))
        elif "unassign" in body:
            if body["unassign"] is not True:
                raise UsageError("unassign must be true")
            people.remove_face(face)
        else:
            people.name_face(face, body["name"])
        face = _face(face_id)
        return jsonio.answer(
            {"id": face.id, "person_id": face.person_id, "confirmed": bool(face.confirmed)}
        )

    @app.post("/api/faces/<face_id:int>/not-a-face")
    @access.change
    def api_not_a_face(face_id: int) -> str:
        jsonio.body(set(), limit=MAX_BODY)
        people.not_a_face(_face(face_id), cache)
        return jsonio.answer({"id": face_id, "deleted": True})

    @app.get("/api/suggestions")
    @access.browse
    def api_suggestions() -> str:
        found = people.suggestions(sees())
        return jsonio.answer({"total": len(found), "items": found})

    @app.post("/api/suggestions/<suggestion_id:int>/accept")
    @access.change
    def api_accept(suggestion_id: int) -> str:
        body = jsonio.body({"name"}, limit=MAX_BODY)
        found = people.suggestion(suggestion_id, sees())
        who = people.accept(found, sees(), body.get("name"))
        return jsonio.answer(people.as_dict(who, sees()))

    @app.post("/api/suggestions/<suggestion_id:int>/dismiss")
    @access.change
    def api_dismiss(suggestion_id: int) -> str:
        jsonio.body(set(), limit=MAX_BODY)
        people.dismiss(people.suggestion(suggestion_id, sees()))
        return jsonio.answer({"id": suggestion_id, "dismissed": True})


def _person(person_id: Any) -> Any:
    return people.person(person_id, access.who().sees)


def _face(face_id: int) -> Any:
    return people.face(face_id, access.who().sees)
