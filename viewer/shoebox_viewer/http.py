"""HTTP done right for files, in one place: conditional GET (ETag, Last-Modified, 304),
single byte ranges (206, 416), Content-Type and a safe Content-Disposition, files streamed in
chunks, and `gzip`, WSGI middleware that compresses text answers for clients that accept it.

Files are opened by the caller's path (built from ids, never from a URL) and sent through the
server's `wsgi.file_wrapper` when the whole file goes out, or read chunk by chunk for a range:
a video is never read into memory.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_mod
import os
import re
import stat
import unicodedata
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import IO, Any

import bottle

from shoebox_viewer.front import Environ, StartResponse, WSGIApp

IMMUTABLE = "private, max-age=31536000, immutable"  # renditions: named by content hash
REVALIDATE = "private, no-cache"  # originals: may change under the same id; ask each time
CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")
_COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "image/svg+xml",
)
_NOT_COMPRESSED = frozenset({204, 206, 304})


def send_file(
    path: bytes,
    *,
    content_type: str,
    etag: str | None = None,
    cache_control: str = REVALIDATE,
    download_name: str | None = None,
    ranges: bool = False,
) -> bottle.HTTPResponse:
    """The file at `path` as an answer: 404 when it is gone; 304 when the client's copy is
    current; with `ranges`, 206 for one satisfiable byte range and 416 for an unsatisfiable
    one. `etag` is the quoted strong validator (default: size and modification time);
    `download_name` makes it an attachment under that name."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- the answer closes it once sent
    except OSError:
        raise bottle.HTTPError(404, "the file is not there (any more)") from None
    try:
        return _answer(handle, content_type, etag, cache_control, download_name, ranges)
    except BaseException:
        handle.close()
        raise


def _answer(
    handle: IO[bytes],
    content_type: str,
    etag: str | None,
    cache_control: str,
    download_name: str | None,
    ranges: bool,
) -> bottle.HTTPResponse:
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        raise bottle.HTTPError(404, "not a file")
    size = info.st_size
    tag = etag or f'"{size:x}-{info.st_mtime_ns:x}"'
    headers = {
        "ETag": tag,
        "Last-Modified": email.utils.formatdate(info.st_mtime, usegmt=True),
        "Cache-Control": cache_control,
        "Content-Type": content_type,
    }
    if ranges:
        headers["Accept-Ranges"] = "bytes"
    if download_name is not None:
        headers["Content-Disposition"] = content_disposition(download_name)
    if not_modified(tag, info.st_mtime):
        handle.close()
        return bottle.HTTPResponse(status=304, headers=_validators(headers))
    span = _wanted_range(size, tag, info.st_mtime) if ranges else None
    if span == "unsatisfiable":
        handle.close()
        return bottle.HTTPResponse(
            status=416, headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        )
    if isinstance(span, tuple):
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        handle.seek(start)
        return bottle.HTTPResponse(FileRange(handle, end - start + 1), 206, headers)
    headers["Content-Length"] = str(size)
    return bottle.HTTPResponse(handle, 200, headers)


def not_modified(etag: str, mtime: float | None = None) -> bool:
    """Whether the request's If-None-Match (or, without it, If-Modified-Since) says the client
    already holds this version. Only for GET and HEAD."""
    request = bottle.request
    if request.method not in ("GET", "HEAD"):
        return False
    return is_current(
        etag, mtime, request.get_header("If-None-Match"), request.get_header("If-Modified-Since")
    )


def is_current(
    etag: str, mtime: float | None, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """Whether a GET's If-None-Match (or, without it, If-Modified-Since) names this version."""
    if if_none_match is not None:
        return _etag_listed(etag, if_none_match, weak=True)
    if if_modified_since is None or mtime is None:
        return False
    when = _http_date(if_modified_since)
    return when is not None and int(mtime) <= when


def _validators(headers: dict[str, str]) -> dict[str, str]:
    keep = ("ETag", "Last-Modified", "Cache-Control")
    return {name: value for name, value in headers.items() if name in keep}


def _etag_listed(etag: str, header: str, *, weak: bool) -> bool:
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            if not weak:
                continue
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _http_date(text: str) -> int | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return int(parsed.timestamp()) if parsed is not None else None


def _wanted_range(size: int, etag: str, mtime: float) -> tuple[int, int] | str | None:
    """The one byte range asked for as (first, last), "unsatisfiable", or None for the whole
    file (no Range, a Range we do not serve such as several ranges, or a stale If-Range)."""
    request = bottle.request
    header = request.get_header("Range")
    if header is None or request.method not in ("GET", "HEAD"):
        return None
    if_range = request.get_header("If-Range")
    if if_range is not None:
        if if_range.startswith('"'):
            if if_range.strip() != etag:  # a strong comparison, as RFC 9110 wants
                return None
        elif _http_date(if_range) != int(mtime):
            return None
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None or len(header) > 100:
        return None  # malformed or several ranges: the whole file, as RFC 9110 allows
    first, last = found[1], found[2]
    if not first:
        if not last:
            return None
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored, as RFC 9110 says
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


class FileRange:
    """`length` bytes from a file's current position, in chunks; closes the file."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self.handle = handle
        self.left = length

    def __iter__(self) -> Iterator[bytes]:
        while self.left > 0:
            chunk = self.handle.read(min(CHUNK, self.left))
            if not chunk:
                return
            self.left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A Content-Disposition header for a file name from anywhere (quotes, newlines,
    undecodable bytes): an ASCII fallback `filename` and the exact UTF-8 `filename*`
    (RFC 6266, RFC 8187)."""
    clean = "".join(_printable(c) for c in name).strip()
    clean = clean.replace("/", "_").replace("\\", "_") or "download"
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'["%;]', "_", ascii_name).strip() or "download"
    quoted = urllib.parse.quote(clean.encode("utf-8", "replace"), safe="")
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def _printable(char: str) -> str:
    """Control characters and line breaks become spaces, lone surrogates (undecodable
    bytes) U+FFFD."""
    category = unicodedata.category(char)
    if category == "Cs":
        return "\ufffd"
    return " " if category in ("Cc", "Zl", "Zp") else char


class gzip:  # lower case: used like a function, gzip(app)
    """WSGI middleware: answers of a text type (HTML, JSON, CSS, JS, SVG) of at least
    `minimum` bytes are gzipped for clients whose Accept-Encoding allows it; everything else
    (images, videos, ranges, 304s) passes through untouched and unbuffered. The application
    must call start_response before it returns its body, as Bottle does. `app` is the
    wrapped application."""

    def __init__(self, app: WSGIApp, minimum: int = 1024, level: int = 6) -> None:
        self.app, self.minimum, self.level = app, minimum, level

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
            return self.app(environ, start_response)
        held: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is None and _compressible(status, headers):
                held.append((status, headers))
                return _no_write
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        if not held:
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        status, headers = held[-1]
        headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
        headers = _vary(headers)
        if len(data) >= self.minimum:
            data = gzip_mod.compress(data, compresslevel=self.level, mtime=0)
            headers = [(n, _weak(v) if n.lower() == "etag" else v) for n, v in headers]
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(data))))
        start_response(status, headers)
        return [data]


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (q=0 refuses it)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        quality = params.strip()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _compressible(status: str, headers: list[tuple[str, str]]) -> bool:
    code = int(status.split(" ", 1)[0]) if status[:3].isdigit() else 0
    if code in _NOT_COMPRESSED:
        return False
    names = {name.lower(): value for name, value in headers}
    if "content-encoding" in names or "content-range" in names:
        return False
    return names.get("content-type", "").lower().startswith(_COMPRESSIBLE)


def _vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    for i, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            if "accept-encoding" not in value.lower():
                headers[i] = (name, f"{value}, Accept-Encoding")
            return headers
    return [*headers, ("Vary", "Accept-Encoding")]


def _weak(etag: str) -> str:
    """A compressed body is not byte-identical to the uncompressed one."""
    return etag if etag.startswith("W/") else f"W/{etag}"


def _no_write(data: bytes) -> None:
    raise RuntimeError("the gzip middleware does not support the write() callable")
