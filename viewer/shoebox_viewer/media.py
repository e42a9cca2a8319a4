"""TODO"""

from __future__ import annotations

import bottle

from shoebox_viewer.context import Context


def install(app: bottle.Bottle, ctx: Context) -> None:
    pass
