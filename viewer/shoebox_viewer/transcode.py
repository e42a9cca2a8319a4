"""Videos a browser can play: which files play as they are, a once-only H.264/AAC MP4 copy
(at most 1080p, `+faststart`) of the rest (HEVC, MPEG-4 part 2 in AVI or 3GP, MPEG-2...), and
a once-only copy without metadata of one that plays as it is (its streams copied, not
converted: for visitors, who get no position, camera or dates from inside a file). Neither
copy holds the original's metadata (tags, chapters, data tracks such as Apple's location
track). Copies live in the cache folder's `video/`, named by content hash and recipe.

A copy is written to a temporary name and renamed; an exclusive lock (fcntl) per copy makes a
second request, in this process or another viewer, wait for the first one's copy instead of
running ffmpeg again. A video ffmpeg cannot copy leaves a `.failed` note with the reason, so
it is not tried on every request (delete the note to try again).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import subprocess
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
# Only the picture and the sound, and none of the tags, chapters or stream tags around them.
_NO_METADATA = (
    "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1",
    "-map_metadata:s:v", "-1", "-map_metadata:s:a", "-1", "-map_chapters", "-1",
    "-fflags", "+bitexact",
)  # fmt: skip


class TranscodeError(ShoeboxError):
    """ffmpeg could not make a playable copy of a video."""


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
    """The H.264/AAC MP4 copy of `source` (without its metadata), made now unless the cache
    holds it (or another request is making it: then wait for that one). Raises
    TranscodeError."""
    # The short side at most 1080 pixels, both sides even (yuv420p needs it).
    scale = (
        "scale=w='if(gte(iw,ih),-2,min(1080,iw))':h='if(gte(iw,ih),min(1080,ih),-2)',"
        "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    )
    recipe = [
        *_NO_METADATA, "-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
        "-f", "mp4",
    ]  # fmt: skip
    return _cached(cache, content_hash, "h264.mp4", source, recipe, ffmpeg, timeout)


def bare_copy(
    cache: Path,
    content_hash: str,
    source: bytes,
    *,
    webm: bool = False,
    ffmpeg: str = "ffmpeg",
    timeout: int = 600,
) -> Path:
    """A copy of `source`, a video a browser plays as it is, without its metadata: the same
    streams (nothing converted) in a new MP4 (or WebM) file. Made once, like `playable_copy`."""
    if webm:
        recipe = [*_NO_METADATA, "-c", "copy", "-f", "webm"]
        return _cached(cache, content_hash, "bare.webm", source, recipe, ffmpeg, timeout)
    recipe = [*_NO_METADATA, "-c", "copy", "-movflags", "+faststart", "-f", "mp4"]
    return _cached(cache, content_hash, "bare.mp4", source, recipe, ffmpeg, timeout)


def _cached(
    cache: Path,
    content_hash: str,
    name: str,
    source: bytes,
    recipe: list[str],
    ffmpeg: str,
    timeout: int,
) -> Path:
    """The copy `<hash>-<name>` in the cache, made with ffmpeg and `recipe` unless it is there."""
    if not content_hash.isalnum() or len(content_hash) > 128:
        raise TranscodeError("the video has no content hash yet; index it first")
    folder = video_folder(cache)
    target = folder / f"{content_hash}-{name}"
    failed = folder / f"{content_hash}-{name}.failed"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{content_hash}-{name}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if target.exists():
            return target
        if failed.exists():
            raise TranscodeError(failed.read_text(errors="replace").strip())
        temp = folder / f".{content_hash}.{secrets.token_hex(4)}.tmp.{name}"
        try:
            _run_ffmpeg(ffmpeg, source, recipe, temp, timeout, failed)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
    log.info("made a copy (%s) of %s: %s", name, os.fsdecode(source), target)
    return target


def _run_ffmpeg(
    ffmpeg: str, source: bytes, recipe: list[str], target: Path, timeout: int, failed: Path
) -> None:
    """Run ffmpeg, or raise TranscodeError; a video ffmpeg refuses leaves the `failed` note (a
    timeout or a missing ffmpeg does not: they may pass next time)."""
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", os.fsdecode(source), *recipe, str(target),
    ]  # fmt: skip
    try:
        subprocess.run(command, capture_output=True, timeout=timeout, check=True)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        message = f"ffmpeg cannot copy it: {detail[-1] if detail else exc}"
        failed.write_text(f"{message}\n")
        raise TranscodeError(message) from None
    except subprocess.TimeoutExpired:
        raise TranscodeError(f"ffmpeg took longer than {timeout} s to copy it") from None
    except OSError as exc:
        raise TranscodeError(f"cannot run {ffmpeg}: {exc}") from None
