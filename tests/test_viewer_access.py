"""Who may do what in the viewer: logins and sessions, roles, trusted networks, public mode,
trusted proxies, the base path, login back-off, CSRF, and the headers on every answer."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
from typing import Any

import pytest
import webtest

from conftest import Library
from shoebox.catalog.models import Account, Session
from shoebox.passwords import hash_password
from shoebox_viewer.app import make_app

PASSWORD = "correct horse battery staple"  # noqa: S105


def _viewer(library: Library, **changes: Any) -> webtest.TestApp:
    viewer = dataclasses.replace(library.settings.viewer, **changes)
    settings = dataclasses.replace(library.settings, viewer=viewer)
    return webtest.TestApp(make_app(settings), extra_environ={"REMOTE_ADDR": "203.0.113.9"})


def _account(name: str, role: str) -> None:
    Account.create(name=name, password_hash=hash_password(PASSWORD), folder=f"/x/{name}", role=role)


def _login_form(page: Any) -> Any:
    return next(f for f in page.forms.values() if f.action.endswith("/login"))


def _log_in(app: webtest.TestApp, name: str, password: str = PASSWORD, **kw: Any) -> Any:
    form = _login_form(app.get("/login", **kw))
    form["name"], form["password"] = name, password
    return form.submit(expect_errors=True, **kw)


def test_a_stranger_is_sent_to_the_login_page_and_the_api_says_401(library: Library) -> None:
    app = _viewer(library)
    page = app.get("/photo/1?x=1", status=303)
    assert "/login?next=%2Fphoto%2F1%3Fx%3D1" in page.location
    assert app.get("/api/photos", status=401).json["error"] == "log in first"


def test_login_makes_a_session_that_only_its_hash_is_kept_of(library: Library) -> None:
    _account("alice", "admin")
    app = _viewer(library)
    answer = _log_in(app, "alice")
    assert answer.status_int == 303
    cookie = next(c for c in app.cookiejar if c.name == "sb_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert len(cookie.value) >= 43  # 256 random bits, base64
    rows = list(Session.select())
    assert len(rows) == 1 and cookie.value not in rows[0].token_hash
    assert app.get("/api/photos").status_int == 200
    app.post("/logout", {"csrf_token": app.cookies["sb_csrf"]}, status=303)
    assert Session.select().count() == 0
    app.get("/api/photos", status=401)


def test_wrong_passwords_are_refused_logged_and_backed_off(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    _account("alice", "member")
    app = _viewer(library)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert _log_in(app, "alice", "wrong").status_int == 401
    assert "failed login for alice from 203.0.113.9" in caplog.text
    answer = _log_in(app, "alice")  # the right password, but too soon
    assert answer.status_int == 429 and "Retry-After" in answer.headers
    assert "try again in" in answer.text
    other = webtest.TestApp(app.app, extra_environ={"REMOTE_ADDR": "203.0.113.10"})
    assert _log_in(other, "alice").status_int == 303  # another address is not held back
    assert _log_in(app, "nobody").status_int in (401, 429)


def test_after_login_only_pages_inside_the_viewer_are_returned_to(library: Library) -> None:
    _account("alice", "member")
    app = _viewer(library)
    for target, lands in (
        ("/albums", "/albums"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        form = _login_form(app.get("/login", {"next": target}))
        form["name"], form["password"] = "alice", PASSWORD
        assert form.submit().location == f"http://localhost:80{lands}", target


def test_roles_decide_who_may_change_things(library: Library) -> None:
    _account("vera", "viewer")
    app = _viewer(library)
    _log_in(app, "vera")
    assert app.get("/api/photos").status_int == 200
    csrf = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    app.post_json("/api/albums", {"title": "x"}, headers=csrf, status=403)


def test_a_post_without_the_csrf_token_is_refused(library: Library) -> None:
    _account("alice", "admin")
    app = _viewer(library)
    _log_in(app, "alice")
    answer = app.post_json("/api/albums", {"title": "x"}, status=403)
    assert "CSRF" in answer.text
    wrong = {"X-CSRF-Token": "x" * 22}
    app.post_json("/api/albums", {"title": "x"}, headers=wrong, status=403)
    form_without = app.post("/logout", status=403)
    assert "CSRF" in form_without.text
    login = webtest.TestApp(app.app, extra_environ={"REMOTE_ADDR": "203.0.113.11"})
    login.post("/login", {"name": "alice", "password": PASSWORD}, status=403)


def test_a_trusted_network_browses_without_a_login_and_others_must_log_in(
    library: Library,
) -> None:
    app = _viewer(library, trusted_networks=("192.168.0.0/16",))
    lan = webtest.TestApp(app.app, extra_environ={"REMOTE_ADDR": "192.168.1.20"})
    assert lan.get("/api/photos").status_int == 200
    app.get("/api/photos", status=401)  # 203.0.113.9 is not on the LAN


def test_public_mode_lets_anyone_look_but_not_change(library: Library) -> None:
    app = _viewer(library, auth="public")
    assert app.get("/api/photos").status_int == 200
    app.get("/login")  # the CSRF cookie
    csrf = {"X-CSRF-Token": app.cookies["sb_csrf"]}
    app.post_json("/api/albums", {"title": "x"}, headers=csrf, status=401)


def test_forwarded_headers_count_only_from_trusted_proxies(library: Library) -> None:
    forged = {
        "X-Forwarded-For": "192.168.1.20",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    lan = ("192.168.0.0/16",)
    direct = _viewer(library, trusted_networks=lan)
    direct.get("/api/photos", headers=forged, status=401)  # nobody vouches for the header
    proxied = _viewer(library, trusted_networks=lan, trusted_proxies=("127.0.0.1",))
    behind = webtest.TestApp(proxied.app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    assert behind.get("/api/photos", headers=forged).status_int == 200
    far = {**forged, "X-Forwarded-For": "192.168.1.20, 198.51.100.7"}
    behind.get("/api/photos", headers=far, status=401)  # the proxy saw 198.51.100.7
    page = behind.get("/photo/1", headers={**far, "X-Forwarded-Host": "photos.example"})
    assert page.location.startswith("https://photos.example/login")
    assert page.headers["Strict-Transport-Security"]


def test_login_cookies_are_secure_behind_tls(library: Library) -> None:
    _account("alice", "member")
    app = _viewer(library, trusted_proxies=("127.0.0.1",))
    tls = {"X-Forwarded-Proto": "https"}
    behind = webtest.TestApp(app.app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    form = _login_form(behind.get("/login", headers=tls))
    form["name"], form["password"] = "alice", PASSWORD
    answer = form.submit(headers=tls)
    cookies = answer.headers.getall("Set-Cookie")
    session = next(c for c in cookies if c.startswith("sb_session="))
    assert "Secure" in session and "HttpOnly" in session and "samesite=lax" in session.lower()


def test_a_base_path_prefixes_every_url_and_nothing_answers_outside_it(
    library: Library,
) -> None:
    _account("alice", "member")
    app = _viewer(library, base_path="/photos/")
    app.get("/login", status=404)
    app.get("/photos", status=308)
    page = app.get("/photos/login")
    assert 'action="/photos/login"' in page.text
    assert 'src="/photos/static/app.js?v=' in page.text
    form = _login_form(page)
    form["name"], form["password"] = "alice", PASSWORD
    assert form.submit().location == "http://localhost:80/photos/"
    cookie = next(c for c in app.cookiejar if c.name == "sb_session")
    assert cookie.path == "/photos/"


@pytest.mark.parametrize("path", ["/login", "/api/photos", "/no/such/page", "/static/../x"])
def test_every_answer_carries_the_security_headers(library: Library, path: str) -> None:
    answer = _viewer(library).get(path, expect_errors=True)
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "Traceback" not in answer.text


def test_a_login_holds_on_every_viewer_process_of_one_catalog(library: Library) -> None:
    _account("alice", "member")
    first, second = _viewer(library), _viewer(library)
    _log_in(first, "alice")
    token = first.cookies["sb_session"]
    second.set_cookie("sb_session", token)
    assert second.get("/api/photos").status_int == 200


def test_the_viewer_process_stays_small() -> None:
    """The web process must not load the daemon's SFTP, watcher, decoders or ML libraries."""
    heavy = ("asyncssh", "watchdog", "PIL", "rawpy", "exiftool", "pillow_heif", "mediapipe")
    heavy += ("numpy", "scipy", "shapely")  # the places stage's geocoder stays in the daemon
    heavy += ("onnx", "onnxruntime")  # and so does the labels stage's classifier
    code = (
        "import sys, shoebox.cli, shoebox_viewer.serve, shoebox_viewer.app\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
