"""Talking to systemd: the `sd_notify` datagrams of a Type=notify service (READY, STATUS,
WATCHDOG, STOPPING). Does nothing outside systemd."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("shoebox")


def notify(*lines: str) -> None:
    """Tell systemd (Type=notify) how we are; does nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)  # a listener that does not read must not stop the service
            sock.sendto("\n".join(lines).encode(), address)
    except BlockingIOError:
        log.debug("systemd's notify socket is full; dropped: %s", lines)
    except OSError as exc:
        log.warning("cannot reach systemd's notify socket: %s", exc)
