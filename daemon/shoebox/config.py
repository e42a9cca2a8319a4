"""Settings: `config.toml` read once into frozen, typed dataclasses and passed down.

Every key is declared here once, with its type, default and help text; `config.example.toml`
documents each of them (a test proves the two agree). An unknown key or a bad value stops with
a message naming the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoebox.errors import ConfigError

ENV_VAR = "SHOEBOX_CONFIG"


def _key(
    help: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    return {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}


@dataclass(frozen=True)
class LibrarySettings:
    originals: tuple[Path, ...] = field(
        default=(),
        metadata=_key(
            "Library roots: folders that hold the originals. Indexing only reads them; "
            "nothing under them is written but SFTP uploads and, if write_sidecars is on, "
            "sidecars and album files."
        ),
    )
    cache: Path = field(
        default=Path("cache"),
        metadata=_key("Folder for renditions (grid tiles, previews). Must be outside the roots."),
    )
    write_sidecars: bool = field(
        default=False,
        metadata=_key(
            "Let the daemon write what the family makes beside the photos, so that a catalog "
            "can be rebuilt from the library alone: an XMP sidecar (IMG_1.jpg.xmp) for each "
            "photo with a favourite or archive flag, named faces or a hand edit, and one JSON file per "
            "album in .shoebox/albums/ in each root. Originals are never changed, and another "
            "tool's sidecar keeps its content. Needs write access to the roots."
        ),
    )


@dataclass(frozen=True)
class BackupSettings:
    folder: Path = field(
        default=Path("backups"),
        metadata=_key(
            "Folder for the daily backups of the catalog (and `shoebox backup` without a "
            "folder). Outside the library roots and the cache; best on another disk."
        ),
    )
    hour: int = field(
        default=3,
        metadata=_key(
            "Hour of the day (0-23, local time) at which the daemon makes its daily backup.",
            minimum=0,
            maximum=23,
        ),
    )
    keep_daily: int = field(
        default=7,
        metadata=_key("Keep the newest backup of each of this many last days.", minimum=1),
    )
    keep_weekly: int = field(
        default=4,
        metadata=_key("Also keep the newest backup of each of this many last weeks.", minimum=0),
    )


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = field(
        default="sqlite:///catalog.db",
        metadata=_key(
            "The catalog: sqlite:///relative/or/absolute.db (the embedded default) or "
            "mysql://user:password@host:3306/dbname (MariaDB 10.6 or newer)."
        ),
    )


@dataclass(frozen=True)
class IngestSettings:
    workers: int = field(
        default=0,
        metadata=_key("Processes for the CPU-heavy stages; 0 means one per core.", minimum=0),
    )
    max_pixels: int = field(
        default=250_000_000,
        metadata=_key(
            "Images larger than this many pixels are refused (decompression-bomb guard).",
            minimum=1,
        ),
    )
    exiftool: str = field(
        default="exiftool", metadata=_key("The exiftool program (a name on PATH or a path).")
    )
    ffmpeg: str = field(
        default="ffmpeg", metadata=_key("The ffmpeg program (a name on PATH or a path).")
    )
    video_timeout: int = field(
        default=120,
        metadata=_key(
            "Seconds ffmpeg may take to grab one video's poster frame; past them it is killed "
            "and the file tried once more, then recorded as failed. Less than file_timeout.",
            minimum=1,
        ),
    )
    file_timeout: int = field(
        default=300,
        metadata=_key(
            "Seconds a worker process may spend on one file (hashing, decoding, rendering), "
            "plus one second per 10 MiB of file; past them it is killed and replaced, the file "
            "tried once more, then recorded as failed (without renditions).",
            minimum=1,
        ),
    )
    exiftool_timeout: int = field(
        default=60,
        metadata=_key(
            "Seconds exiftool may take to read one file's tags; past them it is killed and "
            "replaced, the file tried once more, then recorded as failed.",
            minimum=1,
        ),
    )
    memory_limit_mb: int = field(
        default=2048,
        metadata=_key(
            "Memory, in MiB, that each worker process (with the ffmpeg it runs) and exiftool "
            "may use; a file that needs more is recorded as failed. 0 means no limit.",
            minimum=0,
        ),
    )


@dataclass(frozen=True)
class RenditionSettings:
    tile_size: int = field(
        default=256,
        metadata=_key(
            "Short side in pixels of the grid tile (the picture's shape, 1:2 to 3:1).", minimum=32
        ),
    )
    preview_size: int = field(
        default=1600,
        metadata=_key("Longest edge in pixels of the fit-inside preview.", minimum=64),
    )
    quality: int = field(
        default=85, metadata=_key("JPEG quality of the renditions (1-95).", minimum=1)
    )
    large_size: int = field(
        default=2560,
        metadata=_key(
            "Longest edge in pixels of the full-screen rendition, which the viewer makes when it "
            "is first asked for and keeps in the cache. Members are shown an original in a "
            "browser's format (JPEG, PNG, WebP, GIF) no larger than this as it is.",
            minimum=64,
        ),
    )


@dataclass(frozen=True)
class WatchSettings:
    quiet_seconds: int = field(
        default=2,
        metadata=_key(
            "A file written by something other than SFTP is indexed once it has been closed "
            "and left alone for this many seconds.",
            minimum=0,
        ),
    )


@dataclass(frozen=True)
class DaemonSettings:
    stale_claim_seconds: int = field(
        default=600,
        metadata=_key(
            "Several daemons may share one MariaDB queue. A daemon that has held a job this "
            "many seconds without finishing it is taken for dead, and another daemon takes the "
            "job.",
            minimum=10,
        ),
    )
    verify_days: float = field(
        default=30,
        metadata=_key(
            "The daemon re-hashes every original once in this many days, slowly and at idle "
            "priority, and reports bit rot, gone files and unknown files (`shoebox status`, "
            "the viewer's admin page, the log). 0 turns it off; `shoebox verify` checks at once.",
            minimum=0,
        ),
    )


@dataclass(frozen=True)
class SftpSettings:
    listen: str = field(
        default="0.0.0.0:2222",
        metadata=_key(
            "Address and port the SFTP endpoint listens on, as HOST:PORT ([::]:2222 for IPv6)."
        ),
    )
    host_key: Path = field(
        default=Path("ssh_host_ed25519_key"),
        metadata=_key(
            "The server's ed25519 host key; generated on first start (mode 0600) and kept."
        ),
    )
    upload_root: Path | None = field(
        default=None,
        metadata=_key(
            "Folder that holds one upload folder per account (<upload_root>/<name>); it must "
            "be a library root or lie inside one. Default: the first library root."
        ),
    )
    max_connections_per_account: int = field(
        default=4,
        metadata=_key("Connections one account may have open at the same time.", minimum=1),
    )
    max_file_size_mb: int = field(
        default=20480,
        metadata=_key("Largest file, in MiB, an upload may grow to.", minimum=1),
    )
    min_free_mb: int = field(
        default=1024,
        metadata=_key(
            'Uploads are refused ("disk full") while less than this many MiB are free.',
            minimum=0,
        ),
    )
    resume_days: int = field(
        default=7,
        metadata=_key(
            "A partial upload (its connection dropped) waits this many days for its client to "
            "resume it; after that it is reported in the log and by `shoebox status`. It is "
            "never deleted.",
            minimum=1,
        ),
    )
    keepalive_seconds: int = field(
        default=30,
        metadata=_key(
            "Seconds between keepalives; a client that misses three is dropped and its open "
            "files released. 0 turns keepalives off.",
            minimum=0,
        ),
    )


@dataclass(frozen=True)
class ViewerSettings:
    listen: str = field(
        default="0.0.0.0:8080",
        metadata=_key("Address and port the web viewer listens on, as HOST:PORT."),
    )
    auth: str = field(
        default="password",
        metadata=_key(
            'Who may browse: "password" (household accounts log in; visitors only see share '
            'links) or "public" (anyone who reaches the viewer may browse, but not change).',
            choices=("password", "public"),
        ),
    )
    trusted_networks: tuple[str, ...] = field(
        default=(),
        metadata=_key(
            "Networks whose clients browse without a login, as a member would, such as "
            '["192.168.0.0/16"]; everyone else is asked for a password.'
        ),
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata=_key(
            "Addresses or networks of reverse proxies (nginx) whose X-Forwarded-For, -Proto "
            'and -Host headers are believed, such as ["127.0.0.1"]. Nobody else\'s are.'
        ),
    )
    base_path: str = field(
        default="/",
        metadata=_key('The path the viewer is served under behind a proxy, such as "/photos/".'),
    )
    session_days: int = field(
        default=30, metadata=_key("Days a login lasts on one browser.", minimum=1)
    )
    threads: int = field(
        default=8, metadata=_key("Requests the viewer serves at the same time.", minimum=1)
    )
    admins_see_private: bool = field(
        default=False,
        metadata=_key(
            "Whether admins see the photos other members made private (in the viewer; never "
            "through share links). Off: a private photo is seen by its owner only."
        ),
    )
    signed_tiles_secret_file: str = field(
        default="",
        metadata=_key(
            "A file holding the secret (at least 32 characters) that nginx checks signed tile "
            "URLs with (systemd/nginx-shoebox.conf). Set: the household's pages link tiles to "
            "/r/..., signed for a few hours, and nginx sends them from the cache with no "
            "Python; share links still go through the viewer. Empty: the viewer sends them."
        ),
    )


@dataclass(frozen=True)
class PlacesSettings:
    enabled: bool = field(
        default=True,
        metadata=_key("Name the place of every geotagged photo (offline GeoNames data)."),
    )
    tile_url: str = field(
        default="",
        metadata=_key(
            "Online map tiles for street detail, opt-in, such as "
            '"https://tile.openstreetmap.org/{z}/{x}/{y}.png" (mind the provider\'s usage '
            "policy). Empty: the offline world map only; nothing is fetched from the internet."
        ),
    )


@dataclass(frozen=True)
class FacesSettings:
    enabled: bool = field(
        default=True,
        metadata=_key(
            "Find faces and group them into people (needs the `faces` extra: "
            "pip install 'shoebox[faces]'); without it the stage is off."
        ),
    )
    match_distance: float = field(
        default=0.5,
        metadata=_key(
            "How alike two faces must be to be one person: the largest distance between "
            "their embeddings (smaller is stricter).",
            minimum=0,
        ),
    )
    min_cluster: int = field(
        default=3,
        metadata=_key(
            "Unknown faces that must be alike before they become a new (unnamed) person; "
            "fewer alike faces are offered as a suggestion on the People page.",
            minimum=2,
        ),
    )
    smallest_face: int = field(
        default=40,
        metadata=_key(
            "The smallest face to look for, in pixels of the original photo. Smaller costs "
            "more time: the detector looks at large photos in more pieces.",
            minimum=12,
        ),
    )


@dataclass(frozen=True)
class LabelsSettings:
    enabled: bool = field(
        default=True,
        metadata=_key(
            "Label photos with words such as beach, dog or snow (needs the `labels` extra: "
            "pip install 'shoebox[labels]'); without it the stage is off."
        ),
    )


@dataclass(frozen=True)
class LogSettings:
    level: str = field(
        default="info",
        metadata=_key(
            "How much to log: debug, info, warning or error.",
            choices=("debug", "info", "warning", "error"),
        ),
    )


@dataclass(frozen=True)
class Settings:
    """Everything shoebox can be told, grouped by `[section]` of config.toml."""

    source: Path
    library: LibrarySettings = LibrarySettings()
    database: DatabaseSettings = DatabaseSettings()
    backup: BackupSettings = BackupSettings()
    ingest: IngestSettings = IngestSettings()
    renditions: RenditionSettings = RenditionSettings()
    watch: WatchSettings = WatchSettings()
    daemon: DaemonSettings = DaemonSettings()
    sftp: SftpSettings = SftpSettings()
    viewer: ViewerSettings = ViewerSettings()
    places: PlacesSettings = PlacesSettings()
    faces: FacesSettings = FacesSettings()
    labels: LabelsSettings = LabelsSettings()
    log: LogSettings = LogSettings()


SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name != "source"
}


def known_keys() -> dict[str, dict[str, dataclasses.Field[Any]]]:
    """Every `[section] key` the code understands, with its declaration."""
    return {name: {f.name: f for f in dataclasses.fields(cls)} for name, cls in SECTIONS.items()}


def locate(explicit: str | os.PathLike[str] | None) -> Path:
    """The config file to read: `--config`, else `$SHOEBOX_CONFIG`."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if not chosen:
        raise ConfigError(
            f"no configuration given: pass --config PATH or set {ENV_VAR} "
            "(config.example.toml shows every key)"
        )
    return Path(chosen)


def load(path: Path) -> Settings:
    """Read and check one config file. Relative paths are taken from the file's folder."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    base = path.resolve().parent
    for name, table in raw.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{name}]; known sections: {', '.join(SECTIONS)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table of keys")
    sections = {
        name: _section(path, base, name, cls, raw.get(name, {})) for name, cls in SECTIONS.items()
    }
    settings = Settings(source=path.resolve(), **sections)
    _check_layout(settings)
    _check_ingest(settings)
    _check_viewer(settings)
    return _check_sftp(settings)


def _section(path: Path, base: Path, name: str, cls: type[Any], table: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"{path}: unknown key [{name}] {key}; known keys in [{name}]: {', '.join(fields)}"
            )
        values[key] = _value(path, base, f"[{name}] {key}", hints[key], fields[key], value)
    for key, decl in fields.items():  # relative default paths are relative to the file too
        if key not in values and isinstance(decl.default, Path):
            values[key] = (base / decl.default).resolve()
    return cls(**values)


def _value(
    path: Path, base: Path, where: str, hint: Any, decl: dataclasses.Field[Any], value: Any
) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{path}: {where} must be {expected}, not {value!r}")

    meta = decl.metadata
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # `X | None`: a value is an X
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise bad("a path (a non-empty string)")
        return (base / Path(value).expanduser()).resolve()
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is str:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad('a list of strings, such as ["192.168.0.0/16"]')
        return tuple(value)
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is Path:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad('a list of paths, such as ["/srv/photos"]')
        return tuple((base / Path(v).expanduser()).resolve() for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise bad(f"a whole number of at least {meta['minimum']}")
        if meta["maximum"] is not None and value > meta["maximum"]:
            raise bad(f"a whole number from {meta['minimum']} to {meta['maximum']}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise bad(f"a number of at least {meta['minimum']}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        if meta["choices"] and value not in meta["choices"]:
            raise bad("one of " + ", ".join(meta["choices"]))
        return value
    raise TypeError(f"unhandled setting type {hint!r}")  # a programming error, not user input


def _check_layout(settings: Settings) -> None:
    """Refuse layouts that would make indexing write under a library root."""
    lib = settings.library
    if not lib.originals:
        raise ConfigError(
            f"{settings.source}: [library] originals is empty; list the folders that hold "
            'your photos, such as originals = ["/srv/photos"]'
        )
    backups = settings.backup.folder
    writable = [("[library] cache", lib.cache), ("[backup] folder", backups)]
    db_path = sqlite_path(settings)
    if db_path is not None:
        writable.append(("[database] url", db_path))
    for what, target in writable:
        for root in lib.originals:
            if target == root or root in target.parents:
                raise ConfigError(
                    f"{settings.source}: {what} ({target}) lies inside the library root {root}; "
                    "shoebox never writes under a root, so put it elsewhere"
                )
    if backups == lib.cache or lib.cache in backups.parents or backups in lib.cache.parents:
        raise ConfigError(
            f"{settings.source}: [backup] folder ({backups}) and [library] cache ({lib.cache}) "
            "overlap; the cache can be thrown away, the backups must not be: keep them apart"
        )


def _check_ingest(settings: Settings) -> None:
    ingest = settings.ingest
    if ingest.video_timeout >= ingest.file_timeout:
        raise ConfigError(
            f"{settings.source}: [ingest] video_timeout ({ingest.video_timeout}) must be less "
            f"than file_timeout ({ingest.file_timeout}), which covers the whole file"
        )


def _check_sftp(settings: Settings) -> Settings:
    """Check `[sftp]`, filling in the upload root (default: the first library root)."""
    sftp = settings.sftp
    try:
        parse_listen(sftp.listen)
    except ValueError as exc:
        raise ConfigError(f"{settings.source}: [sftp] listen {exc}") from None
    upload_root = sftp.upload_root or settings.library.originals[0]
    if not any(
        upload_root == root or root in upload_root.parents for root in settings.library.originals
    ):
        raise ConfigError(
            f"{settings.source}: [sftp] upload_root ({upload_root}) is not inside any library "
            "root; uploads must land where they are indexed, so name a root or a folder in one"
        )
    return dataclasses.replace(settings, sftp=dataclasses.replace(sftp, upload_root=upload_root))


def _check_viewer(settings: Settings) -> None:
    viewer, where = settings.viewer, f"{settings.source}: [viewer]"
    try:
        parse_listen(viewer.listen)
    except ValueError as exc:
        raise ConfigError(f"{where} listen {exc}") from None
    for key in ("trusted_networks", "trusted_proxies"):
        for text in getattr(viewer, key):
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{where} {key}: {text!r} is not an address or network such as 10.0.0.0/8"
                ) from None
    if not viewer.base_path.startswith("/") or not viewer.base_path.endswith("/"):
        raise ConfigError(f"{where} base_path must start and end with /, such as /photos/")


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[V6]:PORT`) as a host and a port; ValueError says what is wrong."""
    host, sep, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"must be HOST:PORT such as 0.0.0.0:2222, not {listen!r}")
    return host, int(port_text)


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file named by `[database] url`, resolved against the config's folder."""
    url = settings.database.url
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    return (settings.source.parent / rest).resolve() if rest != ":memory:" else None
