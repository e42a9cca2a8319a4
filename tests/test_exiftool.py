"""Our exiftool client (`shoebox.ingest.exiftool`) with the real exiftool: it reads the file
that was opened, whatever its name is or becomes; an exiftool that dies mid-request, overruns
or is stopped is killed and replaced, never waited on forever; it leaves nothing behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import EXIFTOOL_DIES, EXIFTOOL_HANGS, misbehaving_helpers, wait_for
from shoebox.errors import HelperError, Stopped
from shoebox.ingest.exiftool import ExifTool
from shoebox.ingest.health import HelperHealth
from shoebox.ingest.identify import open_regular
from shoebox.sample import Shot, write_jpeg, write_tags


def titled(path: Path, title: str, marker: bytes = b"") -> Path:
    write_jpeg(path, Shot(), size=(64, 48))
    write_tags(path, f"-XMP:Title={title}")
    with path.open("ab") as fh:
        fh.write(marker)
    return path


def read(tool: ExifTool, path: Path, extension: str = ".jpg") -> dict[str, object]:
    fd, _ = open_regular(os.fsencode(path))
    try:
        return tool.read(fd, extension, path.name)
    finally:
        os.close(fd)


@pytest.fixture
def health() -> HelperHealth:
    return HelperHealth("exiftool")


@pytest.fixture
def helpers(tmp_path: Path) -> Path:
    return misbehaving_helpers(tmp_path / "helpers")[0]


@pytest.fixture
def tool(health: HelperHealth) -> Iterator[ExifTool]:
    with ExifTool("exiftool", timeout=30, health=health) as running:
        yield running


@pytest.mark.parametrize("extension", [".jpg", ".jpg\n-if\n1", "", ".a-very-long-extension"])
def test_the_open_file_is_read_whatever_it_is_called(
    tool: ExifTool, tmp_path: Path, extension: str
) -> None:
    first = titled(tmp_path / "a.jpg", "first")
    fd, _ = open_regular(os.fsencode(first))
    try:
        first.rename(tmp_path / "renamed.jpg")
        titled(tmp_path / "a.jpg", "an impostor in its place")
        tags = tool.read(fd, extension, "a.jpg")
    finally:
        os.close(fd)
    assert tags["XMP:Title"] == "first"
    assert tags["File:MIMEType"] == "image/jpeg"
    folder = Path(tool._folder or "")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert list(folder.iterdir()) == []  # the link is gone
    tool.close()
    assert not folder.exists()


def test_what_is_not_a_regular_file_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.jpg")
    titled(tmp_path / "real.jpg", "real")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "real.jpg")
    for name, reason in (("fifo.jpg", "not a regular file"), ("link.jpg", "symbolic link")):
        with pytest.raises(OSError, match=reason):
            open_regular(os.fsencode(tmp_path / name))


def test_killed_mid_request_it_is_replaced(
    tool: ExifTool, health: HelperHealth, tmp_path: Path
) -> None:
    """The real exiftool is stopped, given a request, and killed with kill -9."""
    photo = titled(tmp_path / "p.jpg", "mine")
    assert read(tool, photo)["XMP:Title"] == "mine"
    pid = tool.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    failed: list[BaseException] = []

    def ask() -> None:
        try:
            read(tool, photo)
        except HelperError as exc:
            failed.append(exc)

    asking = threading.Thread(target=ask)
    asking.start()
    wait_for("the request", lambda: health.busy)
    os.kill(pid, signal.SIGKILL)
    asking.join(timeout=10)
    assert not asking.is_alive()
    assert [str(e) for e in failed] == ["exiftool died (killed by SIGKILL)"]
    assert (health.deaths, health.timeouts, health.busy) == (1, 0, {})
    assert health.last_problem == "died (killed by SIGKILL) reading p.jpg"
    assert read(tool, photo)["XMP:Title"] == "mine"  # a new exiftool
    assert (health.starts, health.restarts) == (2, 1)


def test_dead_between_requests_it_is_replaced(
    tool: ExifTool, health: HelperHealth, tmp_path: Path
) -> None:
    photo = titled(tmp_path / "p.jpg", "mine")
    read(tool, photo)
    os.kill(tool.pid or 0, signal.SIGKILL)
    wait_for("its death", lambda: Path(f"/proc/{tool.pid}/stat").read_text().split()[2] == "Z")
    assert read(tool, photo)["XMP:Title"] == "mine"
    assert (health.deaths, health.restarts) == (0, 1)  # dead, so replaced: not counted a death


def test_a_wrapper_that_dies_on_a_file(helpers: Path, tmp_path: Path) -> None:
    health = HelperHealth("exiftool")
    with ExifTool(str(helpers), timeout=30, health=health) as tool:
        with pytest.raises(HelperError, match=r"^exiftool died \(killed by SIGKILL\)$"):
            read(tool, titled(tmp_path / "d.jpg", "d", EXIFTOOL_DIES))
        assert read(tool, titled(tmp_path / "ok.jpg", "fine"))["XMP:Title"] == "fine"
    assert (health.deaths, health.restarts) == (1, 1)


def test_an_overrun_is_killed(helpers: Path, tmp_path: Path) -> None:
    health = HelperHealth("exiftool")
    with ExifTool(str(helpers), timeout=1, health=health) as tool:
        started = time.monotonic()
        with pytest.raises(HelperError, match=r"^exiftool took longer than 1 s$") as caught:
            read(tool, titled(tmp_path / "h.jpg", "h", EXIFTOOL_HANGS))
        assert time.monotonic() - started < 5
        assert caught.value.kind == "timeout"
        assert read(tool, titled(tmp_path / "ok.jpg", "fine"))["XMP:Title"] == "fine"
    assert (health.timeouts, health.restarts) == (1, 1)


def test_a_stop_ends_the_wait_at_once(helpers: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    with ExifTool(str(helpers), timeout=600, stop=stop) as tool:
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        with pytest.raises(Stopped):
            read(tool, titled(tmp_path / "h.jpg", "h", EXIFTOOL_HANGS))
        assert time.monotonic() - started < 3
        assert tool.pid is None  # killed


def test_a_missing_exiftool_says_so(tmp_path: Path) -> None:
    photo = titled(tmp_path / "p.jpg", "p")
    health = HelperHealth("exiftool")
    with (
        ExifTool(str(tmp_path / "no-exiftool"), timeout=5, health=health) as tool,
        pytest.raises(HelperError, match="cannot be started") as caught,
    ):
        read(tool, photo)
    assert caught.value.kind == "start"
    assert health.last_problem == "cannot be started (No such file or directory)"
    assert (health.starts, health.deaths) == (0, 0)


def test_it_dies_with_a_process_killed_by_kill_9(tmp_path: Path) -> None:
    """`-stay_open` exiftool ignores the end of its pipe: without the parent-death signal, a
    `shoebox index` killed with kill -9 left it running (and polling) for ever."""
    photo = write_jpeg(tmp_path / "a.jpg", Shot())
    script = (
        "import os, sys, time\n"
        "from shoebox.ingest.exiftool import ExifTool\n"
        "from shoebox.ingest.identify import open_regular\n"
        "tool = ExifTool('exiftool', timeout=30)\n"
        f"fd, _ = open_regular({bytes(photo)!r})\n"
        "tool.read(fd, '.jpg', 'a.jpg')\n"
        "print(tool.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
    finally:
        parent.kill()
        parent.wait(10)
    wait_for("exiftool gone", lambda: not _running(pid), timeout=10)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
