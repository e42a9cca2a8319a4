"""The `shoebox` command: the one place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import peewee

from shoebox import __version__, logs
from shoebox import config as config_mod
from shoebox.catalog.database import Catalog
from shoebox.catalog.models import ROLES, utcnow
from shoebox.config import Settings
from shoebox.errors import CatalogError, ShoeboxError, UsageError
from shoebox.printable import json_line, printable

log = logging.getLogger("shoebox")


def _say(line: str, *, err: bool = False) -> None:
    """Print one line of output; what came from outside (file names, tags, names) cannot make
    it more than one line or send a terminal escape (see `shoebox.printable`)."""
    print(printable(line), file=sys.stderr if err else sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoebox", description="A self-hosted photo library for a household."
    )
    parser.add_argument("--version", action="version", version=f"shoebox {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help=f"the config file (default: ${config_mod.ENV_VAR})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("migrate", help="bring the catalog's schema up to date")

    index = sub.add_parser("index", help="index the library roots, or folders inside them")
    index.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    index.add_argument("--plain", action="store_true", help="log lines instead of a progress bar")
    index.add_argument(
        "--mark-missing",
        action="store_true",
        help="mark vanished files missing even when most of a root vanished at once (they "
        "were deleted on purpose; otherwise the root is taken for a disk that is not mounted)",
    )

    photos = sub.add_parser("photos", help="print the photos in the catalog")
    photos.add_argument("query", nargs="*", help="words and filters such as type:video year:2023")
    photos.add_argument("--json", action="store_true", help="one JSON object per line")

    sub.add_parser("errors", help="list files that could not be indexed, and why")
    sub.add_parser(
        "verify",
        help="re-hash the originals: report bit rot, files gone and files the catalog does not "
        "know (changes nothing; exit 1 on rot or gone files)",
    )

    backup = sub.add_parser(
        "backup", help="copy the catalog into a backup now (the daemon and viewers may run)"
    )
    backup.add_argument(
        "folder",
        nargs="?",
        type=Path,
        metavar="DIR",
        help="where to write it (default: [backup] folder, where old backups are then pruned)",
    )
    restore = sub.add_parser(
        "restore", help="put a backup into an empty catalog (SQLite or MariaDB, either way round)"
    )
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="replace a catalog that is not empty, as a whole"
    )

    sub.add_parser("daemon", help="watch the library and index what arrives, until stopped")
    sub.add_parser(
        "status",
        help="the daemons, the queue, partial uploads, roots left alone, what is indexed, errors",
    )
    root = sub.add_parser("root", help="the library roots").add_subparsers(
        dest="root_command", required=True, metavar="ACTION"
    )
    root.add_parser("list", help="each root, its filesystem, and whether it is left alone")
    root_accept = root.add_parser(
        "accept",
        help="take the filesystem a root is on now as its own (the library moved to a new disk)",
    )
    root_accept.add_argument("path", type=Path)
    sub.add_parser("viewer", help="serve the web viewer, until stopped")

    user = sub.add_parser("user", help="manage the household's accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_add = user.add_parser("add", help="add an account and make its upload folder")
    user_add.add_argument("name")
    user_add.add_argument(
        "--role",
        choices=ROLES,
        default="member",
        help="in the viewer: admin (everything), member (albums, favourites, shares; the "
        "default) or viewer (looks, changes nothing)",
    )
    user_add.add_argument(
        "--private-uploads",
        action="store_true",
        help="the photos its uploads make are private (seen by it only) until it shares them "
        "with the household; the default is the household",
    )
    how = user_add.add_mutually_exclusive_group(required=True)
    how.add_argument("--key", type=Path, metavar="PUBKEYFILE", help="an OpenSSH public key file")
    how.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_set = user.add_parser("set", help="change whether an account's new uploads are private")
    user_set.add_argument("name")
    uploads = user_set.add_mutually_exclusive_group(required=True)
    uploads.add_argument(
        "--private-uploads", action="store_true", help="new uploads are seen by it only"
    )
    uploads.add_argument(
        "--household-uploads", action="store_true", help="new uploads are seen by the household"
    )
    user.add_parser("list", help="list the accounts")
    user_remove = user.add_parser("remove", help="remove an account (its folder is kept)")
    user_remove.add_argument("name")

    sftp = sub.add_parser("sftp", help="the SFTP endpoint").add_subparsers(
        dest="sftp_command", required=True, metavar="ACTION"
    )
    sftp.add_parser("info", help="print the host key fingerprint and the address for a phone")

    share = sub.add_parser("share", help="share links for visitors").add_subparsers(
        dest="share_command", required=True, metavar="ACTION"
    )
    share_create = share.add_parser("create", help="make a link and print it")
    what = share_create.add_mutually_exclusive_group(required=True)
    what.add_argument("--photo", type=int, metavar="ID", help="one photo")
    what.add_argument("--album", type=int, metavar="ID", help="an album")
    what.add_argument(
        "--search", metavar="QUERY", help="the photos a search finds, as it finds them"
    )
    share_create.add_argument("--title", help="what visitors see above the photos")
    share_create.add_argument("--expires-days", type=int, metavar="N", help="expire after N days")
    share_create.add_argument(
        "--password-stdin", action="store_true", help="ask visitors for a password, read here"
    )
    share_create.add_argument("--max-views", type=int, metavar="N", help="allow N views")
    share_create.add_argument(
        "--show-location", action="store_true", help="show visitors where photos were taken"
    )
    share_create.add_argument(
        "--show-details", action="store_true", help="show visitors the camera and exposure"
    )
    share_create.add_argument(
        "--show-people", action="store_true", help="show visitors the names of the people in them"
    )
    share_create.add_argument(
        "--allow-download",
        action="store_true",
        help="let visitors download the originals (with all their metadata, location included)",
    )
    share_create.add_argument(
        "--base-url",
        metavar="URL",
        help="the viewer's address for visitors (default: from [viewer] listen and base_path)",
    )
    share_list = share.add_parser("list", help="list every share link")
    share_list.add_argument("--base-url", metavar="URL", help="the viewer's address for visitors")
    share_revoke = share.add_parser("revoke", help="withdraw a link at once")
    share_revoke.add_argument("share", metavar="ID|TOKEN")

    token = sub.add_parser("token", help="access tokens for scripts").add_subparsers(
        dest="access_action", required=True, metavar="ACTION"
    )
    token_create = token.add_parser("create", help="make a token and print it (once)")
    token_create.add_argument("name", help="what the token is for, such as backup-script")
    token_create.add_argument("--user", required=True, help="the account the token acts as")
    token_create.add_argument(
        "--scope",
        choices=("read", "write"),
        default="read",
        help="read (looks, changes nothing; the default) or write (does what the account may)",
    )
    token.add_parser("list", help="list the tokens and their last use")
    token_revoke = token.add_parser("revoke", help="withdraw a token at once")
    token_revoke.add_argument("token", metavar="NAME|ID")

    sample = sub.add_parser("sample", help="write the sample library into a folder")
    sample.add_argument("target", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup("debug" if args.verbose else "info")
    try:
        if args.command == "sample":
            from shoebox.sample import make_library

            made = make_library(args.target)
            _say(f"wrote {len(made)} sample files to {args.target}")
            return 0
        settings = config_mod.load(config_mod.locate(args.config))
        if not args.verbose:
            logs.setup(settings.log.level)
        return _run(args, settings)
    except ShoeboxError as exc:
        _say(f"shoebox: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        _say("shoebox: interrupted", err=True)
        return 130
    except BrokenPipeError:  # `shoebox photos | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return _command(args, settings)
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise CatalogError(
            f"lost the catalog ({exc}); once it is back, run the command again: "
            "an index run carries on where it stopped"
        ) from exc


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "daemon":
        from shoebox.service import serve

        serve(settings)
        return 0
    if args.command == "viewer":
        from shoebox_viewer.serve import serve as serve_viewer

        serve_viewer(settings)
        return 0
    if args.command == "restore":  # before anything opens (and so migrates) the catalog
        return _restore(args.file, settings, force=args.force)
    with Catalog(settings.database.url, settings.source.parent) as catalog:
        if args.command == "backup":
            return _backup(catalog, args.folder, settings)
        if args.command == "migrate":
            if catalog.applied:
                _say("applied: " + ", ".join(catalog.applied))
            else:
                _say("the catalog is up to date")
            return 0
        if args.command == "index":
            return _index(args, settings, catalog)
        if args.command == "photos":
            return _photos(" ".join(args.query), as_json=args.json)
        if args.command == "status":
            return _status(settings)
        if args.command == "root":
            return _root(args, settings)
        if args.command == "user":
            return _user(args, settings)
        if args.command == "sftp":
            return _sftp_info(settings)
        if args.command == "share":
            return _share(args, settings)
        if args.command == "token":
            return _token(args)
        if args.command == "verify":
            return _verify(settings)
        return _errors()


# What `backup` and `restore` count for a person, by table.
_COUNTED = (
    ("photo", "photos"), ("file", "files"), ("album", "albums"), ("person", "people"),
    ("face", "faces"), ("account", "accounts"), ("share", "share links"),
)  # fmt: skip


def _counts(rows: Callable[[str], int]) -> str:
    return ", ".join(f"{rows(table)} {label}" for table, label in _COUNTED)


def _backup(catalog: Catalog, folder: Path | None, settings: Settings) -> int:
    from shoebox import backups

    started = time.monotonic()
    made = backups.make(catalog.db, folder or settings.backup.folder)
    print(
        f"wrote {made.path} ({made.size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s): "
        + _counts(made.rows)
    )
    if folder is None:
        backup = settings.backup
        for path in backups.prune(backup.folder, backup.keep_daily, backup.keep_weekly):
            print(f"removed {path} (older than retention keeps)")
    return 0


def _restore(path: Path, settings: Settings, *, force: bool) -> int:
    from shoebox import backups
    from shoebox.catalog import dump

    started = time.monotonic()
    with Catalog(settings.database.url, settings.source.parent, upgrade=False) as catalog:
        done = dump.restore(
            catalog.db,
            path,
            force=force,
            sha256=backups.manifest_sha256(path),
            prepare=catalog.prepare,
        )
    m = done.manifest
    total = sum(t.rows for t in m.tables.values())
    print(
        f"restored {path.name} (taken {m.created_at} on {m.backend}) in "
        f"{time.monotonic() - started:.1f} s: {_counts(m.count)}; {total} rows in all"
    )
    if done.migrated:
        print("then migrated: " + ", ".join(done.migrated))
    return 0


def _index(args: argparse.Namespace, settings: Settings, catalog: Catalog) -> int:
    """The fast phase over the paths (every photo in the catalog, visible), then the slow
    phase (the renditions of every file waiting for them), then the later stages. Stopped at
    any point, the next run carries on without redoing what is done."""
    from shoebox.ingest.backlog import Backlog
    from shoebox.ingest.run import Indexer

    interactive = False if args.plain else None
    indexer = Indexer(settings, catalog, interactive=interactive, mark_missing=args.mark_missing)
    with catalog.exclusive("index") as _:
        summary = indexer.index(args.paths)
        _say(f"visible: {summary.line()}")
        for reason in summary.roots_left_alone:
            _say(f"left alone: {reason}")
        backlog = Backlog(settings, catalog, interactive=interactive, health=indexer.health)
        _say(f"renditions: {backlog.run().line()}")
    _enrich(settings, interactive=interactive)
    return 0


def _enrich(settings: Settings, *, interactive: bool | None) -> None:
    """The later stages (places, faces, labels) for every photo that waits for them."""
    from shoebox.enrich import stages
    from shoebox.enrich.runner import Enricher
    from shoebox.progress import Reporter

    loaded, off = stages.load(settings)
    for reason in off:
        _say(f"off: {reason}")
    enricher = Enricher(loaded)
    try:
        waiting = sum(enricher.waiting().values())
        if not waiting:
            return
        with Reporter("places, faces, labels", interactive=interactive) as progress:
            progress.start(waiting)
            counts = enricher.run_all(tick=progress.advance)
        _say(f"later stages: {counts.line()}")
    finally:
        enricher.close()


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from shoebox.catalog import visibility
    from shoebox.catalog.models import Account
    from shoebox.sftp import accounts

    if args.user_command == "add":
        if args.password_stdin:
            account = accounts.add(settings, args.name, password=_read_password(), role=args.role)
        else:
            try:
                text = args.key.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read the key file {args.key}: {exc}") from None
            keys = accounts.parse_keys(text, args.key)
            account = accounts.add(settings, args.name, keys=keys, role=args.role)
        if args.private_uploads:
            visibility.set_default(account.name, True)
        seen = "private" if args.private_uploads else "the household's"
        _say(f"added {account.name}; uploads go to {account.folder} and are {seen}")
        return 0
    if args.user_command == "set":
        visibility.set_default(args.name, args.private_uploads)
        seen = "private" if args.private_uploads else "the household's"
        _say(f"{args.name}: new uploads are {seen} (photos already there keep who sees them)")
        return 0
    if args.user_command == "remove":
        account = accounts.remove(args.name)
        _say(f"removed {account.name}; the folder {account.folder} and its photos stay")
        return 0
    found = accounts.all_accounts()
    private = {row.name for row in Account.select().where(Account.private_uploads == True)}  # noqa: E712
    for account in found:
        ways = ["password"] if account.password_hash else []
        count = len(account.authorized_keys.splitlines())
        if count:
            ways.append(f"{count} key{'s' if count > 1 else ''}")
        uploads = "private" if account.name in private else "household"
        _say(
            f"{account.name:16}  {account.role:7}  {', '.join(ways):20}  {uploads:9}  "
            f"{account.folder}"
        )
    _say(f"{len(found)} accounts", err=True)
    return 0


def _read_password() -> str:
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise UsageError("no password on standard input (pipe it in, one line)")
    return password


def _share(args: argparse.Namespace, settings: Settings) -> int:
    from shoebox.catalog import shares

    base = getattr(args, "base_url", None) or _viewer_url(settings)
    if args.share_command == "create":
        kind = (
            "photo" if args.photo is not None else "album" if args.album is not None else "search"
        )
        share = shares.create(
            kind,
            photo_id=args.photo,
            album_id=args.album,
            query=args.search,
            title=args.title,
            expires_days=args.expires_days,
            password=_read_password() if args.password_stdin else None,
            max_views=args.max_views,
            allow_download=args.allow_download,
            show_location=args.show_location,
            show_details=args.show_details,
            show_people=args.show_people,
        )
        _say(shares.link(base, share))
        return 0
    if args.share_command == "revoke":
        share = shares.revoke(shares.lookup(args.share))
        _say(f"revoked share {share.id} ({shares.target(share)})")
        return 0
    found = shares.listing(None, everyone=True)
    for share in found:
        expires = f"{share.expires_at:%Y-%m-%d %H:%M}Z" if share.expires_at else "never"
        views = f"{share.views}/{share.max_views}" if share.max_views else f"{share.views}/-"
        _say(
            f"{share.id:>5}  {share.kind:6}  {shares.target(share)[:32]:32}  "
            f"{shares.link(base, share)}  {expires:17}  {views:>9}  {shares.state(share)}"
        )
    _say(f"{len(found)} shares", err=True)
    return 0


def _token(args: argparse.Namespace) -> int:
    from shoebox.catalog import tokens

    if args.access_action == "create":
        row, token = tokens.create(args.name, args.user, args.scope)
        print(token)
        print(
            f"token {row.name!r} ({row.scope}) acts as {args.user}; it is shown only now: "
            "send it as `Authorization: Bearer TOKEN`",
            file=sys.stderr,
        )
        return 0
    if args.access_action == "revoke":
        row = tokens.revoke(args.token)
        print(f"revoked token {row.name!r}")
        return 0
    found = tokens.listing()
    for row, account in found:
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}Z" if row.last_used_at else "never used"
        made = f"{row.created_at:%Y-%m-%d}"
        print(f"{row.id:>4}  {row.name:24}  {account:16}  {row.scope:5}  {made}  {used}")
    print(f"{len(found)} tokens", file=sys.stderr)
    return 0


def _viewer_url(settings: Settings) -> str:
    """The viewer's own address, when no --base-url says how visitors reach it."""
    from shoebox.config import parse_listen

    host, port = parse_listen(settings.viewer.listen)
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}{settings.viewer.base_path}"


def _sftp_info(settings: Settings) -> int:
    from shoebox.sftp import accounts, info

    names = [account.name for account in accounts.all_accounts()]
    for line in info.describe(settings.sftp, names):
        _say(line)
    return 0


def _photos(query: str, *, as_json: bool) -> int:
    from shoebox.catalog import search, visibility

    count = 0
    # Everything (private photos, missing and archived ones too, unless the query says
    # archived: or missing:), with the server's paths: the command line is the operator.
    for photo in search.iterate(search.parse(query, everything=True, viewer=visibility.OPERATOR)):
        count += 1
        if as_json:
            _say(json_line(photo))
            continue
        where = f"{photo['lat']:.4f},{photo['lng']:.4f}" if photo["lat"] is not None else ""
        camera = " ".join(x for x in (photo["camera_make"], photo["camera_model"]) if x)
        first = photo["files"][0]["path"] if photo["files"] else ""
        _say(
            f"{photo['id']:>7}  {photo['taken_at_local'][:19]} {photo['timezone'] or '':6}  "
            f"{photo['type']:8}  {camera[:24]:24}  {where:20}  {first}"
        )
    if not as_json:
        _say(f"{count} photos", err=True)
    return 0


def _status(settings: Settings) -> int:
    from shoebox.catalog.status import report

    r = report(settings.sftp.resume_days)
    running = [d for d in r.daemons if d.state != "stopped"]
    _say(f"daemons:  {len(running)} running" if running else "daemons:  none running")
    for d in r.daemons:
        if d.state == "stopped":
            _say(f"  {d.worker}: stopped at {_when(d.seen_at)}")
            continue
        ago = (utcnow() - d.seen_at).total_seconds()
        line = f"  {d.worker}: {d.state}, last heard {ago:.0f} s ago (since {_when(d.started_at)})"
        if d.silent:
            line += ": silent for too long; it hangs, or was killed without a word"
        _say(line)
        busy, quiet = d.detail.get("busy_seconds", 0), d.detail.get("silent_seconds", 0)
        if quiet > 60:
            _say(f"    the index call in hand has given no sign of life for {quiet} s")
        elif busy > 60:
            _say(f"    in one index call for {busy} s")
        for line in d.detail.get("helpers", []):
            _say(f"    {line}")
        _verified(d.detail.get("verify") or {})
    _say(f"queue:    {r.queued} paths waiting ({r.due} due now, {r.claimed} being indexed)")
    _say(f"files:    {r.files} indexed, {r.waiting} waiting for renditions")
    _say(f"photos:   {r.photos}")
    _say(f"last:     {_when(r.last_indexed) if r.last_indexed else 'never'}")
    overdue = sum(p.overdue for p in r.partial_uploads)
    _say(
        f"uploads:  {len(r.partial_uploads)} partial, waiting for their clients to resume them"
        + (f" ({overdue} for more than {settings.sftp.resume_days} days)" if overdue else "")
    )
    for p in r.partial_uploads[:10]:
        late = ": complete it, or delete it" if p.overdue else ""
        _say(f"  {p.path}: by {p.account} since {_when(p.started_at)}{late}")
    if r.roots_left_alone:
        _say(f"roots:    {len(r.roots_left_alone)} left alone (none of their photos is touched)")
        for _, why in r.roots_left_alone:
            _say(f"  {why}")
    _backup_status(settings, r.daemons)
    _say(f"errors:   {r.errors} files (shoebox errors lists them)")
    for path, stage, message in r.recent_errors:
        _say(f"  {path}: {stage}: {message}")
    return 0


def _verify(settings: Settings) -> int:
    from shoebox.verify import verify

    report = verify(settings.library.originals)
    for label, paths in (
        ("rotten (content changed, size and time did not)", report.rotten),
        ("gone", report.gone),
        ("unknown to the catalog", report.unknown),
        ("changed since indexed (the next index picks them up)", report.changed),
        ("unreadable", report.unreadable),
        ("root skipped", report.skipped_roots),
    ):
        for path in paths:
            _say(f"{label}: {path}")
    _say(f"verify: {report.line()}")
    return 1 if report.bad else 0


def _verified(last: dict[str, Any]) -> None:
    """A daemon's last verify pass (`shoebox.verify.summary`), under its line."""
    if not last:
        return
    _say(f"    verify, pass ended {last['finished_at'][:16].replace('T', ' ')} UTC: {last['line']}")
    for kind in ("rotten", "gone", "unknown", "unreadable", "skipped_roots"):
        for path in last.get(kind, []):
            _say(f"      {kind.replace('_', ' ')}: {path}")


def _backup_status(settings: Settings, daemons: list[Any]) -> None:
    """The newest good backup, and a warning when it is old or a daemon's last one failed."""
    from shoebox import backups
    from shoebox.errors import BackupError

    folder = settings.backup.folder
    try:
        last = backups.newest(folder)
    except BackupError as exc:
        print(f"backups:  {exc}")
        return
    if last is None:
        print(
            f"backups:  none yet in {folder}; the daemon makes one every day at "
            f"{settings.backup.hour:02d}:00 (`shoebox backup` makes one now)"
        )
    else:
        print(
            f"backups:  last good {_when(last.taken_at)} in {folder} "
            f"({last.size / 1e6:.1f} MB, {last.rows('photo')} photos)"
        )
    if last is not None and utcnow() - last.taken_at > backups.OVERDUE:
        print(
            "  warning: no backup for more than two days; the daemon makes one every day at "
            f"{settings.backup.hour:02d}:00 (is it running? see its log)"
        )
    for d in daemons:
        failed = d.detail.get("backup", {})
        if d.state != "stopped" and "error" in failed:
            print(
                f"  {d.worker}: its daily backup failed at {failed['failed_at']}: {failed['error']}"
            )


def _when(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") + " UTC"


def _root(args: argparse.Namespace, settings: Settings) -> int:
    from shoebox import roots
    from shoebox.ingest.run import root_row

    if args.root_command == "list":
        for path in settings.library.originals:
            row = root_row(path)
            known = (
                "unknown"
                if row.device is None
                else roots.Identity(row.device, row.fsid or "0").describe()
            )
            _say(f"{path}: {known}; {row.left_alone or 'indexed as usual'}")
        return 0
    target = Path(os.path.abspath(args.path))
    if target not in settings.library.originals:
        raise UsageError(
            f"{target} is not a library root ([library] originals in {settings.source})"
        )
    try:
        ident = roots.identify(target)
    except OSError as exc:
        raise UsageError(f"{target} cannot be read ({exc.strerror})") from None
    row = root_row(target)
    roots.record(row, ident)
    roots.note(row, None)
    _say(f"{target}: now on {ident.describe()}; the next index run or daemon start reconciles it")
    return 0


def _errors() -> int:
    from shoebox.catalog.models import IngestError, Root

    count = 0
    query = IngestError.select(IngestError, Root).join(Root).order_by(IngestError.id)
    for row in query:
        count += 1
        _say(f"{row.root.path}/{row.rel_path}: {row.stage}: {row.message}")
    _say(f"{count} files with errors", err=True)
    return 0
