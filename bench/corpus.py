"""What the benchmarks over ../shared/corpus share: their command line (--corpus, --workdir)
and a library made of copies of corpus files, with its config, ready to index."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path


def arguments(doc: str, prefix: str) -> tuple[Path, Path]:
    """The corpus folder and a fresh work folder, from the command line; exits when the
    corpus is missing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        raise SystemExit(2)
    work: Path = args.workdir or Path(tempfile.mkdtemp(prefix=prefix))
    shutil.rmtree(work, ignore_errors=True)
    return args.corpus, work


def library(work: Path, copies: Iterable[tuple[Path, str]]) -> Path:
    """Copy each (source, name) into `work`/originals; return the config file of a library
    of that root, with its cache and SQLite catalog in `work`."""
    root = work / "originals"
    root.mkdir(parents=True)
    for source, name in copies:
        shutil.copyfile(source, root / name)
    cfg = work / "config.toml"
    cfg.write_text(
        f'[library]\noriginals = ["{root}"]\ncache = "{work / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{work / "catalog.db"}"\n'
    )
    return cfg
