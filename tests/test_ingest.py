"""Index runs on fixtures made here: fields, renditions, incremental runs, moves, missing files
and roots, grouping. Every test runs on SQLite and on MariaDB."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from PIL import Image

from conftest import Library
from shoebox.catalog import pending
from shoebox.catalog.models import File, Photo
from shoebox.ingest import pipeline
from shoebox.ingest.backlog import Backlog
from shoebox.ingest.renditions import rendition_path
from shoebox.ingest.run import Indexer
from shoebox.sample import Shot, write_jpeg, write_tags, write_video

LISBON = Shot(
    dt.datetime(2023, 7, 14, 18, 32, 5), "+01:00", "Apple", "iPhone 13", (38.7139, -9.1394, 42.0)
)


def test_fields_of_a_camera_jpeg(library: Library) -> None:
    write_jpeg(library.root / "a/IMG_0001.jpg", LISBON)
    summary = library.index()
    assert (summary.new, summary.failed) == (1, 0)
    photo = library.photo_of("IMG_0001.jpg")
    assert photo["type"] == "image"
    assert photo["taken_at"] == "2023-07-14T17:32:05Z"
    assert photo["taken_at_local"] == "2023-07-14T18:32:05"
    assert (photo["timezone"], photo["taken_at_source"]) == ("+01:00", "DateTimeOriginal")
    assert photo["lat"] == pytest.approx(38.7139, abs=1e-4)
    assert photo["lng"] == pytest.approx(-9.1394, abs=1e-4)
    assert photo["altitude"] == pytest.approx(42.0)
    assert (photo["camera_make"], photo["camera_model"]) == ("Apple", "iPhone 13")
    assert (photo["iso"], photo["exposure"], photo["f_number"]) == (100, "1/125", 2.8)
    assert (photo["width"], photo["height"], photo["orientation"]) == (1200, 900, 1)
    for unknown in ("title", "description", "artist", "copyright", "rating", "duration", "codec"):
        assert photo[unknown] is None, unknown
    assert photo["keywords"] == []
    (file,) = photo["files"]
    assert file["mime"] == "image/jpeg"
    assert file["role"] == "original"
    assert len(file["hash"]) == 64
    assert file["size"] == (library.root / "a/IMG_0001.jpg").stat().st_size


def test_renditions_are_upright_and_sized(library: Library) -> None:
    # Stored turned, tagged orientation 6: shown 900x1200 (portrait) with red at top-left.
    write_jpeg(library.root / "turned.jpg", Shot(orientation=6), size=(900, 1200))
    library.index()
    photo = library.photo_of("turned.jpg")
    assert (photo["width"], photo["height"], photo["orientation"]) == (900, 1200, 6)
    cache = library.settings.library.cache
    with Image.open(rendition_path(cache, photo["thumb_hash"], "preview")) as preview:
        assert preview.size == (900, 1200)
        red, green, _ = preview.getpixel((10, 10))
        assert red > 150 and green < 100  # the red marker is top-left again
    with Image.open(rendition_path(cache, photo["thumb_hash"], "tile")) as tile:
        assert tile.size == (256, 341)  # the picture's shape, its short side tile_size


def test_large_photo_preview_fits_1600(library: Library) -> None:
    write_jpeg(library.root / "big.jpg", size=(4000, 3000))
    library.index()
    photo = library.photo_of("big.jpg")
    cache = library.settings.library.cache
    with Image.open(rendition_path(cache, photo["thumb_hash"], "preview")) as preview:
        assert preview.size == (1600, 1200)


def test_unchanged_files_are_not_read_again(library: Library) -> None:
    path = write_jpeg(library.root / "same.jpg", LISBON)
    library.index()
    before = library.photo_of("same.jpg")
    # Same size and mtime, other bytes: an unchanged re-run must not notice (it only stats).
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = library.index()
    assert (summary.unchanged, summary.new, summary.changed) == (1, 0, 0)
    assert library.photo_of("same.jpg")["files"][0]["hash"] == before["files"][0]["hash"]


def test_changed_file_keeps_its_photo(library: Library) -> None:
    path = write_jpeg(library.root / "edit.jpg", LISBON)
    library.index()
    before = library.photo_of("edit.jpg")
    write_tags(path, "-XMP-dc:Title=Edited")
    summary = library.index()
    assert (summary.changed, summary.new) == (1, 0)
    after = library.photo_of("edit.jpg")
    assert after["id"] == before["id"]
    assert after["title"] == "Edited"
    assert after["files"][0]["hash"] != before["files"][0]["hash"]


def test_moved_file_keeps_identity_and_favourite(library: Library) -> None:
    write_jpeg(library.root / "inbox/IMG_7.jpg", LISBON)
    library.index()
    before = library.photo_of("IMG_7.jpg")
    Photo.update(favorite=True).where(Photo.id == before["id"]).execute()
    (library.root / "2023").mkdir()
    (library.root / "inbox/IMG_7.jpg").rename(library.root / "2023/IMG_7.jpg")
    summary = library.index()
    assert (summary.moved, summary.new, summary.missing) == (1, 0, 0)
    after = library.photo_of("IMG_7.jpg")
    assert after["id"] == before["id"]
    assert after["favorite"] is True
    assert after["files"][0]["path"] == str(library.root / "2023/IMG_7.jpg")
    assert File.select().count() == 1


def test_vanished_file_is_marked_missing_and_can_return(library: Library) -> None:
    path = write_jpeg(library.root / "gone.jpg", LISBON)
    write_jpeg(library.root / "stays.jpg", LISBON, seed=4)  # an empty root would look unmounted
    library.index()
    kept = path.read_bytes()
    path.unlink()
    summary = library.index()
    assert summary.missing == 1
    photo = library.photo_of("gone.jpg")
    assert photo["missing"] is True
    assert photo["files"][0]["status"] == "missing"
    path.write_bytes(kept)
    summary = library.index()
    assert summary.changed == 1
    again = library.photo_of("gone.jpg")
    assert (again["id"], again["missing"]) == (photo["id"], False)


def test_missing_or_unmounted_root_is_left_alone(library: Library) -> None:
    write_jpeg(library.root / "x/one.jpg", LISBON)
    library.index()
    shutil.rmtree(library.root / "x")
    # An empty root that the catalog knows files in looks like an unmounted disk.
    summary = library.index()
    assert summary.missing == 0
    assert summary.roots_left_alone and "not mounted" in summary.roots_left_alone[0]
    library.root.rmdir()
    summary = library.index()
    assert summary.missing == 0
    assert "is missing" in summary.roots_left_alone[0]
    assert library.photo_of("one.jpg")["missing"] is False


def test_indexing_a_folder_inside_a_root_leaves_the_rest(library: Library) -> None:
    write_jpeg(library.root / "a/one.jpg", LISBON)
    write_jpeg(library.root / "b/two.jpg", LISBON, seed=2)
    library.index(library.root / "a")
    assert [p["files"][0]["path"] for p in library.photos()] == [str(library.root / "a/one.jpg")]
    summary = library.index(library.root / "b")
    assert (summary.new, summary.missing) == (1, 0)
    assert len(library.photos()) == 2


def test_identical_files_are_one_photo(library: Library) -> None:
    write_jpeg(library.root / "one/IMG_1.jpg", LISBON)
    shutil.copy(library.root / "one/IMG_1.jpg", library.root / "copy of IMG_1.jpg")
    library.index()
    (photo,) = library.photos()
    assert len(photo["files"]) == 2
    assert len({f["hash"] for f in photo["files"]}) == 1


def test_live_photo_still_and_short_clip_are_one_photo(library: Library) -> None:
    write_video(library.root / "IMG_0042.MOV", seconds=2)
    write_jpeg(library.root / "IMG_0042.JPG", LISBON)
    write_jpeg(library.root / "IMG_0043.JPG", LISBON, seed=3)
    write_video(library.root / "IMG_0043.mp4", seconds=8)  # too long: a video of its own
    library.index()
    live = library.photo_of("IMG_0042.JPG")
    assert live["type"] == "live"
    roles = sorted(f["role"] for f in live["files"])
    assert roles == ["live-video", "original"]
    assert library.photo_of("IMG_0043.mp4")["type"] == "video"
    assert library.photo_of("IMG_0043.JPG")["type"] == "image"


def test_raw_and_jpeg_of_one_shot_are_a_stack(library: Library) -> None:
    write_jpeg(library.root / "DSC_1.JPG", LISBON)
    # A TIFF under a RAW name: grouped by name; its (absent) preview is recorded as an error.
    Image.new("RGB", (64, 48), (9, 9, 9)).save(library.root / "DSC_1.NEF", "TIFF")
    library.index()
    photo = library.photo_of("DSC_1.JPG")
    assert photo["type"] == "raw"
    assert sorted(f["role"] for f in photo["files"]) == ["original", "raw"]
    assert photo["thumb_hash"] == next(f["hash"] for f in photo["files"] if f["role"] == "original")


XMP = """<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
 <rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
  <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'
    xmlns:xmp='http://ns.adobe.com/xap/1.0/'>
   <dc:title><rdf:Alt><rdf:li xml:lang='x-default'>From the sidecar</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li></rdf:Bag></dc:subject>
   <xmp:Rating>5</xmp:Rating>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
"""


@pytest.mark.parametrize("sidecar_first", [False, True])
def test_xmp_sidecar_joins_its_photo_and_wins(library: Library, sidecar_first: bool) -> None:
    (library.root / "IMG_5.jpg.xmp").write_text(XMP)
    if sidecar_first:
        library.index()
    photo_path = write_jpeg(library.root / "IMG_5.jpg", LISBON)
    write_tags(photo_path, "-XMP-dc:Title=From the camera", "-XMP-dc:Subject=boats")
    library.index()
    photo = library.photo_of("IMG_5.jpg")
    assert sorted(f["role"] for f in photo["files"]) == ["original", "sidecar"]
    assert photo["title"] == "From the sidecar"
    assert photo["rating"] == 5
    assert photo["keywords"] == ["harbour"]  # the sidecar's list is the edited one
    assert photo["sources"]["title"] == photo["sources"]["keywords"] == "sidecar"
    assert len(library.photos()) == 1


def test_video_fields_and_poster(library: Library) -> None:
    write_video(
        library.root / "clip.mp4",
        seconds=3,
        size=(320, 240),
        extra=("-metadata", "creation_time=2024-04-02T22:50:00Z"),
    )
    library.index()
    photo = library.photo_of("clip.mp4")
    assert photo["type"] == "video"
    assert photo["taken_at"] == "2024-04-02T22:50:00Z"
    assert photo["duration"] == pytest.approx(3.0, abs=0.1)
    assert photo["codec"] == "avc1"
    assert (photo["width"], photo["height"]) == (320, 240)
    cache = library.settings.library.cache
    with Image.open(rendition_path(cache, photo["thumb_hash"], "preview")) as poster:
        assert poster.size == (320, 240)


def test_a_new_rendition_recipe_reruns_only_that_stage(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_jpeg(library.root / "r.jpg", LISBON)
    library.index()
    photo = library.photo_of("r.jpg")
    tile = rendition_path(library.settings.library.cache, photo["thumb_hash"], "tile")
    tile.unlink()
    meta_before = File.get().meta
    monkeypatch.setattr(pipeline, "RENDITIONS", pipeline.RENDITIONS + 1)
    # the fast phase has nothing to do; the file waits for its renditions, made again
    summary = Indexer(library.settings, library.catalog, interactive=False).index()
    assert (summary.refreshed, summary.unchanged) == (0, 1)
    assert pending.count() == 1 and not tile.exists()
    assert Backlog(library.settings, library.catalog, interactive=False).run().rendered == 1
    assert pending.count() == 0
    assert tile.exists()
    assert File.get().v_renditions == pipeline.RENDITIONS
    assert File.get().meta == meta_before
    assert library.index().unchanged == 1


def test_query_narrows_the_photos(library: Library) -> None:
    write_jpeg(library.root / "2023/lisbon.jpg", LISBON)
    beach = write_jpeg(library.root / "2022/beach.jpg", Shot(dt.datetime(2022, 8, 20, 16, 0, 0)))
    write_tags(beach, "-XMP-dc:Subject=summer", "-XMP-dc:Title=Low tide")
    write_video(library.root / "2024/clip.mp4", seconds=1)
    library.index()
    assert len(library.photos()) == 3
    assert [p["title"] for p in library.photos("tide")] == ["Low tide"]
    assert len(library.photos("keyword:summer")) == 1
    assert len(library.photos("camera:iphone year:2023")) == 1
    assert len(library.photos("type:video")) == 1
    assert len(library.photos("path:2022/")) == 1
    assert library.photos("camera:canon") == []
