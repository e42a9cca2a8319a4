"""The full-screen picture of a photo (`/large/<id>`, `/s/<token>/large/<id>`, sent by
`media.Media.large`): whether the original will do, and making the rendition `large` when it
is not there yet.

The rendition (`[renditions] large_size` pixels on its longest edge, a JPEG without metadata
but its colour profile) is made from the file the photo's other renditions come from, the
first time someone asks for it, by the ingest's own decoder with its guards (the size a file
claims is checked against its bytes before anything is decoded, and nothing larger than
`[ingest] max_pixels` is decoded), in a process of its own (`shoebox.ingest.large`): the web
process never loads a decoder, and gets back the memory a large picture takes. It is written
into the cache folder (to a temporary name, then renamed), never beside the originals, which
the viewer only reads. At most `MAKING` requests of a viewer process make one at a time; the
others wait their turn.

With `originals` (a member, or a link that lets visitors download the originals, since an
original keeps its metadata) the original itself is shown when a browser reads its format and
it is no larger than the rendition would be. A video shows its preview (the video plays on
the photo page), and so does a photo whose rendition cannot be made (the reason is logged).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from typing import Any

from shoebox.catalog.cache import LARGE, rendition_path
from shoebox.config import Settings
from shoebox.errors import ShoeboxError

log = logging.getLogger("shoebox.viewer")

BROWSER_FORMATS = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
MAX_ORIGINAL_BYTES = 25 * 2**20  # a heavier original is shown as the rendition, however small
MAKING = 2
TIMEOUT = 120  # seconds to make one; past that the process is killed


class LargeError(ShoeboxError):
    """The full-screen rendition of a file could not be made."""


def shown_as_is(settings: Settings, source: Any, width: int | None, height: int | None) -> bool:
    """Whether a browser shows this original (a File row) as it is, and it is no larger than
    the rendition; `width` and `height` are the photo's."""
    longest = max(width or 0, height or 0)
    return (
        source.role == "original"
        and source.mime in BROWSER_FORMATS
        and 0 < longest <= settings.renditions.large_size
        and source.size <= MAX_ORIGINAL_BYTES
    )


def made(
    settings: Settings, making: threading.Semaphore, source: bytes, kind: str, content_hash: str
) -> bool:
    """Whether the cache holds the rendition of this content, made now from the file `source`
    (of `kind`, for the decoder) if it did not; False, and the reason logged, when it cannot
    be made."""
    target = rendition_path(settings.library.cache, content_hash, LARGE)
    if target.exists():
        return True
    with making:
        if target.exists():  # another request made it while this one waited
            return True
        try:
            _make(settings, source, kind, content_hash)
        except (OSError, ShoeboxError) as exc:
            log.warning("no full-screen rendition of %s: %s", os.fsdecode(source), exc)
            return False
    return True


def _make(settings: Settings, source: bytes, kind: str, content_hash: str) -> None:
    """Run `shoebox.ingest.large` on one file, or raise LargeError."""
    ren, ing = settings.renditions, settings.ingest
    spec = {
        "cache": str(settings.library.cache), "tile_size": ren.tile_size,
        "preview_size": ren.large_size, "quality": ren.quality, "max_pixels": ing.max_pixels,
        "ffmpeg": ing.ffmpeg, "video_timeout": ing.video_timeout,
    }  # fmt: skip
    job = {
        "path": os.fsdecode(source), "kind": kind, "hash": content_hash, "spec": spec,
        "memory_mb": ing.memory_limit_mb,
    }  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shoebox.ingest.large"],
            input=json.dumps(job).encode(), capture_output=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LargeError(f"took longer than {TIMEOUT} s") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LargeError(said[-1] if said else f"exit status {done.returncode}")
