"""Where shoebox's log lines go and what they look like: stderr, one record a line, with the
syslog priority in front under systemd (journald reads it).

No record can forge another: a message (its arguments included: file names, account names,
tags) is one line with every control character escaped (`shoebox.printable`); an exception's
traceback follows on lines of its own, each indented, so none of them begins a line as a
record would. A fail2ban filter anchored at the start of the line matches real records only.
"""

from __future__ import annotations

import logging
import os
import sys

from shoebox.printable import printable

TRACE_INDENT = "  | "  # in front of each line of a traceback


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, so log lines print above a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):
            self.handleError(record)


class SafeFormatter(logging.Formatter):
    """A record as one escaped line, then its traceback (if any) on indented, escaped lines;
    with `journal`, prefixed with its syslog priority (<3> error ... <7> debug)."""

    def __init__(self, fmt: str, *, journal: bool = False) -> None:
        super().__init__(fmt)
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        line = printable(self.formatMessage(record))
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            line += "".join(f"\n{TRACE_INDENT}{printable(part)}" for part in block.split("\n"))
        if self.journal:
            level = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6}.get(record.levelname, 7)
            return f"<{level}>{line}"
        return line


def setup(level: str) -> None:
    """Send every logger's records to stderr at `level` (debug, info, warning, error)."""
    handler = _StderrHandler()
    if "JOURNAL_STREAM" in os.environ:  # under systemd: journald reads the priority prefix
        handler.setFormatter(SafeFormatter("%(name)s: %(message)s", journal=True))
    else:
        handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("peewee").setLevel(logging.WARNING)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # shoebox.sftp logs what matters
