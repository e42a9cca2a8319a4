"""Text from outside (file names, tags, account names, exception messages) made safe to show in
a log line, on a terminal or in a page. One rule for every place that shows such text:

- `printable(text)`: every character that could end a line, move the cursor or reorder what
  a reader sees is written as an escape (`\\n`, `\\x1b`, `\\u2028`): C0 controls, DEL, C1
  controls (U+0085 among them), the line and paragraph separators U+2028 and U+2029, the
  bidirectional overrides and isolates, and lone surrogates (a file name that is not UTF-8).
  A log line or a CLI line stays one line, whatever a file name holds.
- `json_line(value)`: JSON on one line, with the same characters escaped as `\\uXXXX`
  (`json.dumps` leaves DEL, C1 and U+2028 raw when it keeps non-ASCII text).
- `shorten(text, limit)`: at most `limit` characters, with "…" where it was cut.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """`text` with every control character, line separator and bidi override escaped."""
    return _UNSAFE.sub(_escape, text)


def json_line(value: Any) -> str:
    """`value` as JSON on one line, non-ASCII text kept but nothing a terminal acts on."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, "…" marking the cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
