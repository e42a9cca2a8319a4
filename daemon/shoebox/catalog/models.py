"""The catalog's tables as Peewee models, the same on SQLite and MariaDB.

A *photo* is the logical picture a person sees; a *file* is one physical file under a library
root. One photo may own several files: byte-identical copies, a Live Photo's still and video,
a RAW+JPEG stack and their sidecars. Files carry what was read from them (`meta`, as JSON);
photos carry the merged values the timeline and search need, with indexes for them.

Models are bound to a database at run time (`Catalog.open`), never at import.
"""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    FixedCharField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SmallIntegerField,
    TextField,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class LongTextField(TextField):
    """Text that may pass 64 KB: TEXT on SQLite, MEDIUMTEXT (16 MB) on MariaDB, whose TEXT
    stops at 65,535 bytes."""

    field_type = "MEDIUMTEXT"


class BaseModel(Model):
    id = AutoField()

    class Meta:
        legacy_table_names = False


class Root(BaseModel):
    """A library root (a folder of originals), by absolute path, with the filesystem it was
    on while the catalog knew files in it (see `shoebox.roots`) and, while it is left alone,
    why."""

    path = TextField()
    path_key = FixedCharField(32, unique=True)
    device = BigIntegerField(null=True)  # st_dev
    fsid = CharField(16, null=True)  # statvfs f_fsid, hex ("0": the filesystem has none)
    left_alone = TextField(null=True)  # why its photos are not touched now; null: it is fine


ROLES = ("admin", "member", "viewer")


class Account(BaseModel):
    """A person of the household: uploads over SFTP into their own folder of a library root,
    and logs in to the viewer with a role: `admin` (everything, also other people's shares),
    `member` (albums, favourites, archive, shares) or `viewer` (looks, changes nothing)."""

    name = CharField(64, unique=True)
    password_hash = TextField(null=True)  # argon2id; null when only keys are allowed
    authorized_keys = TextField(default="")  # OpenSSH public key lines
    folder = TextField()  # absolute path of the account's upload folder
    role = CharField(16, default="member")
    private_uploads = BooleanField(default=False)  # the visibility of photos its uploads make
    created_at = DateTimeField(default=utcnow)


# The indexes that page and count photos end alike: in timeline order (`taken_at DESC, id
# DESC`), then who sees the photo and the burst it is in, so that each answers a query for
# any viewer by itself (a count reads the index alone).
_IN_ORDER = ("taken_at", "id", "visibility", "owner", "burst_of")
TIMELINE_INDEX = ("archived", "missing", *_IN_ORDER)
MONTHS_INDEX = ("year", "month", "archived", "missing", *_IN_ORDER)
TYPE_INDEX = ("type", "archived", "missing", *_IN_ORDER, "lat", "lng")
LENS_INDEX = ("lens_model", "archived", "missing", *_IN_ORDER)


class Photo(BaseModel):
    """The logical picture, with the merged metadata of its files."""

    type = CharField(16)  # image, video, live, raw, animated
    thumb_hash = FixedCharField(64, null=True)  # whose renditions show this photo
    taken_at = DateTimeField()  # UTC, naive
    taken_at_local = DateTimeField()  # wall-clock time where it was taken
    taken_at_source = CharField(32)  # which source the date came from (`ingest.dates`)
    timezone = CharField(8, null=True)  # "+02:00", or null when unknown
    timezone_name = CharField(64, null=True)  # "Europe/Paris": the IANA zone where it was taken
    year = SmallIntegerField()
    month = SmallIntegerField()
    lat = FloatField(null=True)
    lng = FloatField(null=True)
    altitude = FloatField(null=True)
    camera_make = CharField(100, null=True)
    camera_model = CharField(100, null=True)
    software = CharField(100, null=True)
    lens_model = CharField(255, null=True)
    iso = IntegerField(null=True)
    exposure_time = FloatField(null=True)  # seconds
    f_number = FloatField(null=True)
    focal_length = FloatField(null=True)
    focal_length_35mm = FloatField(null=True)
    width = IntegerField(null=True)  # as displayed, after orientation
    height = IntegerField(null=True)
    orientation = SmallIntegerField(null=True)
    duration = FloatField(null=True)  # seconds
    codec = CharField(32, null=True)
    fps = FloatField(null=True)
    title = TextField(null=True)
    description = TextField(null=True)
    keywords = TextField(null=True)  # JSON list
    artist = TextField(null=True)
    copyright = TextField(null=True)
    rating = SmallIntegerField(null=True)
    content_id = CharField(100, null=True)
    sources = TextField(null=True)  # JSON: where the date, zone, place, camera, ... came from
    favorite = BooleanField(default=False)
    archived = BooleanField(default=False)
    missing = BooleanField(default=False)  # every file of it has vanished
    # How it looks (`ingest.likeness`): its difference hash and sharpness, and the cover of the
    # burst it is in (the cover's own id for the cover; None when in none).
    dhash = BigIntegerField(null=True)
    sharpness = FloatField(null=True)
    burst_of = IntegerField(null=True, index=True)
    # Who sees it (shoebox.catalog.visibility): the account whose upload made it (None: it
    # arrived another way), and "household" (every member) or "private" (its owner only).
    owner = ForeignKeyField(Account, null=True, on_delete="SET NULL", index=False)  # in _IN_ORDER
    visibility = CharField(16, default="household")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    owner_id: int | None

    class Meta:
        indexes = (
            (("visibility", "owner"), False),
            (TIMELINE_INDEX, False),
            (MONTHS_INDEX, False),
            (("camera_make", "camera_model", "archived", "missing", *_IN_ORDER), False),
            (("favorite", "archived", "missing", *_IN_ORDER), False),
            # lat, lng last: `type:video geo:yes` is answered from the index alone
            (TYPE_INDEX, False),
            (LENS_INDEX, False),  # lens:, by its values (catalog.values)
            (("lat", "lng", "archived", "missing", *_IN_ORDER), False),  # near:, by its box
        )


FILE_PATH_INDEX = "file_rel_path"  # see File.Meta


class File(BaseModel):
    """One physical file under a root: what it is, what was read from it, which stage versions
    produced that, and which photo it belongs to."""

    root = ForeignKeyField(Root, backref="files", on_delete="RESTRICT")
    rel_path = TextField()  # for display; undecodable bytes replaced
    rel_path_raw = BlobField()  # the exact bytes, for the file system
    path_key = FixedCharField(32)  # digest of rel_path_raw: unique per root
    stem_key = FixedCharField(32, index=True)  # digest of folder + lower-case base name
    size = BigIntegerField()
    mtime_ns = BigIntegerField()
    hash = FixedCharField(64, null=True, index=True)  # BLAKE3 of the content, hex
    mime = CharField(100, null=True)
    role = CharField(16)  # original, raw, live-video, sidecar
    status = CharField(16, default="present")  # present, missing, error
    content_id = CharField(100, null=True, index=True)  # Live Photo pairing
    meta = LongTextField(null=True)  # JSON of the normalised metadata
    v_identify = SmallIntegerField(default=0)
    v_metadata = SmallIntegerField(default=0)
    v_renditions = SmallIntegerField(default=0)
    rendered = BooleanField(default=False)  # the cache holds this content's renditions
    indexed_at = DateTimeField(default=utcnow)
    photo = ForeignKeyField(Photo, backref="files", null=True, on_delete="SET NULL")
    photo_id: int | None
    root_id: int

    class Meta:
        # also an index on `rel_path` (its first 255 characters on MariaDB, which indexes no
        # whole TEXT), for `folder:`: made by migration 13, as Peewee cannot declare a prefix.
        # (v_renditions, id): the files waiting for their renditions, newest first (migration 16)
        indexes = ((("root", "path_key"), True), (("v_renditions", "id"), False))


class IngestError(BaseModel):
    """A file that a stage could not handle, as of the latest attempt."""

    root = ForeignKeyField(Root, on_delete="CASCADE")
    rel_path = TextField()
    path_key = FixedCharField(32)
    stage = CharField(16)
    message = TextField()
    created_at = DateTimeField(default=utcnow)
    root_id: int

    class Meta:
        indexes = ((("root", "path_key"), False),)


class QueuedPath(BaseModel):
    """A durable job: this path needs (re)indexing. Written before the work starts, so a crash
    loses nothing. `generation` grows with every request, so a path changed again while a
    daemon works on it is indexed once more afterwards."""

    root = ForeignKeyField(Root, on_delete="CASCADE")
    rel_path_raw = BlobField()
    path_key = FixedCharField(32)
    reason = CharField(16)  # upload, watch
    due_at = DateTimeField(index=True)  # not before: a file must be quiet first
    generation = IntegerField(default=1)
    claimed_by = CharField(64, null=True)
    claimed_at = DateTimeField(null=True)
    claimed_generation = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow)
    root_id: int

    class Meta:
        indexes = ((("root", "path_key"), True),)


class Upload(BaseModel):
    """An SFTP upload whose client has not closed the file yet. A connection that drops leaves
    the row, so the partial file is not indexed (not even by the scan after a restart) until
    a resumed upload closes it."""

    root = ForeignKeyField(Root, on_delete="CASCADE")
    rel_path_raw = BlobField()
    path_key = FixedCharField(32)
    account = CharField(64)
    started_at = DateTimeField(default=utcnow)
    root_id: int

    class Meta:
        indexes = ((("root", "path_key"), True),)


class DaemonState(BaseModel):
    """What one running daemon process last said of itself, for `shoebox status`: it writes
    its row when its state changes and at least every minute, so a row that stops moving
    belongs to a daemon that hangs or died."""

    worker = CharField(64, unique=True)  # host/pid/random: the claims in the queue carry it
    host = CharField(255)
    pid = IntegerField()
    started_at = DateTimeField(default=utcnow)
    seen_at = DateTimeField(default=utcnow)
    state = CharField(32)  # scanning, indexing, idle, waiting for the catalog, stopping
    detail = TextField(default="{}")  # JSON: helpers' health, roots left alone, counts


class Session(BaseModel):
    """A viewer login. The cookie holds a random token; only its SHA-256 is stored, so a copy
    of the catalog logs nobody in. Kept in the catalog so several viewers share logins."""

    token_hash = FixedCharField(64, unique=True)
    account = ForeignKeyField(Account, on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    account_id: int


class Album(BaseModel):
    title = CharField(255)
    cover = ForeignKeyField(Photo, null=True, on_delete="SET NULL")
    created_by = ForeignKeyField(Account, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    cover_id: int | None


class AlbumPhoto(BaseModel):
    album = ForeignKeyField(Album, backref="entries", on_delete="CASCADE")
    photo = ForeignKeyField(Photo, on_delete="CASCADE", index=True)
    added_at = DateTimeField(default=utcnow)
    album_id: int
    photo_id: int

    class Meta:
        indexes = ((("album", "photo"), True),)


class Share(BaseModel):
    """A link for visitors to one photo, one album or one saved search. The token (at least
    128 random bits) is the link's secret; it is kept so that the link can be shown again.
    A visitor sees the pictures, dates, titles and places by city; `show_location` adds the
    position, `show_details` the camera and exposure, `show_people` the names of the people
    in them, `allow_download` the originals (see `shoebox.catalog.shares`)."""

    token = CharField(64, unique=True)
    kind = CharField(16)  # photo, album, search
    photo = ForeignKeyField(Photo, null=True, on_delete="CASCADE")
    album = ForeignKeyField(Album, null=True, on_delete="CASCADE")
    query = TextField(null=True)
    title = CharField(255, null=True)
    password_hash = TextField(null=True)
    expires_at = DateTimeField(null=True)
    max_views = IntegerField(null=True)
    views = IntegerField(default=0)
    allow_download = BooleanField(default=False)
    show_location = BooleanField(default=False)
    show_details = BooleanField(default=False)
    show_people = BooleanField(default=False)
    revoked_at = DateTimeField(null=True)
    created_by = ForeignKeyField(Account, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    photo_id: int | None
    album_id: int | None
    created_by_id: int | None


class ShareVisitor(BaseModel):
    """A visitor a share has counted as one view: the SHA-256 of the random cookie its
    browser holds. A used-up share still serves the visitors it counted."""

    share = ForeignKeyField(Share, on_delete="CASCADE")
    token_hash = FixedCharField(64, unique=True)
    created_at = DateTimeField(default=utcnow)
    share_id: int


class ApiToken(BaseModel):
    """A personal access token for scripts (`Authorization: Bearer`), acting as its account,
    reading only or also changing (`scope`). Only the SHA-256 of the token is stored."""

    name = CharField(64, unique=True)
    account = ForeignKeyField(Account, on_delete="CASCADE")
    scope = CharField(8)  # read, write
    token_hash = FixedCharField(64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    account_id: int


class Secret(BaseModel):
    """Random keys made once per catalog, so that every viewer process of one catalog signs
    and checks the same cookies."""

    name = CharField(64, unique=True)
    value = FixedCharField(64)  # 32 random bytes, hex


class PhotoText(BaseModel):
    """A photo's title, description, keywords, camera, artist and file paths in one lower-case
    column, for the search's bare words (see `shoebox.catalog.text`)."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE", unique=True)
    text = LongTextField()
    photo_id: int


class PhotoCount(BaseModel):
    """How many photos share a month, an owner, a visibility and whether the timeline lists
    them: a few thousand rows that answer the timeline's total and its month column without
    counting a million photos. Kept by triggers on `photo` (migration 15), read by
    `shoebox.catalog.counts`; a row whose count falls to 0 is deleted, so the table is
    exactly what a GROUP BY over `photo` gives (and a backup leaves it out)."""

    year = SmallIntegerField()
    month = SmallIntegerField()
    owner_key = IntegerField()  # the owner's id; 0 for a photo without one
    visibility = CharField(16)
    listed = BooleanField()  # neither archived nor missing, and not a burst's other shot
    photos = IntegerField()

    class Meta:
        table_name = "photo_count"
        primary_key = CompositeKey("year", "month", "owner_key", "visibility", "listed")


class PhotoWord(BaseModel):
    """One word of a photo's text (`PhotoText`): a run of letters and digits, lower case, cut
    to 64 characters. The index that finds a bare search word's photos without reading every
    photo's text (see `shoebox.catalog.text`)."""

    word = CharField(64)
    photo = ForeignKeyField(Photo, on_delete="CASCADE", index=True)
    photo_id: int

    class Meta:
        # not unique: MariaDB's collations hold "noël" and "noel" for one word, and a photo
        # may have both
        indexes = ((("word", "photo"), False),)


class Enriched(BaseModel):
    """Which version of a later stage (places, faces, labels) has run on a photo. These stages
    run after a photo is in the catalog, so it is visible before they are done; a photo with
    no row, or an older version, is waiting for that stage."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE")
    stage = CharField(16)
    version = SmallIntegerField()
    done_at = DateTimeField(default=utcnow)
    photo_id: int

    class Meta:
        indexes = ((("stage", "photo"), True),)


class Place(BaseModel):
    """Where a geotagged photo was taken, in words: from offline GeoNames data."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE", unique=True)
    country_code = FixedCharField(2, null=True)  # ISO 3166-1 alpha-2
    country = CharField(100, null=True)
    region = CharField(100, null=True)  # state, province
    city = CharField(100, null=True)
    photo_id: int

    class Meta:
        indexes = ((("country_code", "city"), False), (("city",), False))


class Person(BaseModel):
    """Someone whose face appears in photos; unnamed until a person names them."""

    name = CharField(100, null=True, index=True)
    hidden = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)


class Face(BaseModel):
    """One face found in a photo: its box (fractions of the upright image), the detector's
    score, its embedding, and whose it is (null while it waits among the unknown)."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE", index=True)
    x = FloatField()
    y = FloatField()
    width = FloatField()
    height = FloatField()
    score = FloatField()
    embedding = BlobField()  # float32 values
    person = ForeignKeyField(Person, null=True, on_delete="SET NULL", index=True)
    confirmed = BooleanField(default=False)  # a person put it there, not the clustering
    created_at = DateTimeField(default=utcnow)
    photo_id: int
    person_id: int | None


class FaceRejection(BaseModel):
    """ "Not this person": remembered, so clustering never puts the face there again."""

    face = ForeignKeyField(Face, on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="CASCADE")
    face_id: int
    person_id: int

    class Meta:
        indexes = ((("face", "person"), True),)


class NotFace(BaseModel):
    """A box on a photo that a person said is not a face (a cat, a pattern): its face was
    deleted, and the faces stage never makes a face there again."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE", index=True)
    x = FloatField()
    y = FloatField()
    width = FloatField()
    height = FloatField()
    created_at = DateTimeField(default=utcnow)
    photo_id: int


class Suggestion(BaseModel):
    """Unknown faces alike enough to be one person but too few for the clustering to make one
    (`[faces] min_cluster`): offered as "same person?". A person's "no" is kept
    (`dismissed`), so the same faces are not offered again."""

    dismissed = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)


class SuggestionFace(BaseModel):
    """A face of a suggestion (a face is in one suggestion at most)."""

    suggestion = ForeignKeyField(Suggestion, on_delete="CASCADE", index=True)
    face = ForeignKeyField(Face, on_delete="CASCADE", unique=True)
    suggestion_id: int
    face_id: int


class Label(BaseModel):
    """What a photo shows, in a family's words (beach, dog, snow), with the confidence."""

    photo = ForeignKeyField(Photo, on_delete="CASCADE")
    name = CharField(64)
    confidence = FloatField()
    photo_id: int

    class Meta:
        indexes = ((("photo", "name"), True), (("name", "confidence"), False))


class FailureCount(BaseModel):
    """Password attempts counted for back-off (`shoebox.guard`): one row per address, account
    or share link, kept in the catalog so that every viewer process and the SFTP endpoint count
    together. Rows quiet for long are deleted."""

    key = FixedCharField(64, unique=True)  # SHA-256 of scope and subject
    scope = CharField(16)  # login-address, login-account, share-address, share-link
    subject = CharField(255)  # the address, account name or link id, cut to fit
    failures = IntegerField(default=0)
    last_at = FloatField(index=True)  # seconds since the epoch of the last attempt counted


class PendingWrite(BaseModel):
    """Something the family changed (a photo's flags or faces, an album) that the daemon has
    yet to write beside the library: the durable "to write" list of `shoebox.catalog.outbox`.
    `target` is a photo's or an album's id; an album that is gone has its files removed."""

    kind = CharField(8)  # photo, album
    target = BigIntegerField()
    marked_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "target"), True),)


class PhotoEdit(BaseModel):
    """What a member set by hand on a photo (`shoebox.edits`): each field wins over every
    file and sidecar; None is "not edited" (an empty title or keyword list is an edit)."""

    photo = ForeignKeyField(Photo, unique=True, on_delete="CASCADE")
    taken_at_local = DateTimeField(null=True)  # the wall clock, with `zone`
    zone = CharField(64, null=True)  # an IANA name ("Europe/Paris") or an offset ("+02:00")
    lat = FloatField(null=True)
    lng = FloatField(null=True)
    place_name = CharField(200, null=True)  # the place typed, as found (GeoNames)
    title = TextField(null=True)
    description = TextField(null=True)
    keywords = TextField(null=True)  # JSON list
    edited_by = ForeignKeyField(Account, null=True, on_delete="SET NULL")
    edited_at = DateTimeField(default=utcnow)
    edited_by_id: int | None


MODELS: tuple[type[BaseModel], ...] = (
    Root,
    Photo,
    File,
    IngestError,
    QueuedPath,
    Account,
    Upload,
    Session,
    Album,
    AlbumPhoto,
    Share,
    ShareVisitor,
    ApiToken,
    Secret,
    PhotoText,
    PhotoWord,
    PhotoCount,
    Enriched,
    Place,
    Person,
    Face,
    FaceRejection,
    Label,
    DaemonState,
    FailureCount,
    NotFace,
    Suggestion,
    SuggestionFace,
    PendingWrite,
    PhotoEdit,
)
