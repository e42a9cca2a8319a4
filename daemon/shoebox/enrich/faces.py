"""The faces stage: find the faces on a photo, describe each one, crop it for the viewer, and
hand the new faces to the clustering (`clusters.place`).

- Picture: the original, decoded upright as the renditions stage decodes it (EXIF orientation,
  HEIF, RAW previews; JPEGs at the smallest DCT scale that is large enough), at the size the
  smallest face wanted needs (`[faces] smallest_face`, in pixels of the original). When the
  original cannot be read (its disk is away), the preview stands in.
- Detection: mediapipe's full-range BlazeFace model, run over the pyramid of `tiles.plan` (the
  whole picture, then overlapping squares at finer and finer scales), so a face 20 px wide in a
  12-MP photo is seen at the size the model knows. Duplicates across squares and levels are
  merged (`tiles.merge`). The model runs in a graph of our own (the legacy solution ignores a
  score threshold under 0.5), on one thread.
- Which boxes are faces: each is looked at again, shown CHECK_PX wide; the model's score must
  reach SURE_SCORE, or MIN_SCORE and CHECK_SCORE on the second look (or RECHECK_SCORE on a
  look narrower or wider): a texture or an animal that looks like a face from afar rarely
  does from near. The second look also places the box better for the landmarks. Calibrated
  on the corpus and on made-up group shots (`bench/faces.py`).
- Description: dlib's 5-point landmarks and its face recognition ResNet (a 128-D embedding),
  from the `face-recognition-models` package, shown the region around each face (not the
  whole picture: the same embedding, without dlib scaling the whole picture for each face).
  Nothing is downloaded.
- Crops: a square around each face, CROP_PX wide, at `<cache>/faces/<face id>.jpg`.

Children are not treated differently: there is no age or size filter beyond the detector's own
score. Faces under MIN_EMBED_PX (in the original) are kept, with a box a person can name, but
with no embedding (one from so few pixels would mislead the clustering).

A face that a named region overlaps (an MWG region in a sidecar or in the file: one shoebox
wrote before the catalog was rebuilt, or digiKam's, Lightroom's) is that person's, confirmed.
Photos that then show a named person want their sidecars written (`shoebox.sidecars`).

Re-running a photo (a new stage version) matches the new boxes to the old ones by overlap:
an old face that overlaps a new one keeps its id (and so its "not this person" memory) and,
if a person confirmed it, its person; other old faces are replaced. Confirmed faces stay even
when the detector no longer finds them, and a box a person called "not a face" (`NotFace`)
is never a face again. The models load at the first photo and `close` gives their memory back.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from shoebox import sidecars
from shoebox.catalog.cache import PREVIEW, rendition_path
from shoebox.catalog.models import Face, NotFace
from shoebox.catalog.people import crop_path
from shoebox.catalog.photos import decoder_kind, rendered_from
from shoebox.config import Settings
from shoebox.enrich import tiles
from shoebox.errors import HelperError, StageError
from shoebox.regions import iou

log = logging.getLogger("shoebox.enrich")

CANDIDATE_SCORE = 0.3  # the detector's own threshold (the check below sees more of it)
MIN_SCORE = 0.4  # less sure than this: not a face
SURE_SCORE = 0.75  # this sure: a face; in between, the box is looked at again, larger
CHECK_PX = 64  # how wide the face is when looked at again
CHECK_SCORE = 0.65  # how sure the detector must be then
RECHECK_PX = (40, 96)  # if it is not, how wide the face is when looked at once more...
RECHECK_FROM = 0.5  # ...if the first look was this sure
RECHECK_SCORE = 0.7  # how sure the detector must be then
MIN_EMBED_PX = 28  # smaller faces (in the picture) get no embedding
DESCRIBE_MARGIN = 1.0  # of the box's size, on each side of the region dlib sees
DESCRIBE_ALIGN = 64  # that region's corner on a multiple of this (dlib's pyramid levels)
CROP_PX = 160
CROP_MARGIN = 0.35  # of the box's size, added on each side of a crop
SAME_FACE_IOU = 0.4  # boxes that overlap this much are the same face on a re-run
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
EXTRA = ("mediapipe", "dlib", "face_recognition_models", "numpy")


def available() -> str | None:
    """None when the faces extra is installed; otherwise why the stage is off."""
    for module in EXTRA:
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


class Detector:
    """mediapipe's full-range face detector over the squares of `tiles.plan`."""

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's start-up chatter
        import mediapipe
        from mediapipe.framework import calculator_pb2
        from mediapipe.modules.face_detection import face_detection_pb2
        from mediapipe.python import CalculatorGraph, packet_getter, resource_util

        # The graph finds its model under the folder that holds the mediapipe package.
        resource_util.set_resource_dir(str(Path(mediapipe.__file__).parent.parent))
        config = calculator_pb2.CalculatorGraphConfig(
            input_stream=["image"], output_stream=["detections"], num_threads=1
        )
        node = config.node.add(
            calculator="FaceDetectionFullRange",
            input_stream=["IMAGE:image"],
            output_stream=["DETECTIONS:detections"],
        )
        options = face_detection_pb2.FaceDetectionOptions(min_score_thresh=CANDIDATE_SCORE)
        options.delegate.xnnpack.num_threads = 1
        node.node_options.add().Pack(options)
        self.graph = CalculatorGraph(graph_config=config)
        self.answers: list[Any] = []
        self.graph.observe_output_stream(
            "detections",
            lambda _name, packet: self.answers.extend(packet_getter.get_proto_list(packet)),
        )
        self.graph.start_run()
        self.time = 0

    def boxes(self, picture: Image.Image, smallest: float) -> list[tiles.Box]:
        """The faces on an RGB picture, from `smallest` pixels wide, merged and checked."""
        import numpy as np

        width, height = picture.size
        found: list[tiles.Box] = []
        levels = tiles.plan(width, height, smallest)
        scaled = picture
        for level in reversed(levels):  # finest first: each coarser one is half the size
            size = level.size(width, height)
            if scaled.size != size:
                half = (scaled.width // 2, scaled.height // 2)
                scaled = scaled.reduce(2) if half == size else _resized(scaled, size)
            pixels = np.asarray(scaled)
            sx, sy = scaled.width / width, scaled.height / height
            for left, top in level.squares:
                square = pixels[top : top + tiles.MODEL_PX, left : left + tiles.MODEL_PX]
                for box in self._detect(square):
                    found.append(
                        tiles.Box(
                            (left + box.left) / sx,
                            (top + box.top) / sy,
                            box.width / sx,
                            box.height / sy,
                            box.score,
                            sx,
                        )
                    )
        checked = (self._checked(picture, b) for b in tiles.merge(found))
        return tiles.merge(b for b in checked if b is not None)

    def _detect(self, square: Any) -> list[tiles.Box]:
        """Boxes in pixels of `square` (an RGB array of at most MODEL_PX a side)."""
        import numpy as np
        from mediapipe.python import ImageFormat, packet_creator

        height, width = square.shape[:2]
        self.answers.clear()
        self.time += 1
        frame = packet_creator.create_image_frame(
            image_format=ImageFormat.SRGB, data=np.ascontiguousarray(square)
        )
        self.graph.add_packet_to_input_stream("image", frame.at(self.time))
        self.graph.wait_until_idle()
        boxes = []
        for detection in self.answers:
            box = detection.location_data.relative_bounding_box
            left, top = max(0.0, box.xmin), max(0.0, box.ymin)
            right, bottom = min(1.0, box.xmin + box.width), min(1.0, box.ymin + box.height)
            if right > left and bottom > top:
                boxes.append(
                    tiles.Box(
                        left * width,
                        top * height,
                        (right - left) * width,
                        (bottom - top) * height,
                        float(detection.score[0]),
                    )
                )
        return boxes

    def _checked(self, picture: Image.Image, box: tiles.Box) -> tiles.Box | None:
        """A merged box looked at again, shown CHECK_PX wide: the box found then (better
        placed than one from a small square, for the landmarks), or None when it is not a
        face. The detector must be sure of it (SURE_SCORE), or fairly sure (MIN_SCORE) and
        find it again with CHECK_SCORE, or else (from RECHECK_FROM) with RECHECK_SCORE shown
        narrower or wider (RECHECK_PX): some faces are found at one size and not another."""
        if box.score < MIN_SCORE:
            return None
        again = self._look(picture, box, CHECK_PX, CHECK_SCORE)
        if again is None and box.score >= SURE_SCORE:
            return box
        for width in RECHECK_PX if again is None and box.score >= RECHECK_FROM else ():
            again = self._look(picture, box, width, RECHECK_SCORE)
            if again is not None:
                break
        if again is None:
            return None
        return dataclasses.replace(again, score=max(box.score, again.score), scale=box.scale)

    def _look(
        self, picture: Image.Image, box: tiles.Box, width: int, sure: float
    ) -> tiles.Box | None:
        """The face in `box` as the detector finds it when shown `width` pixels wide, if it
        is at least `sure` of it."""
        import numpy as np

        zoom = width / box.width
        side = tiles.MODEL_PX / zoom
        left = round(box.left + box.width / 2 - side / 2)
        top = round(box.top + box.height / 2 - side / 2)
        window = (left, top, left + round(side), top + round(side))
        square = picture.crop(window).resize(  # a crop past the edge is padded with black
            (tiles.MODEL_PX, tiles.MODEL_PX), Image.Resampling.BILINEAR
        )
        centre = tiles.MODEL_PX / 2
        found = [
            b
            for b in self._detect(np.asarray(square))
            if abs(b.left + b.width / 2 - centre) < b.width / 2
            and abs(b.top + b.height / 2 - centre) < b.height / 2
        ]
        best = max(found, key=lambda b: b.score, default=None)
        if best is None or best.score < sure:
            return None
        scale = tiles.MODEL_PX / (window[2] - window[0])
        return tiles.Box(
            left + best.left / scale,
            top + best.top / scale,
            best.width / scale,
            best.height / scale,
            best.score,
        )

    def close(self) -> None:
        self.graph.close()


def _resized(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    return picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


class Models:
    """The detector and the embedding models, loaded together."""

    def __init__(self) -> None:
        import dlib

        folder = _model_folder()
        self.detector = Detector()
        self.landmarks = dlib.shape_predictor(str(folder / MODEL_FILES[0]))
        self.encoder = dlib.face_recognition_model_v1(str(folder / MODEL_FILES[1]))
        self.rectangle = dlib.rectangle

    def faces(self, picture: Image.Image, smallest: float) -> list[Found]:
        """The faces on an RGB picture, from `smallest` pixels wide."""
        width, height = picture.size
        found = []
        for box in self.detector.boxes(picture, smallest):
            small = min(box.width, box.height) < MIN_EMBED_PX
            found.append(
                Found(
                    box.left / width,
                    box.top / height,
                    box.width / width,
                    box.height / height,
                    box.score,
                    b"" if small else self.describe(picture, box),
                )
            )
        return found

    def describe(self, picture: Image.Image, box: tiles.Box) -> bytes:
        """The 128-D embedding (float32 bytes) of the face in `box`, from the region around
        it alone: dlib sees a crop of DESCRIBE_MARGIN box widths on each side, its corner on
        a multiple of DESCRIBE_ALIGN pixels, so its landmarks and its image pyramid see the
        same pixels as on the whole picture (the same embedding), at a fraction of the cost."""
        import numpy as np

        margin = DESCRIBE_MARGIN * max(box.width, box.height)
        left = max(0, int(box.left - margin) // DESCRIBE_ALIGN * DESCRIBE_ALIGN)
        top = max(0, int(box.top - margin) // DESCRIBE_ALIGN * DESCRIBE_ALIGN)
        right = min(picture.width, math.ceil(box.left + box.width + margin))
        bottom = min(picture.height, math.ceil(box.top + box.height + margin))
        region = picture.crop((left, top, right, bottom))
        pixels = np.ascontiguousarray(np.asarray(region, dtype=np.uint8))
        rect = self.rectangle(
            round(box.left) - left,
            round(box.top) - top,
            round(box.left + box.width) - left,
            round(box.top + box.height) - top,
        )
        shape = self.landmarks(pixels, rect)
        vector = np.array(self.encoder.compute_face_descriptor(pixels, shape))
        return bytes(vector.astype(np.float32).tobytes())

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
    version = 2  # 2: the original at full size, in tiles; checked boxes; "not a face"

    def __init__(self, settings: Settings) -> None:
        from shoebox.ingest.renditions import RenditionSpec

        self.cache = settings.library.cache
        self.threshold = settings.faces.match_distance
        self.min_cluster = settings.faces.min_cluster
        self.smallest = settings.faces.smallest_face
        ren, ing = settings.renditions, settings.ingest
        self.spec = RenditionSpec(
            cache=self.cache, tile_size=ren.tile_size, preview_size=ren.preview_size,
            quality=ren.quality, max_pixels=ing.max_pixels, ffmpeg=ing.ffmpeg,
            video_timeout=ing.video_timeout,
        )  # fmt: skip
        self.models: Models | None = None

    def wants(self) -> Any:
        from shoebox.catalog.models import Photo

        return Photo.thumb_hash.is_null(False) & (Photo.type != "video")

    def run(self, photos: Sequence[Any]) -> dict[int, str]:
        models = self._load()
        failures: dict[int, str] = {}
        new: list[int] = []
        for photo in photos:
            try:
                picture, smallest = self.picture(photo)
            except StageError as exc:
                failures[photo.id] = str(exc)
                continue
            found = models.faces(picture, smallest)
            stored = self._store(photo.id, picture, found)
            named = sidecars.name_faces(photo, stored)  # names a sidecar or the file holds
            new.extend(i for i in stored if i not in named)
        from shoebox.enrich import clusters  # numpy: only once there is work

        clusters.place(new, self.threshold, self.min_cluster)
        sidecars.mark_named_faces(p.id for p in photos)
        return failures

    def picture(self, photo: Any) -> tuple[Image.Image, float]:
        """The photo upright, large enough for its smallest faces to be found and described,
        and how wide the smallest face wanted is on it (pixels). From the original when it
        can be read, else from the preview."""
        from shoebox.ingest import identify, renditions

        width, height = photo.width or 0, photo.height or 0
        long_side = max(width, height)
        path, kind = _original(photo)
        if path is not None and long_side:  # a size to scale from: else the preview
            finest = tiles.finest_scale(width, height, self.smallest)
            scale = max(finest, MIN_EMBED_PX / self.smallest)
            spec = dataclasses.replace(
                self.spec, preview_size=math.ceil(long_side * min(1.0, scale))
            )
            try:
                fd, st = identify.open_regular(path)
                try:
                    picture = renditions.decode(spec, fd, st.st_size, kind).image
                finally:
                    os.close(fd)
                return picture, self.smallest * picture.width / width
            except (OSError, StageError, HelperError) as exc:
                log.info("photo %d: faces from the preview (%s)", photo.id, exc)
        preview = rendition_path(self.cache, photo.thumb_hash, PREVIEW)
        try:
            with Image.open(preview) as opened:
                picture = opened.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise StageError("faces", f"cannot read the preview: {exc}") from exc
        ratio = picture.width / width if width else 1.0
        return picture, self.smallest * ratio

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
        refused = list(NotFace.select().where(NotFace.photo == photo_id))
        kept: set[int] = set()
        to_place: list[int] = []
        db = Face._meta.database
        with db.atomic():
            for face in found:
                if _overlapping(face, refused) is not None:
                    continue  # a person said this is not a face
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


def _original(photo: Any) -> tuple[bytes | None, Any]:
    """The path of the file a photo's renditions were made from, and its kind for
    `renditions.decode`; (None, None) when no such file is present."""
    row = rendered_from(photo.id, photo.thumb_hash)
    if row is None:
        return None, None
    path = os.path.join(os.fsencode(row.root.path), bytes(row.rel_path_raw))
    return path, decoder_kind(row)


def _overlapping(face: Found, candidates: Sequence[Any]) -> Any:
    """The row (a face, or a box said not to be one) whose box overlaps this face most, if
    enough (SAME_FACE_IOU)."""
    box = (face.x, face.y, face.width, face.height)
    best, best_iou = None, SAME_FACE_IOU
    for old in candidates:
        overlap = iou(box, (old.x, old.y, old.width, old.height))
        if overlap >= best_iou:
            best, best_iou = old, overlap
    return best
