"""Rendition requests per second: the shoebox viewer beside nginx serving the same tile files
from the same cache folder, loaded by the same tool (wrk) in the same run.

The rows: nginx answering the tile's file path straight from disk (the ceiling); the viewer
answering `/tile/<id>` for a logged-in member (a session cookie, so every request checks its
session and the photo: `shoebox_viewer.fastlane`), by itself and behind nginx as a proxy;
and signed tiles (`shoebox_viewer.signed`), which nginx checks and sends with the location
block of systemd/nginx-shoebox.conf, as a member's page links them.

    apt-get install wrk nginx     # once
    .venv/bin/python bench/renditions.py --photos 2000 --seconds 10 --workdir /tmp/sbr
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from shoebox.catalog.cache import TILE, rendition_path
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, Photo, Session, utcnow
from shoebox_viewer import signed

NGINX = "/usr/sbin/nginx"
EXAMPLE = Path(__file__).resolve().parents[1] / "systemd" / "nginx-shoebox.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tile_bytes() -> bytes:
    """A real 256 px tile: a noisy gradient, JPEG quality 85, about the size shoebox makes."""
    image = Image.effect_noise((256, 256), 40).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def make_catalog(workdir: Path, photos: int) -> tuple[Path, list[int], list[str], str]:
    """A config, a catalog of `photos` photos each with its own tile file, and a session."""
    root, cache = workdir / "originals", workdir / "cache"
    root.mkdir(parents=True, exist_ok=True)
    viewer_port = free_port()
    config = workdir / "config.toml"
    config.write_text(
        f'[library]\noriginals = ["{root}"]\ncache = "{cache}"\n'
        f'[database]\nurl = "sqlite:///{workdir / "catalog.db"}"\n'
        f'[viewer]\nlisten = "127.0.0.1:{viewer_port}"\nthreads = 8\n'
    )
    data = tile_bytes()
    token = secrets.token_urlsafe(32)
    ids, files = [], []
    with Catalog(f"sqlite:///{workdir / 'catalog.db'}", workdir):
        account = Account.create(name="bench", folder=str(root), role="member")
        Session.create(
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            account=account.id,
            expires_at=utcnow() + dt.timedelta(days=1),
        )
        start = dt.datetime(2020, 1, 1)
        for number in range(photos):
            content = hashlib.sha256(str(number).encode()).hexdigest()
            path = rendition_path(cache, content, TILE)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            when = start + dt.timedelta(hours=number)
            photo = Photo.create(
                type="image", thumb_hash=content, taken_at=when, taken_at_local=when,
                taken_at_source="bench", year=when.year, month=when.month,
            )  # fmt: skip
            ids.append(photo.id)
            files.append(str(path.relative_to(cache / "renditions")))
    return config, ids, files, token


def start_viewer(config: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = int(re.search(r":(\d+)\"", config.read_text().split("[viewer]")[1]).group(1))  # type: ignore[union-attr]
    log = (workdir / "viewer.log").open("wb")
    shoebox = Path(sys.executable).with_name("shoebox")
    proc = subprocess.Popen([str(shoebox), "--config", str(config), "viewer"], stderr=log)
    deadline = time.monotonic() + 30
    while b"viewer listening" not in (workdir / "viewer.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit((workdir / "viewer.log").read_text())
        time.sleep(0.05)
    return proc, port


def start_nginx(
    workdir: Path, viewer_port: int, secret: str
) -> tuple[subprocess.Popen[bytes], int]:
    """nginx with the cache folder as static files, the example's signed-tiles block, and the
    viewer's tiles proxied as the example does."""
    port = free_port()
    conf = workdir / "nginx.conf"
    secret_conf = workdir / "tiles-secret.conf"
    secret_conf.write_text(f'set $shoebox_tiles_secret "{secret}";\n')
    block = EXAMPLE.read_text().split("# signed tiles: begin\n")[1].split("# signed tiles: end")[0]
    block = block.replace("/etc/shoebox/nginx-tiles-secret.conf", str(secret_conf))
    block = block.replace("/var/cache/shoebox/", f"{workdir / 'cache'}/")
    conf.write_text(
        f"pid {workdir}/nginx.pid;\nworker_processes auto;\nerror_log {workdir}/nginx.err;\n"
        "daemon off;\nevents { worker_connections 1024; }\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on; client_body_temp_path {workdir};\n"
        f"  proxy_temp_path {workdir}/proxy;\n"
        f"  upstream shoebox_viewer {{ server 127.0.0.1:{viewer_port}; keepalive 16; }}\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        f"    location /renditions/ {{ alias {workdir / 'cache' / 'renditions'}/;\n"
        "      add_header Cache-Control 'private, max-age=31536000, immutable'; }\n"
        "    location /tile/ { proxy_pass http://shoebox_viewer; proxy_http_version 1.1;\n"
        '      proxy_set_header Connection ""; proxy_buffering on; }\n'
        f"{block} }} }}\n"
    )
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf)])
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        if time.monotonic() > deadline:
            raise SystemExit("nginx did not start")
        time.sleep(0.05)


def wrk(url: str, paths: list[str], seconds: int, connections: int, header: str = "") -> str:
    """Run wrk with a script that cycles over `paths`; return its report."""
    script = Path(url.split("//")[1].replace(":", "_") + ".lua").absolute()
    quoted = ",".join(f'"{p}"' for p in paths)
    script.write_text(
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\nend\n"
    )
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    if header:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    script.unlink()
    return out.stdout


def figures(report: str) -> tuple[float, str, str]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", report, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", report, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests:\n{report}")
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    for tool in ("wrk", NGINX):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install wrk nginx")
    args.workdir = args.workdir.resolve()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    os.chdir(args.workdir)  # wrk's scripts are written here
    config, ids, files, token = make_catalog(args.workdir, args.photos)
    order = list(range(len(ids)))
    random.Random(1).shuffle(order)
    viewer, viewer_port = start_viewer(config, args.workdir)
    secret = secrets.token_urlsafe(32)
    nginx, nginx_port = start_nginx(args.workdir, viewer_port, secret)
    expires = signed.expiry(time.time())
    cookie = f"Cookie: sb_session={token}"
    try:
        rows = []
        for name, url, paths, header in (
            ("nginx (static files)", f"http://127.0.0.1:{nginx_port}",
             [f"/renditions/{files[i]}" for i in order], ""),
            ("shoebox viewer", f"http://127.0.0.1:{viewer_port}",
             [f"/tile/{ids[i]}" for i in order], cookie),
            ("shoebox viewer behind nginx", f"http://127.0.0.1:{nginx_port}",
             [f"/tile/{ids[i]}" for i in order], cookie),
            ("signed tiles, nginx (the example)", f"http://127.0.0.1:{nginx_port}",
             [signed.sign(secret, f"/r/{files[i]}", expires) for i in order], ""),
        ):  # fmt: skip
            rows.append((name, *figures(wrk(url, paths, args.seconds, args.connections, header))))
    finally:
        viewer.terminate()
        nginx.terminate()
        viewer.wait(10)
        nginx.wait(10)
    print(f"{args.photos} tiles of {len(tile_bytes()) // 1024} KiB, wrk -t2 -c{args.connections}, "
          f"{args.seconds} s each, on {os.cpu_count()} cores")  # fmt: skip
    print("| server | requests/s | p50 | p99 |\n|---|---|---|---|")
    for name, rps, p50, p99 in rows:
        print(f"| {name} | {rps:,.0f} | {p50} | {p99} |")
    for name, rps, _, _ in rows[1:]:
        print(f"{name} / nginx: {rps / rows[0][1]:.0%}")


if __name__ == "__main__":
    main()
