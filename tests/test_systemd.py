"""The systemd unit: `systemd-analyze verify` accepts it, and it keeps its hardening."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "shoebox-daemon.service"


def test_the_daemon_unit_verifies(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    shoebox = Path(sys.executable).with_name("shoebox")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/shoebox/.venv/bin/shoebox", str(shoebox)))
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr  # unknown keys are only warnings


def test_the_daemon_unit_is_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT)
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["User"] == "shoebox"
    assert service["ExecStart"].endswith(" daemon")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert service[key] == value, key
    for needed in ("StateDirectory", "CacheDirectory", "ReadWritePaths", "WatchdogSec"):
        assert service[needed], needed
