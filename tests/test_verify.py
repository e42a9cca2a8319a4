"""`shoebox verify`: bit rot, gone files and unknown files found, nothing changed; both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from conftest import Library, ViewerClient
from shoebox.catalog.models import File
from shoebox.verify import verify


def _photo(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (shade, 255 - shade, 90)).save(path, "JPEG", quality=90)


def _flip_byte(path: Path) -> None:
    """Change one byte in the middle, keeping size and mtime: what rot looks like."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _run(library: Library, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shoebox", "--config", str(library.settings.source), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_a_healthy_library_verifies_clean(library: Library) -> None:
    for n in range(3):
        _photo(library.root / "2024" / f"IMG_{n}.jpg", 40 * n)
    library.index()
    report = verify(library.settings.library.originals)
    assert (report.checked, report.rotten, report.gone, report.unknown) == (3, [], [], [])
    out = _run(library, "verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 files checked" in out.stdout


def test_rot_gone_and_unknown_are_reported_and_nothing_changes(library: Library) -> None:
    for n in range(4):
        _photo(library.root / "2024" / f"IMG_{n}.jpg", 40 * n)
    library.index()
    rows_before = sorted((f.rel_path, f.hash, f.status) for f in File.select())
    _flip_byte(library.root / "2024" / "IMG_1.jpg")
    (library.root / "2024" / "IMG_2.jpg").unlink()
    _photo(library.root / "later" / "new.jpg", 200)
    edited = library.root / "2024" / "IMG_3.jpg"
    _photo(edited, 7)  # an ordinary edit: size or mtime moved, so it is not rot
    os.utime(edited, ns=(0, edited.stat().st_mtime_ns + 10**9))

    report = verify(library.settings.library.originals)
    root = str(library.root)
    assert report.rotten == [f"{root}/2024/IMG_1.jpg"]
    assert report.gone == [f"{root}/2024/IMG_2.jpg"]
    assert report.unknown == [f"{root}/later/new.jpg"]
    assert report.changed == [f"{root}/2024/IMG_3.jpg"]
    assert report.checked == 2 and report.bad

    out = _run(library, "verify")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"rotten (content changed, size and time did not): {root}/2024/IMG_1.jpg" in out.stdout
    assert f"gone: {root}/2024/IMG_2.jpg" in out.stdout
    assert f"unknown to the catalog: {root}/later/new.jpg" in out.stdout
    assert sorted((f.rel_path, f.hash, f.status) for f in File.select()) == rows_before


def test_a_root_that_is_not_mounted_is_skipped_not_gone(library: Library) -> None:
    _photo(library.root / "IMG_0.jpg", 10)
    library.index()
    (library.root / "IMG_0.jpg").unlink()
    library.root.rmdir()
    report = verify(library.settings.library.originals)
    assert report.gone == [] and not report.bad
    assert report.skipped_roots == [f"library root {library.root} is missing (not mounted?)"]


def test_the_admin_page_shows_the_daemons_last_check(viewer_client: ViewerClient) -> None:
    from shoebox.catalog.models import DaemonState, utcnow
    from shoebox.verify import Report, summary

    vc = viewer_client
    assert "No daemon has run yet" in vc.app.get("/admin").text
    found = Report(checked=3, bytes=10**6, rotten=["/srv/photos/IMG_1.jpg"], gone=["/srv/b.jpg"])
    detail = {"verify": summary(found, utcnow())}
    DaemonState.create(
        worker="daemon-1", host="h", pid=1, state="idle", started_at=utcnow(), seen_at=utcnow(),
        detail=json.dumps(detail),
    )  # fmt: skip
    page = vc.app.get("/admin").text
    assert "3 files checked (1 MB): 1 rotten, 1 gone" in page
    assert "rotten: /srv/photos/IMG_1.jpg" in page and "gone: /srv/b.jpg" in page
    for name in ("max", "vic"):  # a member, a viewer: not for them
        assert vc.client(name).get("/admin", status=403).status_int == 403
