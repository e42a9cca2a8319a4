"""Which later stages this install runs, in order (likeness is always on), and why any is off; for the optional ones
(faces, labels), how to turn them on.

Each stage module is imported here without its heavy libraries (they load at the first photo
that needs them), so asking what is available costs nothing: the viewer asks too, to say on
its pages and in its menu which of them are off (it checks its own install: run the viewer
from the same install as the daemon).
"""

from __future__ import annotations

import importlib.metadata
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shoebox.config import Settings
from shoebox.enrich.runner import Stage


@dataclass(frozen=True)
class Off:
    """An optional stage that is off: why, and the commands that turn it on (`install` is
    None when it is installed but disabled in the config)."""

    name: str
    why: str
    install: str | None
    index: str


def optional_off(settings: Settings) -> dict[str, Off]:
    """The optional stages (faces, labels) that are off in this install, by name."""
    from shoebox.enrich import faces, labels

    found = {}
    for name, enabled, missing in (
        ("faces", settings.faces.enabled, faces.available),
        ("labels", settings.labels.enabled, labels.available),
    ):
        index = f"{_here('shoebox')} --config {shlex.quote(str(settings.source))} index"
        if not enabled:
            why = f"[{name}] enabled = false in {settings.source}"
            found[name] = Off(name, why, None, index)
        elif missing() is not None:
            found[name] = Off(name, f"the {name} extra is not installed", _install(name), index)
    return found


def _here(program: str) -> str:
    """A program of this install (beside the running Python)."""
    return shlex.quote(str(Path(sys.executable).with_name(program)))


def _install(extra: str) -> str:
    """The pip command that adds an extra to this install (from a checkout: in place)."""
    origin = {}
    for dist in importlib.metadata.distributions(name="shoebox"):  # a checkout's egg-info too
        try:
            origin = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        if origin:
            break
    url = urlsplit(str(origin.get("url", "")))
    if origin.get("dir_info", {}).get("editable") and url.scheme == "file":
        target = "-e " + shlex.quote(f"{unquote(url.path)}[{extra}]")
    else:
        target = shlex.quote(f"shoebox[{extra}]")
    return f"{_here('pip')} install {target}"


def load(settings: Settings) -> tuple[list[Stage], list[str]]:
    """The stages to run, and a line for each one that is off saying why."""
    from shoebox.enrich.likeness import LikenessStage

    stages: list[Stage] = [LikenessStage(settings.library.cache)]
    off: list[str] = []
    if settings.places.enabled:
        from shoebox.enrich.places import PlacesStage

        stages.append(PlacesStage(settings.library.cache))
    else:
        off.append("places: [places] enabled = false")
    _faces(settings, stages, off)
    _labels(settings, stages, off)
    return stages, off


def _faces(settings: Settings, stages: list[Stage], off: list[str]) -> None:
    from shoebox.enrich import faces

    if not settings.faces.enabled:
        off.append("faces: [faces] enabled = false")
    elif (missing := faces.available()) is not None:
        off.append(missing)
    else:
        stages.append(faces.FacesStage(settings))


def _labels(settings: Settings, stages: list[Stage], off: list[str]) -> None:
    from shoebox.enrich import labels

    if not settings.labels.enabled:
        off.append("labels: [labels] enabled = false")
    elif (missing := labels.available()) is not None:
        off.append(missing)
    else:
        stages.append(labels.LabelsStage(settings.library.cache))
