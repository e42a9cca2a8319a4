"""Signed tiles through a real nginx in front of a real viewer (waitress), with the location
block of systemd/nginx-shoebox.conf as it is: a member's page links tiles that nginx sends
from the cache by itself, only for the photos that member sees; a URL without its signature,
tampered with or expired is refused, and nothing else of the cache is reachable; a visitor's
tiles still go through the viewer, and stop the moment the link is withdrawn."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import Library, serving, wait_for
from shoebox.catalog import shares
from shoebox.catalog.cache import rendition_path
from shoebox.catalog.models import Account, Photo, Session, utcnow
from shoebox.errors import ConfigError
from shoebox.sample import make_library
from shoebox_viewer import signed

NGINX = Path("/usr/sbin/nginx")
EXAMPLE = Path(__file__).resolve().parents[1] / "systemd" / "nginx-shoebox.conf"
SIGNED = re.compile(r'src="(/r/([0-9a-f]{2})/([0-9a-f]{64})-tile\.jpg\?md5=[^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def signed_block(secret_conf: Path, cache: Path) -> str:
    """The example's signed-tiles location, pointed at this test's secret and cache."""
    text = EXAMPLE.read_text()
    block = text.split("# signed tiles: begin\n")[1].split("# signed tiles: end")[0]
    block = block.replace("/etc/shoebox/nginx-tiles-secret.conf", str(secret_conf))
    return block.replace("/var/cache/shoebox/", f"{cache}/")


@contextmanager
def nginx_in_front(workdir: Path, viewer_url: str, secret: str, cache: Path) -> Iterator[str]:
    """nginx on a free port: the signed-tiles block, everything else proxied to the viewer."""
    workdir.mkdir(parents=True, exist_ok=True)
    secret_conf = workdir / "tiles-secret.conf"
    secret_conf.write_text(f'set $shoebox_tiles_secret "{secret}";\n')
    port = free_port()
    # workers run as the tests do (pytest's folders are 0700); as root, nginx would pick nobody
    user = "user root;\n" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(
        f"{user}pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\ndaemon off;\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log off; client_body_temp_path {workdir};\n"
        f"  proxy_temp_path {workdir}/proxy;\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        f"{signed_block(secret_conf, cache)}\n"
        f"    location / {{ proxy_pass {viewer_url}; proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $remote_addr; } } }\n"
    )
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    try:

        def listening() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for("nginx to listen", listening, timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def get(url: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    headers = {"Cookie": cookie} if cookie else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 -- our own servers
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def session_for(name: str) -> str:
    """A logged-in session of a new member, as the login form makes it; its cookie."""
    account = Account.create(name=name, folder=f"/x/{name}", role="member")
    token = secrets.token_urlsafe(32)
    Session.create(
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        account=account.id,
        expires_at=utcnow() + dt.timedelta(days=1),
    )
    return f"sb_session={token}"


@pytest.fixture
def site(library: Library, tmp_path: Path) -> Iterator[tuple[Library, str, str]]:
    """The sample library indexed, a viewer with signed tiles, nginx in front; yields the
    library, nginx's URL and the secret."""
    if not NGINX.exists():
        pytest.skip("nginx is not installed here")
    make_library(library.root)
    library.index()
    secret = secrets.token_urlsafe(32)
    secret_file = tmp_path / "tiles.secret"
    secret_file.write_text(secret + "\n")
    viewer = dataclasses.replace(
        library.settings.viewer,
        signed_tiles_secret_file=str(secret_file),
        trusted_proxies=("127.0.0.1",),
    )
    settings = dataclasses.replace(library.settings, viewer=viewer)
    cache = settings.library.cache
    with (
        serving(settings) as viewer_url,
        nginx_in_front(tmp_path / "nginx", viewer_url, secret, cache) as front,
    ):
        yield library, front, secret


def test_a_members_tiles_come_from_nginx_signed_and_only_those_it_sees(
    site: tuple[Library, str, str],
) -> None:
    library, front, _ = site
    mia, bo = session_for("mia"), session_for("bo")
    hidden = library.photo_of("IMG_0001.jpg")
    Photo.update(visibility="private", owner=Account.get(Account.name == "bo").id).where(
        Photo.id == hidden["id"]
    ).execute()
    seen = {p["thumb_hash"] for p in library.photos() if p["thumb_hash"]} - {hidden["thumb_hash"]}

    status, _, page = get(front + "/", mia)
    assert status == 200
    links = [(html.unescape(url), content) for url, _, content in SIGNED.findall(page.decode())]
    assert {content for _, content in links} == seen  # bo's private photo is not signed
    assert f"/tile/{hidden['id']}" not in page.decode()
    for url, content in links:
        status, headers, body = get(front + url)  # no cookie: the signature is the pass
        assert status == 200, url
        assert body == rendition_path(library.settings.library.cache, content, "tile").read_bytes()
        assert headers["Content-Type"] == "image/jpeg"
        assert "immutable" in headers["Cache-Control"]

    status, _, page = get(front + "/", bo)
    assert hidden["thumb_hash"] in page.decode()  # its owner's page signs it
    # the viewer's own route (the fast lane) still answers through nginx, with the rules
    assert get(front + f"/tile/{hidden['id']}", bo)[0] == 200
    assert get(front + f"/tile/{hidden['id']}", mia)[0] == 404


def test_unsigned_tampered_or_expired_urls_and_the_rest_of_the_cache_are_refused(
    site: tuple[Library, str, str],
) -> None:
    library, front, secret = site
    content = library.photo_of("IMG_0001.jpg")["thumb_hash"]
    path = signed.rendition_path(content, "tile")
    good = signed.sign(secret, "/" + path, signed.expiry(time.time()))
    assert get(front + good)[0] == 200
    tag = good.split("md5=")[1].split("&")[0]
    flipped = ("A" if tag[0] != "A" else "B") + tag[1:]
    expires = good.split("expires=")[1]
    refused = {
        "/" + path: 403,  # no signature
        good.replace(tag, flipped): 403,  # a wrong one
        good.replace(f"expires={expires}", f"expires={int(expires) + 3600}"): 403,  # longer
        signed.sign(secret, "/" + path, int(time.time()) - 60): 410,  # expired
        signed.sign("another-secret-of-at-least-32-chars!", "/" + path, int(expires)): 403,
    }
    for url, status in refused.items():
        assert get(front + url)[0] == status, url
    # the block answers tiles and previews only; any other file of the cache is the viewer's
    # business, and the viewer has no route to it
    for other in (
        signed.sign(secret, f"/r/{content[:2]}/{content}-large.jpg", int(expires)),
        signed.sign(secret, "/r/../catalog.db", int(expires)),
        f"/renditions/{content[:2]}/{content}-tile.jpg",
        f"/r/{content[:2]}/{content}-tile.jpg/../../../../etc/passwd",
    ):
        status, _, body = get(front + other)  # 400: nginx's own, for a path above the root
        assert status in (400, 404) and not body.startswith(b"\xff\xd8"), other


def test_visitors_tiles_go_through_the_viewer_and_stop_when_the_link_is_withdrawn(
    site: tuple[Library, str, str],
) -> None:
    _, front, _ = site
    share = shares.create("search", query="type:image")
    status, _, page = get(front + f"/s/{share.token}")
    assert status == 200
    tiles = re.findall(rf'src="(/s/{share.token}/tile/\d+)"', page.decode())
    assert tiles and "/r/" not in page.decode()
    assert [get(front + tile)[0] for tile in tiles] == [200] * len(tiles)
    shares.revoke(share)
    assert [get(front + tile)[0] for tile in tiles] == [410] * len(tiles)  # gone, at once


def test_a_bad_secret_file_is_a_clear_config_error(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("tooshort\n")
    with pytest.raises(ConfigError, match="32 to 256 characters"):
        signed.load_secret(str(short))
    with pytest.raises(ConfigError, match="cannot read"):
        signed.load_secret(str(tmp_path / "absent"))
    good = tmp_path / "good"
    good.write_text("  " + "a" * 40 + "\n")
    assert signed.load_secret(str(good)) == "a" * 40
