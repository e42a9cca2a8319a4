"""What shoebox changes in asyncssh's SFTP server, so that it answers clients as OpenSSH's
sftp-server does. Every change to asyncssh's own behaviour lives here, in `SFTPHandler` (a
subclass of asyncssh's `SFTPServerHandler`), which `install()` makes the handler asyncssh runs
for every SFTP session of this process:

1. The bytes after a request's last field are skipped, as sftp-server.c's `process()` skips
   them. asyncssh answers SSH_FX_BAD_MESSAGE ("Unexpected data at end of packet"), and Go's
   pkg/sftp (under rclone and many sync tools) sends WRITE packets longer than the data they
   declare.
2. The client's own SSH_FXP_CLOSE of a file calls the server's `client_close(file)`; asyncssh
   calls `close(file)` both for that and for the handles a session left open when its
   channel or connection ended, so a server could not tell a finished upload from a cut-off
   one.
3. Before any request but a WRITE, the server's `settle()` is called: shoebox holds
   consecutive writes to put them on disk together, and every other request (a read, a
   stat, setting a size or times, a close) must find them there.

tests/test_sftp.py runs asyncssh's own handler beside this one (`test_compat_*`): each test
fails when a new asyncssh stops doing what is patched here or changes what the patch relies on.
pyproject.toml pins asyncssh to the versions those tests passed with.
"""

from __future__ import annotations

import inspect
from typing import Any

import asyncssh.sftp
from asyncssh.constants import FXP_CLOSE, FXP_WRITE
from asyncssh.packet import SSHPacket
from asyncssh.sftp import SFTPServerHandler

STOCK = SFTPServerHandler  # asyncssh's own, kept for the tests


class _Request(SSHPacket):
    """A request whose unread tail is skipped, as OpenSSH's sftp-server skips it."""

    def check_end(self) -> None:
        pass


class SFTPHandler(SFTPServerHandler):
    """asyncssh's SFTP server session handler with the changes above."""

    async def recv_packet(self) -> SSHPacket:
        packet = await super().recv_packet()
        return _Request(packet.get_full_payload())

    async def _process_packet(self, pkttype: int, pktid: int, packet: SSHPacket) -> None:
        if pkttype != FXP_WRITE:
            settle = getattr(self._server, "settle", None)
            if settle is not None:
                settle()
        await super()._process_packet(pkttype, pktid, packet)

    async def _process_close(self: SFTPServerHandler, packet: SSHPacket) -> None:
        handle = SSHPacket(packet.get_remaining_payload()).get_string()  # read ahead
        file_obj = self._file_handles.pop(handle, None)
        if file_obj is None:  # a directory's handle, or one never given out
            await STOCK._process_close(self, packet)
            return
        server: Any = self._server
        result = getattr(server, "client_close", server.close)(file_obj)
        if inspect.isawaitable(result):  # either may be a coroutine, as asyncssh allows
            await result

    _packet_handlers = {**STOCK._packet_handlers, FXP_CLOSE: _process_close}  # noqa: RUF012


def install() -> None:
    """Make `SFTPHandler` the handler of every SFTP session asyncssh serves from now on (asyncssh
    makes each one in `sftp._sftp_handler` from the module's `SFTPServerHandler`)."""
    if "SFTPServerHandler" not in asyncssh.sftp._sftp_handler.__code__.co_names:
        raise RuntimeError(
            "this asyncssh makes its SFTP handlers elsewhere: see shoebox.sftp.compat"
        )
    asyncssh.sftp.SFTPServerHandler = SFTPHandler  # type: ignore[misc]
