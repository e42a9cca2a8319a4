"""The CPU-heavy part of ingesting one file, run in a process pool on every core.

*identify* hashes the file (memory-mapped, so the page cache is read in place) and sniffs its
kind; *renditions* decodes it (when asked to) and writes the tile and the preview. No copy of
the file is held in memory: a 5 MB photo would cost more in page faults than in hashing.
Errors come back as values, never as exceptions, so one bad file cannot disturb the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoebox.errors import StageError
from shoebox.ingest import identify, renditions
from shoebox.ingest.identify import Kind


@dataclass(frozen=True)
class Task:
    path: bytes
    extension: str
    render: bool  # run the renditions stage
    force: bool  # re-render even if the cache already holds this content


@dataclass
class Outcome:
    hash: str | None = None
    kind: Kind = "unknown"
    animated: bool = False
    rendered: bool = False  # renditions exist for this content after this task
    errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, message)


def run(spec: renditions.RenditionSpec, task: Task) -> Outcome:
    """Identify one file and render it. Never raises for a bad file."""
    out = Outcome()
    try:
        with open(task.path, "rb") as fh:
            head = fh.read(512)
        if not head:
            out.errors.append(("identify", "the file is empty"))
            return out
        out.hash = content_hash = identify.hash_file(task.path)
    except OSError as exc:
        out.errors.append(("identify", f"cannot read the file ({exc.strerror or exc})"))
        return out
    out.kind = identify.sniff(head, task.extension)
    if out.kind == "unknown":
        out.errors.append(("identify", "the content is not a photo or video shoebox knows"))
        return out
    if out.kind == "sidecar" or not task.render:
        return out
    if not task.force and renditions.exists(spec, content_hash):
        out.rendered = True
        if out.kind == "image":  # still worth knowing whether it moves
            out.animated = renditions.is_animated(task.path)
        return out
    try:
        decoded = renditions.decode(spec, task.path, out.kind)
        out.animated = decoded.animated
        renditions.render(spec, content_hash, decoded.image)
        out.rendered = True
    except StageError as exc:
        out.errors.append((exc.stage, exc.message))
    except (OSError, ValueError, MemoryError) as exc:
        out.errors.append(("renditions", f"{type(exc).__name__}: {exc}"))
    return out
