"""JSON in and out of the viewer's API routes: answers (never cached) and request bodies
(a JSON object of bounded size, with only the fields a route knows)."""

from __future__ import annotations

import json
from typing import Any

import bottle

from shoebox.errors import UsageError

MAX_BODY = 64 * 1024


def answer(value: Any) -> str:
    """`value` as the JSON answer of the current request."""
    bottle.response.content_type = "application/json"
    bottle.response.set_header("Cache-Control", "no-store")
    return json.dumps(value, ensure_ascii=False)


def body(allowed: set[str] | None = None, *, limit: int = MAX_BODY) -> dict[str, Any]:
    """The request's JSON object (an empty body is `{}`): 413 when it is over `limit` bytes,
    400 for anything that is not an object, or that has a field outside `allowed`."""
    request = bottle.request
    too_large = bottle.HTTPError(413, f"the body is too large (at most {limit} bytes)")
    if request.content_length > limit:
        raise too_large
    raw = request.body.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    try:
        found = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UsageError("the body is not valid JSON") from None
    if not isinstance(found, dict):
        raise UsageError("the body must be a JSON object")
    unknown = sorted(set(found) - allowed) if allowed is not None else []
    if unknown:
        raise UsageError(f"unknown field {unknown[0]!r}; send {', '.join(sorted(allowed or ()))}")
    return found
