"""The full-screen rendition of one photo, made in a process of its own for the viewer
(`shoebox_viewer.large`): the decoders (Pillow, pillow-heif, rawpy) stay out of the web
process, and all the memory a large picture took is given back when the process ends.

Run as `python -m shoebox.ingest.large` with the job in JSON on stdin: the file's path, its
kind for the decoder, its content hash and the recipe (`RenditionSpec`'s fields, the large
size in place of the preview's), so that no path is ever an argument. The file is opened as
the ingest opens it (`identify.open_regular`) and decoded with the ingest's guards
(`renditions.decode`), under the ingest's memory limit (`memory_mb`). Exit status 0: the rendition is in the cache; 1: it cannot be made,
and the last line of stderr says why.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from shoebox.errors import ShoeboxError, StageError
from shoebox.ingest import identify, renditions


def make(job: dict[str, Any]) -> None:
    """Write the rendition this job describes (StageError, HelperError or OSError)."""
    content_hash = str(job["hash"])
    if not content_hash.isalnum():
        raise StageError("renditions", "no content hash to name the rendition by")
    spec = renditions.RenditionSpec(**{**job["spec"], "cache": Path(job["spec"]["cache"])})
    fd, st = identify.open_regular(os.fsencode(job["path"]))
    try:
        decoded = renditions.decode(spec, fd, st.st_size, job["kind"])
    finally:
        os.close(fd)
    renditions.render_large(spec, content_hash, decoded.image)


def main() -> int:
    try:
        job = json.load(sys.stdin)
        if job.get("memory_mb"):  # as the ingest's workers: a file that wants more fails alone
            limit = int(job["memory_mb"]) << 20
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        make(job)
    except MemoryError:
        print(f"MemoryError: needs more than {job['memory_mb']} MB", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError, ShoeboxError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
