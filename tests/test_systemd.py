"""The deployment files: `systemd-analyze verify` accepts both units, they keep their
hardening, and nginx accepts the reverse-proxy example."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[1] / "systemd"
UNITS = ("shoebox-daemon.service", "shoebox-viewer.service")
NGINX = Path("/usr/sbin/nginx")


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_verifies(tmp_path: Path, name: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    shoebox = Path(sys.executable).with_name("shoebox")
    unit = tmp_path / name
    text = (SYSTEMD / name).read_text()
    unit.write_text(text.replace("/opt/shoebox/.venv/bin/shoebox", str(shoebox)))
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr  # unknown keys are only warnings


def _service(name: str) -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(SYSTEMD / name)
    return unit["Service"]


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_is_hardened(name: str) -> None:
    service = _service(name)
    assert service["Type"] == "notify"
    assert service["User"] == "shoebox"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert service[key] == value, key
    for needed in ("StateDirectory", "CacheDirectory"):
        assert service[needed], needed


def test_the_daemon_writes_to_the_library_and_the_viewer_only_reads_it() -> None:
    daemon, viewer = _service(UNITS[0]), _service(UNITS[1])
    assert daemon["ExecStart"].endswith(" daemon") and daemon["WatchdogSec"]
    assert daemon["ReadWritePaths"] == "/srv/photos"
    assert viewer["ExecStart"].endswith(" viewer")
    assert viewer["ReadOnlyPaths"] == "/srv/photos" and "ReadWritePaths" not in viewer


def test_nginx_accepts_the_proxy_example(tmp_path: Path) -> None:
    if not NGINX.exists() or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed here")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=photos.example.org", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = (SYSTEMD / "nginx-shoebox.conf").read_text()
    site = site.replace(
        "/etc/letsencrypt/live/photos.example.org/fullchain.pem", str(tmp_path / "cert.pem")
    )
    site = site.replace(
        "/etc/letsencrypt/live/photos.example.org/privkey.pem", str(tmp_path / "key.pem")
    )
    secret = tmp_path / "tiles-secret.conf"
    secret.write_text('set $shoebox_tiles_secret "x";\n')
    site = site.replace("/etc/shoebox/nginx-tiles-secret.conf", str(secret))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; include {tmp_path}/site.conf; }}\n"
    )
    out = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr
