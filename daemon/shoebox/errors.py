"""The one error tree of shoebox.

Library code raises these; only the command line (`shoebox.cli`) turns them into a message and
an exit code. Each message says what went wrong and, where it can, what to do about it.
"""


class ShoeboxError(Exception):
    """Base class of every error shoebox raises on purpose."""

    exit_code = 1


class ConfigError(ShoeboxError):
    """The configuration file is missing, unreadable or holds a bad key or value."""

    exit_code = 2


class CatalogError(ShoeboxError):
    """The catalog database cannot be opened, migrated or queried."""


class BackupError(ShoeboxError):
    """A backup cannot be made, is damaged, or cannot be restored into this catalog."""


class UsageError(ShoeboxError):
    """The command line asked for something that cannot be done (for example a path outside
    every library root)."""

    exit_code = 2


class StageError(ShoeboxError):
    """One ingest stage failed for one file. The run records it and goes on."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


class HelperError(ShoeboxError):
    """A helper (exiftool, ffmpeg, a worker process) could not start, died or overran its
    deadline with one file in hand. It has been killed; the next request starts a new one."""

    def __init__(self, helper: str, message: str, kind: str = "died") -> None:
        super().__init__(f"{helper} {message}")
        self.helper = helper
        self.message = message
        self.kind = kind  # "died", "timeout" (it overran and was killed) or "start"


class Stopped(ShoeboxError):
    """The run was asked to stop (SIGTERM, Ctrl-C) while a helper had a file in hand; the
    helper has been killed and the file is left for the next run."""


class NotFound(UsageError):
    """No such thing, or none that the one asking may see (the viewer answers 404)."""


class Forbidden(UsageError):
    """The one asking sees it but may not do this to it (the viewer answers 403)."""
