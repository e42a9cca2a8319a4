"""The CPU-heavy part of ingesting one file, run in a process pool on every core.

One read of the file serves both stages that need its bytes: *identify* hashes it and sniffs
its kind, *renditions* decodes it (when asked to) and writes the tile and the preview. Errors
come back as values, never as exceptions, so one bad file cannot disturb the pool.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shoebox.errors import StageError
from shoebox.ingest import identify, renditions
from shoebox.ingest.identify import Kind

# Files larger than this are hashed in chunks instead of being read whole.
_READ_WHOLE_LIMIT = 256 << 20


@dataclass(frozen=True)
class Task:
    path: bytes
    extension: str
    render: bool  # run the renditions stage
    force: bool  # re-render even if the cache already holds this content


@dataclass
class Outcome:
    hash: str | None = None
    size: int | None = None
    kind: Kind = "unknown"
    animated: bool = False
    rendered: bool = False  # renditions exist for this content after this task
    errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, message)


def run(spec: renditions.RenditionSpec, task: Task) -> Outcome:
    """Identify one file and render it. Never raises for a bad file."""
    out = Outcome()
    data: bytes | None = None
    try:
        size = os.stat(task.path).st_size
        if size <= _READ_WHOLE_LIMIT:
            with open(task.path, "rb") as fh:
                data = fh.read()
            out.hash, out.size = identify.hash_bytes(data), len(data)
            head = data[:512]
        else:
            out.hash, out.size = identify.hash_file(task.path)
            with open(task.path, "rb") as fh:
                head = fh.read(512)
    except OSError as exc:
        out.errors.append(("identify", f"cannot read the file ({exc.strerror or exc})"))
        return out
    if out.size == 0:
        out.errors.append(("identify", "the file is empty"))
        return out
    out.kind = identify.sniff(head, task.extension)
    if out.kind == "unknown":
        out.errors.append(("identify", "the content is not a photo or video shoebox knows"))
        return out
    if out.kind == "sidecar" or not task.render:
        return out
    if not task.force and renditions.exists(spec, out.hash):
        out.rendered = True
        if out.kind == "image":  # still worth knowing whether it moves
            out.animated = renditions.is_animated(task.path, data)
        return out
    try:
        decoded = renditions.decode(spec, task.path, data, out.kind)
        out.animated = decoded.animated
        renditions.render(spec, out.hash, decoded.image)
        out.rendered = True
    except StageError as exc:
        out.errors.append((exc.stage, exc.message))
    except (OSError, ValueError, MemoryError) as exc:
        out.errors.append(("renditions", f"{type(exc).__name__}: {exc}"))
    return out
