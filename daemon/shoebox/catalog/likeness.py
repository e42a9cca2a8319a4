"""Near-duplicates: photos that look the same (the same picture resized, re-saved by a
messenger, slightly cropped) at any time apart, as a viewer sees them, and keeping one of a
group while the others are archived (never deleted).

Two photos are near-duplicates when their difference hashes (`Photo.dhash`, written by the
likeness stage) differ by at most `NEAR_BITS` of 64. Candidates are found by splitting each
hash into four 16-bit quarters and pairing photos that share one exactly, then checking the
whole distance: every pair up to 3 bits apart is found (3 differing bits leave at least one
quarter whole), and nearly all the pairs further apart that copies give in
practice, without comparing every photo with every other. Photos of one burst are a burst,
not near-duplicates of each other; byte-identical files are already one photo.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shoebox.catalog import outbox, visibility
from shoebox.catalog.models import Photo, utcnow
from shoebox.errors import NotFound, UsageError

NEAR_BITS = 8
_QUARTERS = ((0, 0xFFFF), (16, 0xFFFF), (32, 0xFFFF), (48, 0xFFFF))


def distance(a: int, b: int) -> int:
    """How many of the 64 bits of two difference hashes differ."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def groups(viewer: visibility.Viewer) -> list[list[int]]:
    """Groups of near-duplicate photo ids the viewer sees (archived and missing ones aside),
    each in timeline order (newest first); the groups newest first."""
    rows = list(
        visibility.restrict(
            Photo.select(Photo.id, Photo.dhash, Photo.burst_of, Photo.taken_at).where(
                Photo.dhash.is_null(False),
                Photo.archived == False,  # noqa: E712
                Photo.missing == False,  # noqa: E712
            ),
            viewer,
        )
    )
    parent = {r.id: r.id for r in rows}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for shift, mask in _QUARTERS:
        buckets: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            buckets[(r.dhash >> shift) & mask].append(r)
        for bucket in buckets.values():
            for i, a in enumerate(bucket):
                for b in bucket[i + 1 :]:
                    same_burst = a.burst_of is not None and a.burst_of == b.burst_of
                    if not same_burst and distance(a.dhash, b.dhash) <= NEAR_BITS:
                        parent[find(a.id)] = find(b.id)
    found: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        found[find(r.id)].append(r)
    ordered = [
        sorted(g, key=lambda r: (r.taken_at, r.id), reverse=True)
        for g in found.values()
        if len(g) > 1
    ]
    ordered.sort(key=lambda g: (g[0].taken_at, g[0].id), reverse=True)
    return [[r.id for r in g] for g in ordered]


def review(viewer: visibility.Viewer) -> list[list[dict[str, Any]]]:
    """The viewer's near-duplicate groups (`groups`), each photo with what tells copies apart:
    its local date, size in pixels and sharpness."""
    found = groups(viewer)
    wanted = [i for group in found for i in group]
    rows = {
        p.id: p
        for p in Photo.select(
            Photo.id, Photo.taken_at_local, Photo.width, Photo.height, Photo.sharpness
        ).where(Photo.id.in_(wanted))
    }
    return [
        [
            {
                "id": i,
                "taken_at_local": rows[i].taken_at_local.isoformat(),
                "width": rows[i].width,
                "height": rows[i].height,
                "sharpness": round(rows[i].sharpness or 0.0, 1),
            }
            for i in group
        ]
        for group in found
    ]


def keep(viewer: visibility.Viewer, kept: Any, others: Any) -> list[int]:
    """Archive `others`, near-duplicates of `kept` that the viewer sees; the ids archived.
    Raises NotFound for a photo the viewer does not see, UsageError for one that is not in
    `kept`'s group. The ids come from a request's JSON: they are checked here."""
    if (
        not isinstance(kept, int)
        or isinstance(kept, bool)
        or not isinstance(others, list)
        or not others
    ):
        raise UsageError("send keep (a photo id) and archive (a list of photo ids)")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in others):
        raise UsageError("archive: photo ids (numbers)")
    group = next((g for g in groups(viewer) if kept in g), None)
    for photo_id in (kept, *others):
        if not visibility.can_see(viewer, photo_id):
            raise NotFound(f"no photo {photo_id}")
    if group is None or kept in others or not set(others) <= set(group):
        raise UsageError("archive: only near-duplicates of the photo kept")
    Photo.update(archived=True, updated_at=utcnow()).where(Photo.id.in_(others)).execute()
    outbox.mark("photo", others)  # its sidecars beside the library
    return sorted(others)
