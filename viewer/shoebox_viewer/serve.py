"""`shoebox viewer`: the catalog opened, the application made, and waitress serving it until
SIGTERM. Tells systemd when it is ready (Type=notify)."""

from __future__ import annotations

import logging

import waitress

from shoebox.catalog.database import Catalog
from shoebox.config import Settings, parse_listen
from shoebox.systemd import notify
from shoebox_viewer.app import make_app

log = logging.getLogger("shoebox.viewer")
_OUTBUF = 4 << 20  # bytes of a response held for a slow client before the app waits


def serve(settings: Settings) -> None:
    host, port = parse_listen(settings.viewer.listen)
    # "Task queue depth is N" whenever every thread is busy: a timeline page asks for a
    # hundred tiles at once, so in normal use that would be a log line per tile, which no one
    # can act on (`[viewer] threads` is the knob; the README's benchmark, the measure)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with Catalog(settings.database.url, settings.source.parent, cache_mib=64):
        server = waitress.create_server(
            make_app(settings),
            host=host,
            port=port,
            threads=settings.viewer.threads,
            ident="shoebox",
            clear_untrusted_proxy_headers=False,  # Front decides whom to believe
            # a response waits in memory up to what holds the application back (4 MiB),
            # rather than in a temporary file past 1 MiB: a zip streams faster, memory stays
            # bounded (per download under way)
            outbuf_overflow=_OUTBUF,
            outbuf_high_watermark=_OUTBUF,
        )
        shown = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104
        log.info(
            "viewer listening on http://%s:%s%s",
            shown,
            server.effective_port,
            settings.viewer.base_path,
        )
        notify("READY=1", "STATUS=serving")
        try:
            server.run()
        finally:
            notify("STOPPING=1")
            server.close()
