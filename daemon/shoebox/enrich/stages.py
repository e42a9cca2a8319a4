"""Which later stages this install runs, in order, and why any is off.

Each stage module is imported here without its heavy libraries (they load at the first photo
that needs them), so asking what is available costs nothing.
"""

from __future__ import annotations

from shoebox.config import Settings
from shoebox.enrich.runner import Stage


def load(settings: Settings) -> tuple[list[Stage], list[str]]:
    """The stages to run, and a line for each one that is off saying why."""
    stages: list[Stage] = []
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
