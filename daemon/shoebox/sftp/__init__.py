"""The SFTP endpoint phones upload into: accounts, host key, login guard, the confined file
system and the asyncssh server that ties them together (`SFTPEndpoint`)."""

from shoebox.sftp.server import SFTPEndpoint

__all__ = ["SFTPEndpoint"]
