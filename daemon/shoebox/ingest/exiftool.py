"""Our exiftool client: one `exiftool -stay_open` process, asked about one file at a time, every
answer awaited against a deadline.

**No byte of a file name reaches exiftool.** exiftool reads its arguments one a line, so a
name holding a newline would be read as more arguments (`-if`, `-execute`, `-stay_open False`,
`-@ FILE`, ...). The caller opens the file itself (`identify.open_regular`: not through a
symbolic link, a regular file only) and exiftool is given a name we made for that open file: a
symbolic link `<n><ext>` in a private folder (mode 0700) that points at `/proc/<pid>/fd/<fd>`
of this process. exiftool reads exactly the file we opened, whatever it is called or renamed
to meanwhile; only the extension is taken from the real name (letters and digits, at most ten:
exiftool takes it as a hint for a few formats such as MPEG transport streams).

**exiftool is never waited on forever.** The answer to a request is the JSON exiftool prints
followed by `{ready<n>}`; it is read with a deadline, and the wait ends at once when the run's
stop event is set. exiftool that dies, prints nonsense or too much, or overruns the deadline is
killed (its whole process group) and `HelperError` raised; the next request starts a new one.
The caller decides whether to try the file again (`metadata.read` does, once).

**exiftool never outlives us.** In `-stay_open` mode it keeps polling its argument stream
after the end of it, so the end of our pipe would not end it. It is started through util-linux's
`setpriv --pdeathsig KILL`: the kernel kills it when the thread that started it ends, which
includes our process being killed with `kill -9`. Every thread that starts one lives as long
as the process (the main thread, the daemon's lanes).

This replaces PyExifTool, which read names into the argument stream as they were and looped on
end-of-file at full speed when exiftool died mid-request.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, NoReturn

from shoebox.errors import HelperError, StageError, Stopped
from shoebox.ingest.health import HelperHealth, describe

# JSON, numeric values, family-0 group names, duplicate tags kept, files of any size.
ARGS = ("-json", "-n", "-G", "-a", "-api", "LargeFileSupport=1")

_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")  # what our link names may hold
_MAX_OUTPUT = 64 << 20  # bytes of JSON for one file (a huge XMP packet is a few MB)
_POLL = 0.2  # seconds between looks at the stop event while exiftool works


class ExifTool:
    """One exiftool process kept open (`-stay_open True`), started when first asked."""

    def __init__(
        self,
        executable: str,
        *,
        timeout: float,
        memory_mb: int = 0,
        health: HelperHealth | None = None,
        stop: threading.Event | None = None,
        config: str | None = None,
        common_args: tuple[str, ...] = ARGS,
    ) -> None:
        self.executable = executable
        self.config = config  # an exiftool config file (tags of our own namespace)
        self.common_args = common_args
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.health = health or HelperHealth("exiftool")
        self.stop = stop
        self._proc: subprocess.Popen[bytes] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._folder: str | None = None  # the private folder of our links
        self._count = 0
        self._replacing = False  # the last one died or overran: the next start replaces it

    @property
    def pid(self) -> int | None:
        """The process id of the exiftool running now, if one is."""
        return self._proc.pid if self._proc is not None else None

    # --- asking ----------------------------------------------------------------------------

    def read(self, fd: int, extension: str, what: str) -> dict[str, Any]:
        """Every tag of the open regular file `fd`, as exiftool's JSON object (its own error
        or warning under `ExifTool:*`). `what` names the file in health reports. Raises
        HelperError (exiftool failed; it was killed), Stopped (the stop event was set) or
        StageError (exiftool answered, but not with tags)."""
        proc = self._start()
        self._count += 1
        suffix = extension if _EXTENSION.fullmatch(extension) else ""
        link = os.path.join(self._private_folder(), f"{self._count}{suffix}")
        try:
            os.symlink(f"/proc/{os.getpid()}/fd/{fd}", link)
        except FileNotFoundError:  # a /tmp cleaner took the folder while we idled
            self._folder = None
            link = os.path.join(self._private_folder(), f"{self._count}{suffix}")
            os.symlink(f"/proc/{os.getpid()}/fd/{fd}", link)
        try:
            out, err = self._ask(proc, [link], what)
        finally:
            os.unlink(link)
        text = out.decode("utf-8", "replace").strip()
        if not text:
            said = err.decode("utf-8", "replace").strip().splitlines()
            raise StageError(
                "metadata", "exiftool printed nothing" + (f" ({said[-1]})" if said else "")
            )
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StageError("metadata", f"exiftool printed bad JSON ({exc})") from exc
        if not isinstance(records, list) or not records or not isinstance(records[0], dict):
            raise StageError("metadata", "exiftool returned no record")
        return dict(records[0])

    def execute(self, *args: str, what: str) -> tuple[bytes, bytes]:
        """Run one command of our own making (its standard output and error). Every argument
        is an option or a path in a private folder of ours: none may hold a line break, and
        none comes from a file name. Raises HelperError or Stopped as `read` does."""
        if any("\n" in a or "\r" in a for a in args):
            raise ValueError("an exiftool argument holds a line break")
        proc = self._start()
        self._count += 1
        return self._ask(proc, list(args), what)

    def _ask(
        self, proc: subprocess.Popen[bytes], args: list[str], what: str
    ) -> tuple[bytes, bytes]:
        marker = b"{ready%d}\n" % self._count
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        assert self._selector is not None
        try:
            proc.stdin.write("".join(f"{a}\n" for a in [*args, f"-execute{self._count}"]).encode())
            proc.stdin.flush()
        except OSError as exc:
            self._failed("died", f"died (it could not be written to: {exc.strerror or exc})", what)
        out, err = bytearray(), bytearray()
        outs = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        deadline = time.monotonic() + self.timeout
        self.health.begin(0, what, self.timeout)
        try:
            while not (out == marker or out.endswith(b"\n" + marker)):
                if self.stop is not None and self.stop.is_set():
                    self.kill()
                    raise Stopped(f"stopped while exiftool read {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    self._failed("timeout", f"took longer than {self.timeout:g} s", what)
                for key, _ in self._selector.select(min(left, _POLL)):
                    chunk = os.read(key.fd, 1 << 16)
                    if chunk:
                        outs[key.fd] += chunk
                    elif key.fd == proc.stderr.fileno():
                        self._selector.unregister(key.fd)
                    else:
                        self._failed("died", f"died ({self._ended(proc)})", what)
                if len(out) + len(err) > _MAX_OUTPUT:
                    self._failed(
                        "died", f"printed more than {_MAX_OUTPUT >> 20} MB and was killed", what
                    )
        finally:
            self.health.end(0)
        err += self._drain(proc.stderr.fileno())  # written before the marker, so all there
        return bytes(out[: -len(marker)]), bytes(err)

    def _drain(self, fd: int) -> bytes:
        got = b""
        try:
            while chunk := os.read(fd, 1 << 16):
                got += chunk
        except BlockingIOError:
            pass
        return got

    def _ended(self, proc: subprocess.Popen[bytes]) -> str:
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "closed its output"
        return describe(proc.returncode)

    def _failed(self, kind: str, message: str, what: str) -> NoReturn:
        """Kill exiftool, note the problem and raise it."""
        self.kill()
        self._replacing = True
        self.health.problem(kind, f"{message} reading {what}")
        raise HelperError("exiftool", message, kind)

    # --- the process -----------------------------------------------------------------------

    def start(self) -> None:
        """Start exiftool now, if it is not running (it is otherwise started when first asked)."""
        self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc
            self.kill()  # it died between requests: start a new one
            self._replacing = True
        self._private_folder()
        setpriv = shutil.which("setpriv")
        try:
            executable = shutil.which(self.executable)  # (setpriv would start without it)
            if executable is None:
                code = errno.EACCES if os.path.exists(self.executable) else errno.ENOENT
                raise OSError(code, os.strerror(code), self.executable)
            proc = subprocess.Popen(
                [
                    *((setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()),
                    executable, *(("-config", self.config) if self.config else ()),
                    "-stay_open", "True", "-@", "-", "-common_args", *self.common_args,
                ],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,  # killed as a group; a Ctrl-C is ours to handle
            )  # fmt: skip
        except OSError as exc:
            message = f"cannot be started ({exc.strerror or exc})"
            self.health.problem("start", message)
            raise HelperError("exiftool", message, "start") from exc
        assert proc.stdout is not None and proc.stderr is not None
        if self.memory_mb:
            limit = self.memory_mb << 20
            with contextlib.suppress(ProcessLookupError):  # gone: the first request says so
                resource.prlimit(proc.pid, resource.RLIMIT_DATA, (limit, limit))
        selector = selectors.DefaultSelector()
        for pipe in (proc.stdout, proc.stderr):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe.fileno(), selectors.EVENT_READ)
        self._proc, self._selector = proc, selector
        self.health.started(self._replacing)
        self._replacing = False
        return proc

    def _private_folder(self) -> str:
        """The folder (mode 0700) of our links, made when first wanted."""
        if self._folder is None:
            folder = tempfile.mkdtemp(prefix="shoebox-exiftool-")
            if not _SAFE_PATH.fullmatch(folder):
                shutil.rmtree(folder, ignore_errors=True)
                raise HelperError(
                    "exiftool",
                    f"cannot be given safe file names under {tempfile.gettempdir()!r}; "
                    "set TMPDIR to a folder whose path has only letters, digits, and / . _ + -",
                    "start",
                )
            self._folder = folder
        return self._folder

    def kill(self) -> None:
        """Kill exiftool at once (and anything it started); the next request starts anew."""
        proc, self._proc = self._proc, None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if proc is None:
            return
        # Its group too when exiftool itself has ended: a wrapper script may have left a child
        # running. The group's id stays reserved while any member lives; once all are gone, a
        # new group of that id would need the pids to wrap around in this instant.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self._reap(proc)

    def close(self) -> None:
        """Ask exiftool to end, kill it if it does not within a second, and remove our
        private folder."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(b"-stay_open\nFalse\n")
                proc.stdin.close()
                proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):  # stuck in the kernel: let it be
            proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> ExifTool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
