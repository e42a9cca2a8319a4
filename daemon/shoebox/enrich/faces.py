"""The faces stage: find the faces on a photo, describe each one, crop it for the viewer, and
hand the new faces to the clustering (`clusters.place`).

- Detection: mediapipe's full-range BlazeFace model (the legacy `solutions.face_detection`
  API; the Tasks API refuses the full-range model), on the photo's upright preview (at most
  1600 px, already oriented), so no RAW or HEIC decoding happens here.
- Description: dlib's 5-point landmarks and its face recognition ResNet (a 128-D embedding),
  from the `face-recognition-models` package. Both ship inside installed packages: nothing is
  downloaded.
- Crops: a square around each face, CROP_PX wide, at `<cache>/faces/<face id>.jpg`; the
  viewer serves them by face id without decoding anything itself.

Children are not treated differently: there is no age or size filter beyond the detector's own
score. Boxes under MIN_FACE_PX (on the preview) are noise and skipped. Faces under
MIN_EMBED_PX are kept, with a box the viewer shows and a person can name, but with no
embedding (one from so few pixels would mislead the clustering): a small child far away is
still found, only not grouped by itself.

A face that a named region overlaps (an MWG region in a sidecar or in the file: one shoebox
wrote before the catalog was rebuilt, or digiKam's, Lightroom's) is that person's, confirmed.
Photos that then show a named person want their sidecars written (`shoebox.sidecars`).

Re-running a photo (a new stage version) matches the new boxes to the old ones by overlap:
an old face that overlaps a new one keeps its id (and so its "not this person" memory) and,
if a person confirmed it, its person; other old faces are replaced. Confirmed faces stay even
when the detector no longer finds them. The models load at the first photo and `close`
gives their memory back (about 200 MB).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from shoebox import sidecars
from shoebox.catalog.cache import PREVIEW, rendition_path
from shoebox.catalog.models import Face
from shoebox.catalog.people import crop_path
from shoebox.config import Settings
from shoebox.errors import StageError
from shoebox.regions import iou

log = logging.getLogger("shoebox.enrich")

MIN_SCORE = 0.5  # the detector's confidence
MIN_FACE_PX = 12  # smaller boxes (on the preview) are not faces anyone could see
MIN_EMBED_PX = 28  # smaller faces get no embedding (see the module docstring)
CROP_PX = 160
CROP_MARGIN = 0.35  # of the box's size, added on each side of a crop
SAME_FACE_IOU = 0.4  # boxes that overlap this much are the same face on a re-run
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


def available() -> str | None:
    """None when the faces extra is installed; otherwise why the stage is off."""
    for module in ("mediapipe", "dlib", "face_recognition_models", "numpy"):
        if importlib.util.find_spec(module) is None:
            return "faces: off (install the faces extra: pip install 'shoebox[faces]')"
    return None


@dataclass(frozen=True)
class Found:
    """One face on an image: its box in fractions of the image, score and embedding
    (float32 bytes, or b"" when too small to describe)."""

    x: float
    y: float
    width: float
    height: float
    score: float
    embedding: bytes


class Models:
    """The detector and the embedding models, loaded together."""

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's start-up chatter
        import dlib
        import mediapipe

        folder = _model_folder()
        self.detector = mediapipe.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=MIN_SCORE
        )
        self.landmarks = dlib.shape_predictor(str(folder / MODEL_FILES[0]))
        self.encoder = dlib.face_recognition_model_v1(str(folder / MODEL_FILES[1]))
        self.rectangle = dlib.rectangle

    def faces(self, image: Image.Image) -> list[Found]:
        """The faces on an RGB image."""
        import numpy as np

        pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
        height, width = pixels.shape[:2]
        found = []
        for detection in self.detector.process(pixels).detections or []:
            box = detection.location_data.relative_bounding_box
            left, top = max(0.0, box.xmin), max(0.0, box.ymin)
            right, bottom = min(1.0, box.xmin + box.width), min(1.0, box.ymin + box.height)
            w_px, h_px = (right - left) * width, (bottom - top) * height
            if min(w_px, h_px) < MIN_FACE_PX:
                continue
            embedding = b""
            if min(w_px, h_px) >= MIN_EMBED_PX:
                rect = self.rectangle(
                    int(left * width), int(top * height), int(right * width), int(bottom * height)
                )
                shape = self.landmarks(pixels, rect)
                vector = np.array(self.encoder.compute_face_descriptor(pixels, shape))
                embedding = vector.astype(np.float32).tobytes()
            found.append(
                Found(left, top, right - left, bottom - top, float(detection.score[0]), embedding)
            )
        return found

    def close(self) -> None:
        self.detector.close()


def _model_folder() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "models"
        if all((folder / name).is_file() for name in MODEL_FILES):
            return folder
    raise StageError("faces", "the face models are missing; reinstall the faces extra")


class FacesStage:
    """Faces and people: the `Stage` of `shoebox.enrich.runner`."""

    name = "faces"
    version = 1

    def __init__(self, settings: Settings) -> None:
        self.cache = settings.library.cache
        self.threshold = settings.faces.match_distance
        self.min_cluster = settings.faces.min_cluster
        self.models: Models | None = None

    def wants(self) -> Any:
        from shoebox.catalog.models import Photo

        return Photo.thumb_hash.is_null(False) & (Photo.type != "video")

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        models = self._load()
        failures: dict[int, str] = {}
        new: list[int] = []
        for photo in photos:
            preview = rendition_path(self.cache, photo.thumb_hash, PREVIEW)
            try:
                with Image.open(preview) as opened:
                    image = opened.convert("RGB")
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                failures[photo.id] = f"cannot read the preview: {exc}"
                continue
            found = models.faces(image)
            stored = self._store(photo.id, image, found)
            named = sidecars.name_faces(photo, stored)  # names a sidecar or the file holds
            new.extend(i for i in stored if i not in named)
        from shoebox.enrich import clusters  # numpy: only once there is work

        clusters.place(new, self.threshold, self.min_cluster)
        sidecars.mark_named_faces(p.id for p in photos)
        return failures

    def close(self) -> None:
        if self.models is not None:
            self.models.close()
            self.models = None

    def _load(self) -> Models:
        if self.models is None:
            try:
                self.models = Models()
            except (ImportError, OSError, RuntimeError) as exc:
                raise StageError("faces", f"cannot load the face models: {exc}") from exc
        return self.models

    def _store(self, photo_id: int, image: Image.Image, found: list[Found]) -> list[int]:
        """Face rows for one photo (see the module docstring for re-runs); the ids of the faces
        that the clustering should place."""
        old = list(Face.select().where(Face.photo == photo_id))
        kept: set[int] = set()
        to_place: list[int] = []
        db = Face._meta.database
        with db.atomic():
            for face in found:
                same = _overlapping(face, [f for f in old if f.id not in kept])
                if same is None:
                    row = Face.create(
                        photo=photo_id, x=face.x, y=face.y, width=face.width,
                        height=face.height, score=face.score, embedding=face.embedding,
                    )  # fmt: skip
                else:
                    row = same
                    kept.add(row.id)
                    row.x, row.y, row.width, row.height = face.x, face.y, face.width, face.height
                    row.score, row.embedding = face.score, face.embedding
                    if not row.confirmed:
                        row.person = None
                    row.save()
                self._crop(image, row)
                if not row.confirmed:
                    to_place.append(row.id)
            gone = [f for f in old if f.id not in kept and not f.confirmed]
            if gone:
                Face.delete().where(Face.id.in_([f.id for f in gone])).execute()
        for old_face in gone:
            crop_path(self.cache, old_face.id).unlink(missing_ok=True)
        return to_place

    def _crop(self, image: Image.Image, face: Any) -> None:
        width, height = image.size
        side = max(face.width * width, face.height * height) * (1 + 2 * CROP_MARGIN)
        cx = (face.x + face.width / 2) * width
        cy = (face.y + face.height / 2) * height
        box = (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
        crop = image.crop(box).resize((CROP_PX, CROP_PX), Image.Resampling.LANCZOS)
        target = crop_path(self.cache, face.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        crop.save(partial, "JPEG", quality=85)
        os.replace(partial, target)


def _overlapping(face: Found, candidates: list[Any]) -> Any:
    """The old face whose box overlaps this one most, if enough."""
    box = (face.x, face.y, face.width, face.height)
    best, best_iou = None, SAME_FACE_IOU
    for old in candidates:
        overlap = iou(box, (old.x, old.y, old.width, old.height))
        if overlap >= best_iou:
            best, best_iou = old, overlap
    return best
