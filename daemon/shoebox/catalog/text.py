"""The text a bare search word looks through, and the words that find it fast.

`PhotoText` holds one lower-case column a photo: its title, description, keywords, camera,
artist and file paths. `PhotoWord` holds the words of that text (runs of letters and digits),
one row each, in an index by word. A search word is found where the text holds it as typed
*and* it starts at the start of a word of the text: `birth` finds "birthday" and `img_00`
finds "2019/07/img_0012.jpg", but `irthday` finds nothing. The index gives the candidates
(at 1,000,000 photos a scan of every text took 160 ms on SQLite and 1.3 s on MariaDB); the
text, read for those candidates only, decides. A word with no letter or digit (`_`) is
looked for in every text, as before. Both tables are kept up to date by the ingest's
grouping (and hand edits) whenever a photo is made or refreshed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from peewee import MySQLDatabase

from shoebox.catalog.models import File, Photo, PhotoText, PhotoWord

_CHUNK = 1000
_LISTED = 20000  # matches of a word passed on as a list of ids
_WORD = re.compile(r"[^\W_]+")  # letters and digits: `_` and punctuation separate words
_LONGEST = PhotoWord.word.max_length  # a longer word is kept cut to this


def words_of(photo: Any, rel_paths: Iterable[str]) -> str:
    keywords = json.loads(photo.keywords) if photo.keywords else []
    parts = [
        photo.title, photo.description, " ".join(keywords), photo.camera_make,
        photo.camera_model, photo.artist, *rel_paths,
    ]  # fmt: skip
    return "\n".join(part for part in parts if part).lower()


def index_words(text: str) -> set[str]:
    """The words `PhotoWord` holds for a (lower-case) text."""
    return {word[:_LONGEST] for word in _WORD.findall(text)}


def store(photo: Any, rel_paths: Iterable[str]) -> None:
    """Write a photo's text and its words (its rows are replaced)."""
    text = words_of(photo, rel_paths)
    PhotoText.delete().where(PhotoText.photo == photo.id).execute()
    PhotoText.insert(photo=photo.id, text=text).execute()
    PhotoWord.delete().where(PhotoWord.photo == photo.id).execute()
    words = [{"word": word, "photo": photo.id} for word in sorted(index_words(text))]
    if words:
        PhotoWord.insert_many(words).execute()


def matching(word: str) -> Any:
    """The ids of photos whose text holds `word` (any case), at the start of one of its words:
    read now, as a list, when there are at most `_LISTED` of them, else a subquery. Given the
    subquery, MariaDB walks every photo and looks up its text; a list of ids is far cheaper."""
    lowered = word.lower()
    typed = PhotoText.text.contains(lowered)
    parts = _WORD.findall(lowered)
    select: Any
    if not parts:
        select = PhotoText.select(PhotoText.photo).where(typed)
    else:
        # The longest part is the rarest, likely: the whole of a word of the text where
        # something follows it in `word`, else the start of one.
        i, part = max(enumerate(parts), key=lambda found: len(found[1]))
        last = i == len(parts) - 1 and lowered.endswith(part)
        select = PhotoWord.select(PhotoWord.photo).where(_starts(part) if last else _is(part))
        if len(parts) > 1 or part != lowered or len(part) > _LONGEST:
            # the word as typed, in the candidates' texts
            select = PhotoText.select(PhotoText.photo).where(PhotoText.photo.in_(select) & typed)
        else:
            select = select.distinct()
    query: Any = select.limit(_LISTED + 1).tuples()
    ids = [photo_id for (photo_id,) in query]
    return ids if len(ids) <= _LISTED else select


def _is(part: str) -> Any:
    return PhotoWord.word == part[:_LONGEST]


def _starts(part: str) -> Any:
    """Words that start with `part`. MariaDB's LIKE seeks in the index and compares as its
    collation does (the text's LIKE folds accents too); SQLite's folds case, which an index of
    bytes cannot serve: the words from `part` up to the next string of its length."""
    part = part[:_LONGEST]
    if isinstance(PhotoWord._meta.database, MySQLDatabase):
        return PhotoWord.word.startswith(part)
    return (PhotoWord.word >= part) & (PhotoWord.word < part[:-1] + chr(ord(part[-1]) + 1))


def rebuild() -> int:
    """Every photo's text and words, from scratch (for a catalog made before the table
    existed). Reads only the columns the text is made of, so that an older schema's
    migration can run it."""
    done = rebuild_text()
    rebuild_words()
    return done


def rebuild_text() -> int:
    """Every photo's text, from scratch; returns the number of photos."""
    PhotoText.delete().execute()
    done, last = 0, 0
    columns = (
        Photo.id, Photo.title, Photo.description, Photo.keywords, Photo.camera_make,
        Photo.camera_model, Photo.artist,
    )  # fmt: skip
    while True:
        photos = list(
            Photo.select(*columns).where(Photo.id > last).order_by(Photo.id).limit(_CHUNK)
        )
        if not photos:
            return done
        paths: dict[int, list[str]] = {}
        files: Any = (
            File.select(File.photo, File.rel_path)
            .where(File.photo.in_([p.id for p in photos]))
            .tuples()
        )
        for photo_id, rel_path in files:
            paths.setdefault(photo_id, []).append(rel_path)
        PhotoText.insert_many(
            [{"photo": p.id, "text": words_of(p, paths.get(p.id, []))} for p in photos]
        ).execute()
        done += len(photos)
        last = photos[-1].id


def rebuild_words() -> None:
    """Every photo's words, from its text (`PhotoText`), from scratch."""
    PhotoWord.delete().execute()
    last = 0
    while True:
        texts: list[Any] = list(
            PhotoText.select(PhotoText.photo, PhotoText.text)
            .where(PhotoText.photo > last)
            .order_by(PhotoText.photo)
            .limit(_CHUNK)
            .tuples()
        )
        if not texts:
            return
        rows = [
            {"word": word, "photo": photo_id}
            for photo_id, text in texts
            for word in index_words(text)
        ]
        for start in range(0, len(rows), _CHUNK):
            PhotoWord.insert_many(rows[start : start + _CHUNK]).execute()
        last = texts[-1][0]
