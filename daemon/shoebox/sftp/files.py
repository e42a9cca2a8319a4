"""One SFTP session's view of the disk: the account's folder as `/`, nothing outside it.

`..` and absolute paths are folded into the folder; every path is resolved (following
symbolic links already on disk) and refused if it lands outside; clients cannot make symbolic
links, and hard links only from a file in the folder to a name in it. Setstat honours the
size (a truncation, as scp asks after writing over a longer file) and the times; permissions
and ownership are accepted and ignored: the server's umask decides who may read the library,
not a phone. Writes are held to the size limit, and to the free-space limit (checked at each
open and every `FREE_SPACE_EVERY` bytes a handle writes); consecutive writes are gathered and
put on disk together (see `write`).

What the session does to files is told to an `UploadListener` (see `shoebox.sftp.server`),
each call awaited before the client hears the answer:

- `opening(path, account)` before a file (not a sync tool's temporary name) is opened for
  writing; raising refuses the open;
- `completed(path)` when the client's own SSH_FXP_CLOSE ends a handle it wrote through, every
  write accepted; or when a file under a final name appears or changes without a write handle
  (a temporary name renamed to it, a rename, a hard link, a truncation by path) or goes (a
  removal, a rename away): the listener indexes whatever is at `path` now;
- `cut_off(path)` when asyncssh closes a write handle itself because the session ended (the
  channel's EOF, a dropped connection, a keepalive timeout, the server stopping).

asyncssh calls `close` for both kinds of close; `shoebox.sftp.compat` makes it call
`client_close` for the client's own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh import (
    FXF_APPEND,
    FXF_WRITE,
    SFTPAttrs,
    SFTPFailure,
    SFTPNoSpaceOnFilesystem,
    SFTPPermissionDenied,
)

from shoebox.ingest.scan import is_temporary

if TYPE_CHECKING:
    from shoebox.sftp.server import UploadListener

log = logging.getLogger("shoebox.sftp")

MiB = 1 << 20
FREE_SPACE_EVERY = 16 * MiB  # bytes a handle may write between two checks of the free space
HOLD = 2 * MiB  # consecutive writes to a handle are held up to this much, then written at once


@dataclass(frozen=True)
class Limits:
    max_file_size: int  # bytes
    min_free: int  # bytes


@dataclass
class _Write:
    """A handle opened for writing."""

    path: Path
    fd: int
    append: bool
    end: int  # for an appending handle: where its next write lands
    unchecked: int = 0  # bytes written since the free space was checked
    failure: str | None = None  # why a write was refused: the file is not complete
    held: list[bytes] = field(default_factory=list)  # accepted, not yet on disk
    held_at: int = 0  # where the bytes held go in the file
    held_size: int = 0

    def flush(self) -> None:
        """Put the bytes held on disk: one system call (more if it writes less)."""
        try:
            done = os.pwritev(self.fd, self.held, self.held_at)  # O_APPEND: Linux appends
            if done < self.held_size:
                rest = b"".join(self.held)[done:]
                while rest:
                    written = os.pwrite(self.fd, rest, self.held_at + done)
                    rest, done = rest[written:], done + written
        finally:
            self.held.clear()
            self.held_size = 0


class ConfinedSFTPServer(asyncssh.SFTPServer):
    """An SFTP server session of `account` confined to `folder`; `writing` counts the paths
    open for writing by every session of the endpoint."""

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel[bytes],
        folder: Path,
        account: str,
        limits: Limits,
        listener: UploadListener,
        writing: Counter[Path],
    ) -> None:
        super().__init__(chan, chroot=os.fsencode(folder))
        self._root = os.fsencode(os.path.realpath(folder))
        self._account = account
        self._limits = limits
        self._listener = listener
        self._writes: dict[object, _Write] = {}
        self._writing = writing
        self._held: _Write | None = None  # the handle whose writes are held, if any
        self.ended = asyncio.Event()  # set once the session has ended and told its cut-offs

    # -- paths -------------------------------------------------------------------------------

    def map_path(self, path: bytes) -> bytes:
        """The local path for a client path, resolved; refused if it lies outside the folder."""
        joined = posixpath.join(self._root, posixpath.normpath(b"/" + path).lstrip(b"/"))
        real = os.path.realpath(joined)
        if real != self._root and not real.startswith(self._root + b"/"):
            log.warning(
                "refused %s: it leads outside %s", os.fsdecode(path), os.fsdecode(self._root)
            )
            raise SFTPPermissionDenied("permission denied: outside your folder")
        return real

    def reverse_map_path(self, path: bytes) -> bytes:
        if path == self._root:
            return b"/"
        if path.startswith(self._root + b"/"):
            return path[len(self._root) :]
        raise SFTPPermissionDenied("permission denied: outside your folder")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("symbolic links are not allowed here")

    def readlink(self, path: bytes) -> bytes:
        raise SFTPPermissionDenied("symbolic links are not allowed here")

    async def link(self, oldpath: bytes, newpath: bytes) -> None:
        """A hard link (`ln` in OpenSSH's sftp): both names in the folder, of a file that is
        not being written."""
        old, new = self.map_path(oldpath), self.map_path(newpath)
        if _path(old) in self._writing:
            raise SFTPFailure("that file is still being uploaded")
        os.link(old, new, follow_symlinks=False)
        await self._changed(_path(new))

    # -- attributes: the size and the times --------------------------------------------------

    def _attrs(self, attrs: SFTPAttrs) -> SFTPAttrs:
        """The attributes honoured: the size (within the limit) and the times."""
        if attrs.size is not None and attrs.size > self._limits.max_file_size:
            raise SFTPFailure(
                f"file too large: the limit is {self._limits.max_file_size // MiB} MiB"
            )
        return SFTPAttrs(
            size=attrs.size,
            atime=attrs.atime, atime_ns=attrs.atime_ns, mtime=attrs.mtime, mtime_ns=attrs.mtime_ns,
        )  # fmt: skip

    async def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        local = self.map_path(path)
        super().setstat(path, self._attrs(attrs))
        if attrs.size is not None and _path(local) not in self._writing:
            await self._changed(_path(local))  # truncated by name: a finished file changed

    async def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        await self.setstat(path, attrs)  # the path is resolved: there is no link to set

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        super().fsetstat(file_obj, self._attrs(attrs))
        write = self._writes.get(file_obj)
        if write is not None and attrs.size is not None:
            write.end = attrs.size

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        super().mkdir(path, SFTPAttrs())  # the server's umask decides, not the client

    # -- files -------------------------------------------------------------------------------

    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        local = self.map_path(path)
        if not pflags & FXF_WRITE:
            return super().open(path, pflags, SFTPAttrs())
        self._check_free_space()
        target = _path(local)
        if not is_temporary(os.fsencode(target.name)):
            try:
                await self._listener.opening(target, self._account)
            except Exception as exc:
                log.warning("refused to open %s for writing: %s", target, exc)
                raise SFTPFailure(str(exc) or "the upload cannot be started now") from exc
        file_obj: Any = super().open(path, pflags, SFTPAttrs())  # the umask decides the mode
        append = bool(pflags & FXF_APPEND)
        end = os.fstat(file_obj.fileno()).st_size if append else 0
        self._writes[file_obj] = _Write(target, file_obj.fileno(), append, end)
        self._writing[target] += 1
        return file_obj

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        """Accept a write: consecutive writes to a handle are held (up to HOLD bytes) and put
        on disk at once. Each system call costs, and each stirs the folder watcher."""
        write = self._writes.get(file_obj)
        if write is None:  # not opened for writing: let the system say no
            result: int = super().write(file_obj, offset, data)  # type: ignore[assignment]
            return result
        if write.failure is not None:
            raise SFTPFailure(write.failure)
        end = (write.end if write.append else offset) + len(data)
        try:
            if end > self._limits.max_file_size:
                raise SFTPFailure(
                    f"file too large: the limit is {self._limits.max_file_size // MiB} MiB"
                )
            write.unchecked += len(data)
            if write.unchecked >= FREE_SPACE_EVERY:
                write.unchecked = 0
                self._check_free_space()
        except asyncssh.SFTPError as exc:
            write.failure = str(exc.reason)
            raise
        if self._held is not write or (
            not write.append and offset != write.held_at + write.held_size
        ):
            self.settle()
            write.held_at = offset
            self._held = write
        write.held.append(data)
        write.held_size += len(data)
        if write.append:
            write.end = end
        if write.held_size >= HOLD:
            self.settle()
            if write.failure is not None:
                raise SFTPFailure(write.failure)
        return len(data)

    def settle(self) -> None:
        """Put the writes held on disk (`compat.SFTPHandler` calls this before it handles any
        request but a write). A failure is noted on the handle: its next write and its close
        fail with it."""
        write, self._held = self._held, None
        if write is None or not write.held:
            return
        try:
            write.flush()
        except OSError as exc:
            write.failure = f"the file could not be written: {exc.strerror or exc}"
            log.warning("%s: %s", write.path, write.failure)

    async def close(self, file_obj: object) -> None:
        """A handle asyncssh closes itself because the session ended: not the client's doing."""
        write = self._forget(file_obj)
        if write is None or is_temporary(os.fsencode(write.path.name)):
            return
        log.info("upload of %s was cut off; it stays unindexed until completed", write.path)
        try:
            await self._listener.cut_off(write.path)
        except Exception:
            log.exception("cut_off failed for %s", write.path)

    async def client_close(self, file_obj: object) -> None:
        """The client's own SSH_FXP_CLOSE (called by `compat.SFTPHandler`)."""
        write = self._forget(file_obj)
        if write is None:
            return
        if write.failure is not None:
            log.info("upload of %s was refused part-way (%s); not indexing it",
                     write.path, write.failure)  # fmt: skip
            raise SFTPFailure(write.failure)
        if not is_temporary(os.fsencode(write.path.name)):
            await self._completed(write.path)

    def _forget(self, file_obj: object) -> _Write | None:
        """Close the file; the handle's write record, if it was opened for writing."""
        write = self._writes.pop(file_obj, None)
        if write is not None and write is self._held:
            self.settle()
        super().close(file_obj)
        if write is not None:
            self._writing[write.path] -= 1
            if self._writing[write.path] <= 0:
                del self._writing[write.path]
        return write

    def exit(self) -> None:
        """The session ended (asyncssh has closed its handles): end the channel with exit
        status 0, as OpenSSH's sftp-server does (OpenSSH's scp reports a failed copy without
        one)."""
        if not self.channel.is_closing():
            self.channel.exit(0)
        self.ended.set()

    # -- names -------------------------------------------------------------------------------

    async def remove(self, path: bytes) -> None:
        local = self.map_path(path)
        os.remove(local)
        await self._changed(_path(local))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old = self.map_path(oldpath)
        super().rename(oldpath, newpath)
        await self._renamed(old, self.map_path(newpath))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        old = self.map_path(oldpath)
        super().posix_rename(oldpath, newpath)
        await self._renamed(old, self.map_path(newpath))

    async def _renamed(self, old: bytes, new: bytes) -> None:
        """Tell of a rename: a file being written is reported at its close under the new
        name; otherwise the old name (gone) and the new one (or every file in a renamed
        folder: the old names' photos move to them) are reported."""
        before, after = _path(old), _path(new)
        still_open = [w for w in self._writes.values() if w.path == before]
        for write in still_open:
            self._writing[before] -= 1
            if self._writing[before] <= 0:
                del self._writing[before]
            self._writing[after] += 1
            write.path = after
        if still_open:
            return
        if os.path.isdir(new):
            for path in _files_in(new):
                await self._changed(path)
            return
        await self._changed(before)
        await self._changed(after)

    async def _changed(self, path: Path) -> None:
        """A file under a final name appeared, changed or went without a write handle."""
        if not is_temporary(os.fsencode(path.name)) and path not in self._writing:
            await self._completed(path)

    async def _completed(self, path: Path) -> None:
        try:
            await self._listener.completed(path)
        except Exception as exc:
            log.error("%s: the upload could not be recorded (%s)", path, exc)
            raise SFTPFailure("the upload could not be recorded; send it again") from exc

    def _check_free_space(self) -> None:
        if self._limits.min_free <= 0:
            return
        st = os.statvfs(self._root)
        free = st.f_bavail * st.f_frsize
        if free < self._limits.min_free:
            log.warning(
                "refusing an upload: %d MiB free under %s", free // MiB, os.fsdecode(self._root)
            )
            raise SFTPNoSpaceOnFilesystem(
                f"disk full: less than {self._limits.min_free // MiB} MiB free on the server"
            )


def _path(local: bytes) -> Path:
    return Path(os.fsdecode(local))


def _files_in(folder: bytes) -> Iterator[Path]:
    for parent, _, names in os.walk(folder):
        for name in names:
            yield _path(os.path.join(parent, name))
