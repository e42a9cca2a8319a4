"""config.toml: read once into typed settings; every key documented; bad input explained."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conftest import write_config
from shoebox import config
from shoebox.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def test_example_parses_and_documents_every_key() -> None:
    settings = config.load(EXAMPLE)
    assert settings.library.originals == (Path("/srv/photos"),)
    lines = EXAMPLE.read_text().splitlines()
    section = None
    documented: dict[str, set[str]] = {}
    for i, line in enumerate(lines):
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.match(r"(\w+) = ", line):
            assert section is not None
            assert lines[i - 1].startswith("# "), f"[{section}] {m.group(1)} has no comment"
            documented.setdefault(section, set()).add(m.group(1))
    known = {name: set(fields) for name, fields in config.known_keys().items()}
    assert documented == known


def test_example_values_are_the_defaults_except_paths() -> None:
    settings = config.load(EXAMPLE)
    for name, fields in config.known_keys().items():
        section = getattr(settings, name)
        for key, decl in fields.items():
            if decl.type in ("Path", "Path | None", "tuple[Path, ...]"):
                continue
            assert getattr(section, key) == decl.default, f"[{name}] {key}"


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "etc/config.toml", '[library]\noriginals = ["../photos"]\n')
    settings = config.load(cfg)
    assert settings.library.originals == (tmp_path / "photos",)
    assert settings.library.cache == tmp_path / "etc" / "cache"
    assert config.sqlite_path(settings) == tmp_path / "etc" / "catalog.db"
    assert dataclasses.is_dataclass(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.library = settings.library  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[library]\noriginals = ["/p"]\ncolour = 1\n', r"unknown key \[library\] colour"),
        ('[library]\noriginals = ["/p"]\n[web]\nport = 1\n', r"unknown section \[web\]"),
        ('[library]\noriginals = "/p"\n', r"\[library\] originals must be a list of paths"),
        ('[library]\noriginals = ["/p"]\n[ingest]\nworkers = -1\n', r"at least 0, not -1"),
        ('[library]\noriginals = ["/p"]\n[ingest]\nworkers = "2"\n', r"a whole number, not '2'"),
        ('[library]\noriginals = ["/p"]\n[log]\nlevel = "loud"\n', r"one of debug, info"),
        (
            '[library]\noriginals = ["/p"]\n[ingest]\nvideo_timeout = 300\n',
            r"\[ingest\] video_timeout \(300\) must be less than file_timeout \(300\)",
        ),
        ("[library]\n", r"\[library\] originals is empty"),
        ('[library]\noriginals = ["/p"]\ncache = "/p/cache"\n', r"lies inside the library root"),
        (
            '[library]\noriginals = ["/p"]\n[database]\nurl = "sqlite:////p/x.db"\n',
            r"\[database\] url .* lies inside the library root",
        ),
        ("[library\n", r"not valid TOML"),
    ],
)
def test_bad_config_names_file_key_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    cfg = write_config(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError, match=expected) as info:
        config.load(cfg)
    assert str(cfg) in str(info.value)


def test_locate_prefers_the_flag_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    with pytest.raises(ConfigError, match="--config PATH or set SHOEBOX_CONFIG"):
        config.locate(None)
    monkeypatch.setenv(config.ENV_VAR, str(tmp_path / "env.toml"))
    assert config.locate(None) == tmp_path / "env.toml"
    assert config.locate(str(tmp_path / "flag.toml")) == tmp_path / "flag.toml"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config.load(tmp_path / "nope.toml")
