"""Verify benchmark: how fast `shoebox verify` reads the originals, beside `b3sum` (BLAKE3, all
cores) when it is installed and `cat > /dev/null` (the disk's own read speed) on the same files.

It is a script, not a test: it prints figures, it asserts nothing. It writes --files files of
--size-mb MB of random bytes (named .jpg: `verify` does not decode, it hashes) into a library,
records them as indexed in a fresh SQLite catalog (their BLAKE3, size and mtime, as indexing
leaves them; not timed), then times, each on a cold page cache when the caches can be dropped
(root: `echo 3 > /proc/sys/vm/drop_caches`; otherwise warm, and it says so):

1. `shoebox.verify.verify` over the root (what `shoebox verify` runs: a stat and a BLAKE3 of
   every file, one thread);
2. `b3sum` over the same files (if installed);
3. `cat FILES > /dev/null`.

Target from issue 13: `shoebox verify` at disk speed, i.e. close to `cat`'s MB/s.

    .venv/bin/python bench/verify.py
    .venv/bin/python bench/verify.py --files 200 --size-mb 20 --workdir /tmp/sbv
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shoebox.catalog.database import Catalog
from shoebox.catalog.models import File
from shoebox.ingest import scan
from shoebox.ingest.identify import hash_file
from shoebox.ingest.run import root_row
from shoebox.verify import verify


def drop_caches() -> bool:
    """Empty the page cache (needs root); False when it cannot be done."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def make_library(root: Path, files: int, size: int) -> list[Path]:
    made = []
    for n in range(files):
        path = root / f"{n // 100:03d}" / f"IMG_{n:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.stat().st_size != size:
            path.write_bytes(os.urandom(size))
        made.append(path)
    return made


def record(root: Path, paths: list[Path]) -> None:
    row = root_row(root)
    rows = []
    for path in paths:
        rel = os.fsencode(path.relative_to(root))
        st = path.stat()
        rows.append({
            "root": row.id, "rel_path": scan.display(rel), "rel_path_raw": rel,
            "path_key": scan.key(rel), "stem_key": scan.stem_key(rel), "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "hash": hash_file(os.fsencode(path)), "role": "original",
        })  # fmt: skip
    File.insert_many(rows).execute()


def timed(label: str, total: int, cold: bool, run: Callable[[], object]) -> None:
    if cold:
        drop_caches()
    started = time.perf_counter()
    run()
    took = time.perf_counter() - started
    print(f"{label:<24} {took:7.2f} s  {total / took / 1e6:8.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--size-mb", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work: Path = args.workdir or Path(tempfile.mkdtemp(prefix="sbv-"))
    root = work / "library"
    paths = make_library(root, args.files, int(args.size_mb * 1e6))
    total = sum(p.stat().st_size for p in paths)
    db = work / "catalog.db"
    db.unlink(missing_ok=True)
    cold = drop_caches()
    print(f"{len(paths)} files, {total / 1e6:.0f} MB; page cache: {'cold' if cold else 'WARM'}")
    print(f"load: {Path('/proc/loadavg').read_text().strip()}; cores: {os.cpu_count()}")
    try:
        with Catalog(f"sqlite:///{db}", work):
            record(root, paths)

            def check() -> None:
                found = verify((root,))
                assert found.checked == len(paths) and not found.bad, found.line()

            timed("shoebox verify", total, cold, check)
        names = [str(p) for p in paths]
        if shutil.which("b3sum"):
            timed(
                "b3sum",
                total,
                cold,
                lambda: subprocess.run(["b3sum", *names], check=True, capture_output=True),
            )
        else:
            print("b3sum                    not installed")
        timed(
            "cat > /dev/null",
            total,
            cold,
            lambda: subprocess.run(["cat", *names], check=True, stdout=subprocess.DEVNULL),
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
