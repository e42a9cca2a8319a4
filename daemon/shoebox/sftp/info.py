"""What to tell a phone: the host key's fingerprint and the `sftp://NAME@HOST:PORT/` address."""

from __future__ import annotations

import socket

from shoebox import config
from shoebox.config import SftpSettings
from shoebox.sftp import hostkey


def lan_address() -> str:
    """This machine's address on its LAN (no packet is sent), else its host name."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return str(sock.getsockname()[0])
    except OSError:
        return socket.gethostname()


def address(settings: SftpSettings, name: str) -> str:
    host, port = config.parse_listen(settings.listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a wildcard: name a real address)
        host = lan_address()
    if ":" in host:
        host = f"[{host}]"
    return f"sftp://{name}@{host}:{port}/"


def describe(settings: SftpSettings, names: list[str]) -> list[str]:
    """The lines `shoebox sftp info` prints."""
    # Only read here: a key made by this command (perhaps run as root) might not be readable
    # by the daemon's user. The daemon makes it on its first start.
    key = hostkey.read(settings.host_key)
    if key is None:
        lines = [f"host key: none yet; `shoebox daemon` makes {settings.host_key} when it starts"]
    else:
        lines = [f"host key: {hostkey.fingerprint(key)} ({settings.host_key})"]
    for name in names or ["NAME"]:
        lines.append(f"address:  {address(settings, name)}")
    if not names:
        lines.append("no accounts yet: add one with `shoebox user add NAME --key FILE`")
    return lines
