"""The server's host key: made once (ed25519, mode 0600) and kept, so phones can trust it."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

from shoebox.errors import ConfigError


def load_or_create(path: Path) -> asyncssh.SSHKey:
    """The host key at `path`, generated there first if the file does not exist yet. The new
    key is written beside it and linked into place, so a crash never leaves half a key."""
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        temp = path.with_name(f".{path.name}.{os.getpid()}.new")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.export_private_key())
                fh.flush()
                os.fsync(fh.fileno())
            os.link(temp, path)  # fails if another process made one meanwhile: use theirs
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(
                f"cannot create the SFTP host key {path}: {exc.strerror}; "
                "check [sftp] host_key and the folder's permissions"
            ) from None
        else:
            return key
        finally:
            temp.unlink(missing_ok=True)
    existing = read(path)
    if existing is None:
        raise ConfigError(f"the SFTP host key {path} vanished while it was being read")
    return existing


def read(path: Path) -> asyncssh.SSHKey | None:
    """The host key at `path`, or None when there is none yet."""
    try:
        return asyncssh.read_private_key(path)
    except FileNotFoundError:
        return None
    except (OSError, asyncssh.KeyImportError, ValueError) as exc:
        raise ConfigError(f"cannot read the SFTP host key {path}: {exc}") from None


def fingerprint(key: asyncssh.SSHKey) -> str:
    """`SHA256:...`, as `ssh` shows it when it first meets the server."""
    return key.get_fingerprint("sha256")
