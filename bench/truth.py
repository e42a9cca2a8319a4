"""Catalog truth over the shared corpus: for each field (date, zone, place, camera, title,
description, keywords, rating), how many photos have a value, and from which source.

It copies the whole corpus into a library (keeping its folders, so sidecars sit beside their
photos), runs the real `shoebox index` and `shoebox photos --json` in subprocesses of the
Python it runs under, and counts. A date counts when it is not the file's time (a guess); a
source is what `taken_at_source` and `sources` say (catalogs that do not say print "?").

    .venv/bin/python bench/truth.py                         # the code of this checkout
    .venv/bin/python bench/truth.py --save after.json
    .venv/bin/python bench/truth.py --code /tmp/main-code --save before.json
    .venv/bin/python bench/truth.py --before before.json    # both, side by side

`--code DIR` runs the shoebox of another source tree (e.g. `git archive main | tar -x -C DIR`)
with this virtualenv, so that two versions are measured over the same files.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FIELDS = ("date", "zone", "zone name", "place", "camera", "software", "title", "description",
          "keywords", "rating")  # fmt: skip
GUESSED = "FileModifyDate"


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return done.stdout


def index(corpus: Path, work: Path, code: Path | None) -> list[dict[str, Any]]:
    """Index a copy of the corpus; return `shoebox photos --json`'s photos."""
    root = work / "originals"
    for manifest_line in (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]:
        name = manifest_line.split("\t")[0]
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus / name, root / name)
    cfg = work / "config.toml"
    cfg.write_text(
        f'[library]\noriginals = ["{root}"]\ncache = "{work / "cache"}"\n'
        f'[database]\nurl = "sqlite:///{work / "catalog.db"}"\n'
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if code is not None:
        env["PYTHONPATH"] = f"{code / 'daemon'}:{code / 'viewer'}"
    shoebox = [sys.executable, "-m", "shoebox", "--config", str(cfg)]
    run([*shoebox, "index", "--plain"], env)
    out = run([*shoebox, "photos", "--json"], env)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def tally(photos: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    """For each field: how many photos have a value, by source; and each photo's date (by its
    first file), to tell how many moved."""
    counts: dict[str, collections.Counter[str]] = {f: collections.Counter() for f in FIELDS}
    taken: dict[str, list[Any]] = {}
    for p in photos:
        first = os.path.relpath(min(f["path"] for f in p["files"]), root)
        taken[first] = [p["taken_at"], p["taken_at_local"], p["timezone"]]
        sources = p.get("sources") or {}
        has = {
            "date": p["taken_at_source"] != GUESSED,
            "zone": p["timezone"] is not None,
            "zone name": p.get("timezone_name") is not None,
            "place": p["lat"] is not None,
            "camera": bool(p["camera_make"] or p["camera_model"]),
            "software": p.get("software") is not None,
            "title": p["title"] is not None,
            "description": p["description"] is not None,
            "keywords": bool(p["keywords"]),
            "rating": p["rating"] is not None,
        }
        key = {"date": "taken_at", "zone name": "zone"}
        for field, present in has.items():
            if not present:
                continue
            source = p["taken_at_source"] if field == "date" else sources.get(key.get(field, field))
            counts[field][source or "?"] += 1
    return {
        "photos": len(photos),
        "fields": {f: dict(c) for f, c in counts.items()},
        "taken": taken,
    }


def describe(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{s} {n}" for s, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))
    return f"{total:>3}  ({parts})" if total else "  0"


def table(after: dict[str, Any], before: dict[str, Any] | None) -> str:
    lines = [f"photos: {after['photos']}" + (f" (before: {before['photos']})" if before else "")]
    for field in FIELDS:
        now = describe(after["fields"].get(field, {}))
        if before is None:
            lines.append(f"{field:<12} {now}")
        else:
            lines.append(f"{field:<12} before {describe(before['fields'].get(field, {}))}")
            lines.append(f"{'':<12} after  {now}")
    if before is not None:
        old, new = before.get("taken", {}), after.get("taken", {})
        moved = sorted(k for k in new if k in old and old[k][0] != new[k][0])
        lines.append(f"{len(moved)} photos' instant (taken_at, UTC) changed:")
        lines += [f"  {k}: {old[k][0]} -> {new[k][0]} ({new[k][2]})" for k in moved]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--code", type=Path, default=None, help="another shoebox source tree")
    parser.add_argument("--save", type=Path, default=None, help="write the counts as JSON")
    parser.add_argument("--before", type=Path, default=None, help="counts saved earlier")
    args = parser.parse_args()
    if not (args.corpus / "MANIFEST.tsv").is_file():
        sys.exit(f"no corpus at {args.corpus}")
    with tempfile.TemporaryDirectory(prefix="shoebox-truth-") as work:
        counts = tally(index(args.corpus, Path(work), args.code), Path(work) / "originals")
    if args.save:
        args.save.write_text(json.dumps(counts, indent=1, sort_keys=True))
    before = json.loads(args.before.read_text()) if args.before else None
    print(table(counts, before))


if __name__ == "__main__":
    main()
