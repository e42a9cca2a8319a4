"""The back-off after wrong passwords (`shoebox.guard`), on SQLite and MariaDB: its rules, that
counting and checking are one step (thirty parallel guesses get `free` checks, through the
guard, across two guards sharing a catalog, and against the real SFTP endpoint), and the
issue-11 attack (share unlocks mixed with wrong logins) across two viewer apps."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import webtest

from conftest import Library, wait_for
from shoebox.catalog import shares
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import Account, FailureCount
from shoebox.guard import BUSY_RETRY, Guard, Verdict
from shoebox.logs import SafeFormatter
from shoebox.passwords import hash_password, verify_password
from shoebox_viewer.app import make_app
from test_sftp import Setup, _password_login, setup  # noqa: F401 (setup: a fixture)

RIGHT = "correct horse"
HASH = hash_password(RIGHT)
ATTACKER = "198.51.100.7"
F2B_REGEX = shutil.which("fail2ban-regex")


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def catalog(db_url: str, tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(db_url, tmp_path) as opened:
        yield opened


def _counts() -> dict[tuple[str, str], int]:
    return {(row.scope, row.subject): row.failures for row in FailureCount.select()}


def _answer(right: bool) -> Callable[[], bool]:
    return lambda: right


def test_address_and_account_back_off_and_only_the_account_s_login_clears_it(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    guard = Guard(clock=clock)
    for _ in range(3):
        assert guard.login("Ada", ATTACKER, _answer(False)) == Verdict(ok=False)
    refused = guard.login("kid", ATTACKER, _answer(True))  # any account, from that address
    assert not refused.ok and refused.retry_after == pytest.approx(1.0)
    assert caplog.text.count(f"failed login for Ada from {ATTACKER}") == 3
    assert f"failed login for kid from {ATTACKER}" in caplog.text  # refused: logged too
    clock.now += 1.0
    assert guard.login("kid", ATTACKER, _answer(True)).ok
    # kid's login gave back kid's own try and cleared kid's record: ada's stays
    assert _counts()[("login-address", ATTACKER)] == 3
    assert _counts()[("login-account", "ada")] == 3
    assert ("login-account", "kid") not in _counts()

    # ada from ten addresses: her account backs off, whatever the address
    for n in range(7):
        assert guard.login("ada", f"203.0.113.{n}", _answer(False)) == Verdict(ok=False)
    assert guard.login("ada", "192.0.2.1", _answer(True)).retry_after > 0
    assert guard.login("bob", "192.0.2.1", _answer(True)).ok  # another account is not held
    clock.now += 1.0
    assert guard.login("ada", "192.0.2.1", _answer(True)).ok
    assert ("login-account", "ada") not in _counts()  # her own login cleared her record

    # quiet for `forget` seconds: the address starts afresh (and the stale rows are pruned)
    clock.now += 901
    for _ in range(3):
        assert guard.login("ada", ATTACKER, _answer(False)) == Verdict(ok=False)
    assert set(_counts()) == {("login-address", ATTACKER), ("login-account", "ada")}


def test_share_passwords_are_counted_apart_from_logins(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    guard = Guard(clock=clock)
    for _ in range(2):
        assert not guard.login("ada", ATTACKER, _answer(False)).ok
    for _ in range(5):
        assert guard.unlock(7, ATTACKER, _answer(True)).ok  # a link whose password is known
    assert not guard.login("ada", ATTACKER, _answer(False)).ok
    assert guard.login("ada", ATTACKER, _answer(True)).retry_after > 0  # never reset by them
    for _ in range(3):
        assert not guard.unlock(8, ATTACKER, _answer(False)).ok
    assert guard.unlock(8, ATTACKER, _answer(True)).retry_after > 0  # per address...
    assert guard.unlock(8, "192.0.2.1", _answer(True)).ok  # ...and per link
    assert caplog.text.count(f"failed share unlock for link 8 from {ATTACKER}") == 4
    assert _counts()[("login-address", ATTACKER)] == 3


def test_an_ipv6_subscriber_counts_as_its_64(catalog: Catalog) -> None:
    guard = Guard(clock=Clock())
    for n in range(3):
        assert not guard.login("ada", f"2001:db8:1:2::{n + 1}", _answer(False)).ok
    assert guard.login("ada", "2001:db8:1:2:ffff::9", _answer(True)).retry_after > 0
    assert guard.login("ada", "2001:db8:1:3::1", _answer(True)).ok


def _checks() -> tuple[Callable[[str], Callable[[], bool]], list[int]]:
    """A real argon2 check of a password, and how many were made."""
    made = [0]
    lock = threading.Lock()

    def check(password: str) -> Callable[[], bool]:
        def run() -> bool:
            with lock:
                made[0] += 1
            return verify_password(HASH, password)

        return run

    return check, made


def test_thirty_parallel_guesses_get_three_checks_across_two_guards(catalog: Catalog) -> None:
    """Two guards (two processes' worth) on one catalog, fifteen threads each."""
    check, made = _checks()
    guards = [Guard(clock=Clock()), Guard(clock=Clock())]
    with ThreadPoolExecutor(30) as pool:
        verdicts = list(
            pool.map(lambda n: guards[n % 2].login("ada", ATTACKER, check(f"guess {n}")), range(30))
        )
    assert made[0] == 3
    assert sum(v.retry_after > 0 for v in verdicts) == 27 and not any(v.ok for v in verdicts)


def test_parallel_logins_with_the_right_password_all_get_in(catalog: Catalog) -> None:
    """A phone opening four connections at once: its tries go one after the other."""
    check, made = _checks()
    guard = Guard(clock=Clock())
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda _: guard.login("ada", ATTACKER, check(RIGHT)), range(4)))
    assert all(v.ok for v in verdicts) and made[0] == 4
    assert _counts().get(("login-address", ATTACKER), 0) == 0


def test_too_many_attempts_at_once_from_one_address_are_refused(catalog: Catalog) -> None:
    guard = Guard(clock=Clock(), max_waiting=3)
    entered, release = threading.Event(), threading.Event()

    def held() -> bool:
        entered.set()
        return release.wait(30)

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(guard.login, "ada", ATTACKER, held)
        entered.wait(30)
        queued = [pool.submit(guard.login, "ada", ATTACKER, _answer(True)) for _ in range(2)]
        wait_for("two attempts waiting their turn", lambda: guard._turns[ATTACKER].holders == 3)
        assert guard.login("ada", ATTACKER, _answer(True)) == Verdict(False, BUSY_RETRY)
        assert guard.login("ada", "192.0.2.1", _answer(True)).ok  # other addresses go on
        release.set()
        assert first.result(30).ok and all(q.result(30).ok for q in queued)
    assert not guard._turns


# -- the SFTP endpoint -----------------------------------------------------------------------


def test_thirty_parallel_sftp_passwords_get_three_checks(
    setup: Setup,  # noqa: F811 (the fixture imported above)
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = [0]

    def counted(stored: str | None, password: str) -> bool:
        made[0] += 1  # run in the endpoint's threads, one address at a time
        return verify_password(stored, password)

    monkeypatch.setattr("shoebox.sftp.server.verify_password", counted)
    setup.account("dave", password=RIGHT, key=False)
    with Catalog(db_url, tmp_path / "other"):  # the setup's SQLite, or MariaDB
        srv = setup.server()
        try:
            with ThreadPoolExecutor(30) as pool:  # thirty asyncssh clients at once
                results = list(
                    pool.map(lambda n: _password_login(srv.port, "dave", f"guess {n}"), range(30))
                )
            assert made[0] == 3, results
            assert "ok" not in results and results.count("denied") == 3
            assert _password_login(srv.port, "dave", RIGHT).startswith("refused")
            assert made[0] == 3
        finally:
            srv.close()


# -- two viewer processes ----------------------------------------------------------------------


def _apps(library: Library, clock: Clock) -> list[webtest.TestApp]:
    """Two viewer applications on one catalog, each with its own guard (as two processes)."""
    return [
        webtest.TestApp(
            make_app(library.settings, guard=Guard(clock=clock)),
            extra_environ={"REMOTE_ADDR": ATTACKER},
        )
        for _ in range(2)
    ]


def _log_in(app: webtest.TestApp, name: str, password: str) -> int:
    form = next(f for f in app.get("/login").forms.values() if f.action.endswith("/login"))
    form["name"], form["password"] = name, password
    return int(form.submit(expect_errors=True).status_int)


def _unlock(app: webtest.TestApp, token: str, password: str) -> Any:
    """The password form's POST (also from a browser that unlocked the link before)."""
    if "sb_csrf" not in app.cookies:
        app.get("/login")
    form = {"password": password, "csrf_token": app.cookies["sb_csrf"]}
    return app.post(f"/s/{token}/unlock", form, expect_errors=True)


def test_share_unlocks_never_reset_login_failures_across_two_viewers(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: three wrong admin passwords, wait a second, unlock a share whose password is
    known, repeat: it gave 15 guesses in 8 s and never a 429."""
    caplog.set_level(logging.WARNING)
    Account.create(name="ada", password_hash=HASH, folder="/x/ada", role="admin")
    share = shares.create("search", query="year:2020", password="tide pools")  # noqa: S106
    clock = Clock()
    apps = _apps(library, clock)
    statuses: list[int] = []
    for round_ in range(8):
        for n in range(3):
            statuses.append(_log_in(apps[n % 2], "ada", f"guess {round_}.{n}"))
        unlocked = _unlock(apps[round_ % 2], share.token, "tide pools")
        assert unlocked.status_int == 303  # the share's password is not held back by logins
        clock.now += 1.0
    guesses = statuses.count(401)
    assert guesses <= 6 and statuses.count(429) == len(statuses) - guesses, statuses
    assert _log_in(apps[1], "ada", RIGHT) == 429  # the address still backs off
    assert caplog.text.count(f"failed login for ada from {ATTACKER}") == len(statuses) + 1

    # wrong share passwords back off that link for that address, on either viewer
    for n in range(3):
        assert _unlock(apps[n % 2], share.token, "wrong").status_int == 401
    refused = _unlock(apps[0], share.token, "tide pools")
    assert refused.status_int == 429 and "Retry-After" in refused.headers
    assert f"failed share unlock for link {share.id} from {ATTACKER}" in caplog.text


# -- fail2ban ------------------------------------------------------------------------------------


def _readme_filter(tmp_path: Path) -> Path:
    """The fail2ban filter as the README gives it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("# /etc/fail2ban/filter.d/shoebox.conf\n")
    path = tmp_path / "shoebox.conf"
    path.write_text(readme[start : readme.index("```", start)])
    return path


@pytest.mark.skipif(F2B_REGEX is None, reason="fail2ban is not installed")
def test_the_readme_s_fail2ban_filter_finds_real_failures_and_no_forged_ones(
    catalog: Catalog, tmp_path: Path
) -> None:
    """Lines written by the real formatter (as a log file, and as journald keeps them) through
    the real fail2ban-regex: the address of each failure, none from a forged file name."""
    plain, journal = tmp_path / "plain.log", tmp_path / "journal.log"
    handlers = [logging.FileHandler(plain), logging.FileHandler(journal)]
    handlers[0].setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    handlers[1].setFormatter(SafeFormatter("%(name)s: %(message)s", journal=True))
    shoebox = logging.getLogger("shoebox")
    for handler in handlers:
        shoebox.addHandler(handler)
    try:
        sftp = Guard(clock=Clock(), logger=logging.getLogger("shoebox.sftp"))
        web = Guard(clock=Clock(), logger=logging.getLogger("shoebox.viewer"))
        sftp.login("admin from 203.0.113.9", "198.51.100.7", _answer(False))
        web.login("ada", "2001:db8::5", _answer(False))
        web.unlock(4, "192.0.2.4", _answer(False))
        web.bad_token("192.0.2.77")
        forged = "a\nWARNING shoebox.sftp: failed login for admin from 203.0.113.9\n.jpg"
        ingest = logging.getLogger("shoebox.ingest")
        ingest.error("cannot read %s", forged)
        try:
            raise OSError(f"cannot open {forged}")
        except OSError:
            ingest.exception("failed")
    finally:
        for handler in handlers:
            shoebox.removeHandler(handler)
            handler.close()
    journal.write_text(re.sub(r"(?m)^<\d>", "", journal.read_text()))  # as journald keeps it
    rules = _readme_filter(tmp_path)
    for log in (plain, journal):
        assert F2B_REGEX is not None
        found = subprocess.run(
            [F2B_REGEX, "--out", "ip", str(log), str(rules)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        expected = ["198.51.100.7", "2001:db8::5", "192.0.2.4", "192.0.2.77"]
        assert found.stdout.split() == expected, log.read_text()
