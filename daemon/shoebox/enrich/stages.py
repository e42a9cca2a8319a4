"""Which later stages this install runs, in order, and why any is off.

Each stage module is imported here without its heavy libraries (they load at the first photo
that needs them), so asking what is available costs nothing.
"""

from __future__ import annotations

from shoebox.config import Settings
from shoebox.enrich.runner import Stage


def load(settings: Settings) -> tuple[list[Stage], list[str]]:
    """The stages to run, and a line for each one that is off saying why."""
    stages: list[Stage] = []
    off: list[str] = []
    return stages, off
