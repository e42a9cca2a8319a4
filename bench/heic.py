"""How long one 12-MP HEIC takes to render: decoding it (libheif through pillow-heif) and
writing its preview and tile, the renditions stage's whole work for such a file, on one core.

Every HEIC of 10 megapixels or more in the corpus is rendered `--runs` times in this process
(after one warm-up), as a worker renders it; the table gives the decode and the whole stage,
p50 and p95 in ms, per file.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/heic.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from shoebox.config import RenditionSettings
from shoebox.ingest import renditions


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    files = sorted(
        path
        for path in args.corpus.rglob("*")
        if path.suffix.lower() in (".heic", ".heif") and _megapixels(path) >= 10
    )
    if not files:
        print(f"no 12-MP HEIC in {args.corpus}", file=sys.stderr)
        return 2
    settings = RenditionSettings()
    with tempfile.TemporaryDirectory(prefix="sb-heic-") as cache:
        spec = renditions.RenditionSpec(
            cache=Path(cache), tile_size=settings.tile_size,
            preview_size=settings.preview_size, quality=settings.quality,
            max_pixels=200_000_000, ffmpeg="ffmpeg", video_timeout=60,
        )  # fmt: skip
        print(f"{'file':40} {'MP':>5} {'decode p50/p95':>16} {'stage p50/p95':>16}")
        for path in files:
            decode, whole = [], []
            for run in range(args.runs + 1):
                fd = os.open(path, os.O_RDONLY)
                try:
                    started = time.perf_counter()
                    picture = renditions.decode(spec, fd, os.fstat(fd).st_size, "image").image
                    decoded = time.perf_counter()
                    renditions.render(spec, f"{run:064x}", picture)
                    done = time.perf_counter()
                finally:
                    os.close(fd)
                if run:  # the first run warms up
                    decode.append(1000 * (decoded - started))
                    whole.append(1000 * (done - started))
            print(
                f"{path.name[:40]:40} {_megapixels(path):5.1f} "
                f"{statistics.median(decode):7.0f} /{p95(decode):5.0f}   "
                f"{statistics.median(whole):7.0f} /{p95(whole):5.0f}"
            )
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


def _megapixels(path: Path) -> float:
    try:
        with Image.open(path) as im:
            return im.width * im.height / 1e6
    except (OSError, ValueError, SyntaxError):
        return 0.0


if __name__ == "__main__":
    raise SystemExit(main())
