"""The CPU-heavy part of ingesting one file, run in a worker process (`ingest.pool`).

The file is opened once (`identify.open_regular`: no symbolic link, a regular file only) and
everything reads that open file. *identify* sniffs the kind from the first bytes and, only for
media shoebox knows, hashes the content in fixed-size chunks (and, in the fast phase, looks
at whether an image that may move does: its header only); *renditions* decodes it (when asked
to, in the slow phase) and writes the tile and the preview. Errors come back as values, never as exceptions,
so one bad file cannot disturb the worker; a problem with ffmpeg (it overran or died) is also
reported, for the helpers' health.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shoebox.errors import HelperError, StageError
from shoebox.ingest import identify, renditions
from shoebox.ingest.identify import Kind


@dataclass(frozen=True)
class Task:
    path: bytes
    extension: str
    render: bool  # run the renditions stage
    force: bool  # re-render even if the cache already holds this content
    look: bool = False  # not rendering: open an image that may move to tell whether it does


@dataclass
class Outcome:
    hash: str | None = None
    kind: Kind = "unknown"
    animated: bool = False
    rendered: bool = False  # renditions exist for this content after this task
    errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, message)
    trouble: list[tuple[str, str, str]] = field(default_factory=list)  # (helper, kind, message)


def run(spec: renditions.RenditionSpec, task: Task) -> Outcome:
    """Identify one file and render it. Never raises for a bad file."""
    out = Outcome()
    try:
        fd, st = identify.open_regular(task.path)
    except OSError as exc:
        out.errors.append(("identify", f"cannot read the file ({exc.strerror or exc})"))
        return out
    try:
        _run(spec, task, fd, st.st_size, out)
    finally:
        os.close(fd)
    return out


def _run(spec: renditions.RenditionSpec, task: Task, fd: int, size: int, out: Outcome) -> None:
    try:
        head = os.pread(fd, 512, 0)
        if not head:
            out.errors.append(("identify", "the file is empty"))
            return
        out.kind = identify.sniff(head, task.extension)
        if out.kind == "unknown":  # not hashed: a big file that is not media is not read
            out.errors.append(("identify", "the content is not a photo or video shoebox knows"))
            return
        out.hash = content_hash = identify.hash_fd(fd)
    except OSError as exc:
        out.errors.append(("identify", f"cannot read the file ({exc.strerror or exc})"))
        return
    if out.kind == "sidecar":
        return
    if not task.render:
        if task.look and out.kind == "image" and renditions.may_move(head):
            out.animated = renditions.is_animated(fd)
        return
    if not task.force and renditions.exists(spec, content_hash):
        out.rendered = True
        if out.kind == "image":  # still worth knowing whether it moves
            out.animated = renditions.is_animated(fd)
        return
    try:
        decoded = renditions.decode(spec, fd, size, out.kind)
        out.animated = decoded.animated
        renditions.render(spec, content_hash, decoded.image)
        out.rendered = True
    except HelperError as exc:
        out.errors.append(("renditions", str(exc)))
        out.trouble.append((exc.helper, exc.kind, exc.message))
    except StageError as exc:
        out.errors.append((exc.stage, exc.message))
    except MemoryError:
        out.errors.append(("renditions", "out of memory (more than [ingest] memory_limit_mb)"))
    except (OSError, ValueError) as exc:
        out.errors.append(("renditions", f"{type(exc).__name__}: {exc}"))
