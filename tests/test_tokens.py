"""Access tokens for scripts, on SQLite and MariaDB: `shoebox token create|list|revoke`, and a
real viewer (waitress) answering `Authorization: Bearer` from a plain HTTP client: a read
token reads as its account and changes nothing, a write token changes without a CSRF token,
a revoked or made-up token is 401, and only the token's hash is kept."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Library, serving
from shoebox import cli
from shoebox.catalog import visibility
from shoebox.catalog.models import Account, ApiToken, Photo
from shoebox.passwords import hash_password
from shoebox.sample import make_library


def _cli(library: Library, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(""))
        code = cli.main(["--config", str(library.settings.source), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _call(
    url: str, token: str | None, method: str = "GET", body: Any = None, **headers: str
) -> tuple[int, Any]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - 127.0.0.1
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def served(library: Library) -> Iterator[tuple[Library, str]]:
    make_library(library.root)
    library.index()
    for name in ("ana", "ben"):
        Account.create(name=name, password_hash=hash_password("x"), folder=f"/x/{name}")
    with serving(library.settings) as url:
        yield library, url


def test_tokens_from_the_command_line_to_the_api(
    served: tuple[Library, str], capsys: pytest.CaptureFixture[str]
) -> None:
    library, url = served
    code, out, err = _cli(library, capsys, "token", "create", "backup", "--user", "ana")
    reader = out.strip()
    assert code == 0 and re.fullmatch(r"sbt_[A-Za-z0-9_-]{43}", reader)  # 256 bits
    assert "shown only now" in err
    code, out, _ = _cli(
        library, capsys, "token", "create", "tagger", "--user", "ana", "--scope", "write"
    )
    writer = out.strip()
    row = ApiToken.get(ApiToken.name == "backup")
    assert reader not in row.token_hash and len(row.token_hash) == 64 and row.last_used_at is None
    assert _cli(library, capsys, "token", "create", "backup", "--user", "ana")[0] == 2  # taken
    assert _cli(library, capsys, "token", "create", "x", "--user", "nobody")[0] == 2

    status, found = _call(f"{url}api/photos?limit=500", reader)
    assert status == 200 and found["total"] == len(library.photos())
    assert all(not f["path"].startswith("/") for item in found["items"] for f in item["files"])
    photo_id = found["items"][0]["id"]
    status, _ = _call(f"{url}api/photos/{photo_id}", reader, "POST", {"favorite": True})
    assert status == 403  # a read token changes nothing
    status, _ = _call(f"{url}api/albums", reader, "POST", {"title": "No"})
    assert status == 403
    status, changed = _call(f"{url}api/photos/{photo_id}", writer, "POST", {"favorite": True})
    assert status == 200 and changed["favorite"] is True  # no CSRF token needed
    assert Photo.get_by_id(photo_id).favorite

    code, out, err = _cli(library, capsys, "token", "list")
    lines = out.splitlines()
    assert code == 0 and err.strip() == "2 tokens"
    assert "backup" in lines[0] and "ana" in lines[0] and "read" in lines[0]
    assert "never used" not in lines[0] and "write" in lines[1]

    assert _cli(library, capsys, "token", "revoke", "backup")[0] == 0
    status, answer = _call(f"{url}api/photos", reader)
    assert status == 401 and "revoked" in answer["error"]
    assert _cli(library, capsys, "token", "revoke", "backup")[0] == 2
    # made-up tokens count against the address, as wrong passwords do: a flood gets 429
    made_up = ["sbt_" + "A" * 43, "nonsense", "", *(f"sbt_guess{i}" for i in range(20))]
    statuses = [_call(f"{url}api/photos", token)[0] for token in made_up]
    assert statuses[0] == 401 and set(statuses) == {401, 429}, statuses
    assert _call(f"{url}api/photos", writer)[0] == 200  # a good token is still let in


def test_a_token_sees_what_its_account_sees(served: tuple[Library, str]) -> None:
    from shoebox.catalog import tokens

    library, url = served
    ana = Account.get(Account.name == "ana")
    photo = Photo.get_by_id(library.photos()[0]["id"])
    Photo.update(owner=ana.id, visibility=visibility.PRIVATE).where(Photo.id == photo.id).execute()
    _, for_ana = tokens.create("ana-script", "ana", "read")
    _, for_ben = tokens.create("ben-script", "ben", "read")
    assert _call(f"{url}api/photos/{photo.id}", for_ana)[0] == 200
    assert _call(f"{url}api/photos/{photo.id}", for_ben)[0] == 404
    status, found = _call(f"{url}api/photos?limit=500", for_ben)
    assert photo.id not in {item["id"] for item in found["items"]}
    # a proxy's Basic authentication is not a token: the request is nobody's, as before
    status, _ = _call(f"{url}api/photos", None, Authorization="Basic YWxpY2U6c2VjcmV0")
    assert status == 401
