"""One SFTP session's view of the disk: the account's folder as `/`, nothing outside it.

`..` and absolute paths are folded into the folder; every path is resolved (following
symbolic links already on disk) and refused if it lands outside; clients cannot make links;
setstat changes only the times. Writes are held to the size and free-space limits. When the
client closes a handle it wrote through (an SFTP close request on a live session) or renames
a sync tool's temporary name to a final one, the listener's `completed` hears the file's
absolute path before the client hears OK; before a file (other than a temporary name) is
opened for writing, its `opening` is awaited, so the upload is noted as under way before any
byte is on disk.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Limits:
    max_file_size: int  # bytes
    min_free: int  # bytes


@dataclass
class _Write:
    """A handle opened for writing."""

    path: Path
    append: bool
    refused: bool = False  # a write was refused: the file is not complete


class ConfinedSFTPServer(asyncssh.SFTPServer):
    """An SFTP server session confined to `folder`."""

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel[bytes],
        folder: Path,
        limits: Limits,
        listener: UploadListener,
        account: str,
        writing: Counter[Path] | None = None,
    ) -> None:
        super().__init__(chan, chroot=os.fsencode(folder))
        self._root = os.fsencode(os.path.realpath(folder))
        self._limits = limits
        self._listener = listener
        self._account = account
        self._writes: dict[object, _Write] = {}
        self._writing = writing if writing is not None else Counter()  # shared by sessions

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

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("links are not allowed here")

    def readlink(self, path: bytes) -> bytes:
        raise SFTPPermissionDenied("symbolic links are not allowed here")

    # -- attributes: only the times ----------------------------------------------------------

    @staticmethod
    def _times(attrs: SFTPAttrs) -> SFTPAttrs:
        return SFTPAttrs(
            atime=attrs.atime, atime_ns=attrs.atime_ns, mtime=attrs.mtime, mtime_ns=attrs.mtime_ns
        )

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        super().setstat(path, self._times(attrs))

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        super().setstat(path, self._times(attrs))  # the path is resolved: no link to set

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        super().fsetstat(file_obj, self._times(attrs))

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        super().mkdir(path, SFTPAttrs())  # the server's umask decides, not the client

    # -- files -------------------------------------------------------------------------------

    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        local = self.map_path(path)
        if pflags & FXF_WRITE:
            self._check_free_space()
            if not is_temporary(os.path.basename(local)):
                try:
                    await self._listener.opening(Path(os.fsdecode(local)), self._account)
                except Exception as exc:  # noqa: BLE001 - any refusal reaches the client
                    raise SFTPFailure(f"cannot take the upload now: {exc}") from None
                if self.channel.is_closing():  # gone while we waited: nobody would close it
                    raise SFTPFailure("the session is ending")
        file_obj: Any = super().open(path, pflags, self._times(attrs))
        if pflags & FXF_WRITE:
            write = _Write(Path(os.fsdecode(local)), bool(pflags & FXF_APPEND))
            self._writes[file_obj] = write
            self._writing[write.path] += 1
        return file_obj

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        write = self._writes.get(file_obj)
        if write is not None:
            fileno: Callable[[], int] = file_obj.fileno  # type: ignore[attr-defined]
            start = os.fstat(fileno()).st_size if write.append else offset
            try:
                if start + len(data) > self._limits.max_file_size:
                    raise SFTPFailure(
                        f"file too large: the limit is {self._limits.max_file_size // MiB} MiB"
                    )
                self._check_free_space()
            except asyncssh.SFTPError:
                write.refused = True
                raise
        result: int = super().write(file_obj, offset, data)  # type: ignore[assignment]
        return result

    async def close(self, file_obj: object) -> None:
        write = self._writes.pop(file_obj, None)
        super().close(file_obj)
        if write is None:
            return
        self._writing[write.path] -= 1
        if self._writing[write.path] <= 0:
            del self._writing[write.path]
        if self.channel.is_closing():
            # asyncssh closes a dead or ended session's handles itself: not the client's doing
            log.info("upload of %s was cut off; it stays unindexed until completed", write.path)
            await self._listener.cut_off(write.path)
        elif write.refused:
            log.info("upload of %s was refused part-way; not indexing it", write.path)
        elif not is_temporary(os.fsencode(write.path.name)):
            await self._report(write.path)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old = self.map_path(oldpath)
        super().rename(oldpath, newpath)
        await self._renamed(old, newpath)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        old = self.map_path(oldpath)
        super().posix_rename(oldpath, newpath)
        await self._renamed(old, newpath)

    async def _renamed(self, old: bytes, newpath: bytes) -> None:
        before = Path(os.fsdecode(old))
        after = Path(os.fsdecode(self.map_path(newpath)))
        still_open = [w for w in self._writes.values() if w.path == before]
        for write in still_open:  # renamed while being written: its close will report it
            self._writing[before] -= 1
            if self._writing[before] <= 0:
                del self._writing[before]
            self._writing[after] += 1
            write.path = after
        if (
            not still_open
            and is_temporary(os.fsencode(before.name))
            and not is_temporary(os.fsencode(after.name))
            and after.is_file()
        ):
            await self._report(after)

    async def _report(self, path: Path) -> None:
        """A complete upload: recorded before the client hears OK, or the client hears of
        the failure (and sends the file again)."""
        try:
            await self._listener.completed(path)
        except Exception as exc:  # noqa: BLE001 - the client must hear of any failure
            log.warning("%s: the upload could not be recorded (%s)", path, exc)
            raise SFTPFailure(f"the upload could not be recorded ({exc}); send it again") from None

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
