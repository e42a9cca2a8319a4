"""Videos a browser can play: which files play as they are, and a once-only H.264/AAC MP4
copy (at most 1080p, `+faststart`) of the rest (HEVC, MPEG-4 part 2 in AVI or 3GP, MPEG-2...)
in the cache folder's `video/`, named by content hash.

A copy is written to a temporary name and renamed; an exclusive lock (fcntl) per content hash
makes a second request, in this process or another viewer, wait for the first one's copy
instead of running ffmpeg again. A video ffmpeg cannot convert leaves a `.failed` note with
the reason, so it is not tried on every request (delete the note to try again).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shoebox.catalog.cache import video_folder
from shoebox.errors import ShoeboxError

log = logging.getLogger("shoebox.viewer")

# Video codecs as exiftool names them (QuickTime CompressorID, Matroska VideoCodecID) and as
# ffprobe does, that every current browser decodes, in the containers that carry them.
_H264 = frozenset({"avc1", "avc3", "h264"})
_WEBM = frozenset({"v_vp8", "v_vp9", "v_av1", "vp8", "vp9", "av1"})
_MP4_TYPES = frozenset({"video/mp4", "video/quicktime", "video/x-m4v"})
_PLAYABLE_AUDIO = frozenset({"aac", "mp3", "opus", "vorbis", ""})


class TranscodeError(ShoeboxError):
    """ffmpeg could not make a playable copy of a video."""


@dataclass(frozen=True)
class Playable:
    """How to send a video: `path` (bytes, for the file system) with `content_type`, and
    `etag` when it is a cached copy named by content hash."""

    path: bytes
    content_type: str
    etag: str | None


def plays_as_is(mime: str | None, codec: str | None) -> bool | None:
    """Whether a browser plays this file as it is: True, False, or None when the catalog's
    values do not say (ask `probe`)."""
    kind = (mime or "").lower()
    name = (codec or "").strip().lower()
    if kind == "video/webm":
        return not name or name in _WEBM
    if kind in _MP4_TYPES:
        if not name:
            return None
        return name in _H264
    return False


def probe(path: bytes, ffprobe: str = "ffprobe") -> bool:
    """Whether ffprobe finds H.264 video with AAC/MP3 (or no) audio in an MP4-like file."""
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "stream=codec_type,codec_name",
             "-of", "json", os.fsdecode(path)],
            capture_output=True, timeout=30, check=True,
        )  # fmt: skip
        streams = json.loads(done.stdout).get("streams", [])
    except (OSError, subprocess.SubprocessError, ValueError):
        return False
    video = [s.get("codec_name", "") for s in streams if s.get("codec_type") == "video"]
    audio = [s.get("codec_name", "") for s in streams if s.get("codec_type") == "audio"]
    return video[:1] == ["h264"] and all(a in _PLAYABLE_AUDIO for a in audio[:1])


def playable_copy(
    cache: Path, content_hash: str, source: bytes, *, ffmpeg: str = "ffmpeg", timeout: int = 3600
) -> Path:
    """The H.264/AAC MP4 copy of `source`, made now unless the cache holds it (or another
    request is making it: then wait for that one). Raises TranscodeError."""
    if not content_hash.isalnum() or len(content_hash) > 128:
        raise TranscodeError("the video has no content hash yet; index it first")
    folder = video_folder(cache)
    target = folder / f"{content_hash}.mp4"
    failed = folder / f"{content_hash}.failed"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{content_hash}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if target.exists():
            return target
        if failed.exists():
            raise TranscodeError(failed.read_text(errors="replace").strip())
        temp = folder / f".{content_hash}.{secrets.token_hex(4)}.tmp.mp4"
        try:
            _run_ffmpeg(ffmpeg, source, temp, timeout, failed)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
    log.info("made a playable copy of %s: %s", os.fsdecode(source), target)
    return target


def _run_ffmpeg(ffmpeg: str, source: bytes, target: Path, timeout: int, failed: Path) -> None:
    """Convert, or raise TranscodeError; a video ffmpeg refuses leaves the `failed` note (a
    timeout or a missing ffmpeg does not: they may pass next time)."""
    # The short side at most 1080 pixels, both sides even (yuv420p needs it).
    scale = (
        "scale=w='if(gte(iw,ih),-2,min(1080,iw))':h='if(gte(iw,ih),min(1080,ih),-2)',"
        "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    )
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", os.fsdecode(source),
        "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
        "-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", "-f", "mp4", str(target),
    ]  # fmt: skip
    try:
        subprocess.run(command, capture_output=True, timeout=timeout, check=True)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        message = f"ffmpeg cannot convert it: {detail[-1] if detail else exc}"
        failed.write_text(f"{message}\n")
        raise TranscodeError(message) from None
    except subprocess.TimeoutExpired:
        raise TranscodeError(f"ffmpeg took longer than {timeout} s to convert it") from None
    except OSError as exc:
        raise TranscodeError(f"cannot run {ffmpeg}: {exc}") from None
