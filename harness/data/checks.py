"""The invariants one slice can check by itself (mpd-facts §1), vectorised over its playlists.

A slice is first flattened (`FlatSlice`: every track occurrence in playlist order, with the
artist, album and track URIs numbered locally in order of first appearance); each check is then
a mask of bad playlists with a message for each. The sampling rules (5..250 tracks, followers
≥ 1, ...) are not enforced, so subsets and hand-made slices load. Checks that need every earlier
slice (a pid seen before, a track URI whose artist changed) are the merger's (`merge.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.data.keys import uri_keys
from harness.data.slices import Playlist, Track

# A check: (bad playlists mask (n,), field, message for playlist index i).
Check = tuple[NDArray[np.bool_], str, Callable[[int], str]]


def factorize(values: list[str]) -> tuple[NDArray[np.int32], list[str]]:
    """Codes (first-appearance order) and the distinct values; a dict is faster than pandas here."""
    d: dict[str, int] = {}
    codes = np.array([d.setdefault(v, len(d)) for v in values], dtype=np.int32)
    return codes, list(d)


def first_index(codes: NDArray[np.int32]) -> NDArray[np.int64]:
    """Index of the first occurrence of each code, for codes numbered in first-appearance order."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return np.flatnonzero(new)


@dataclass
class FlatSlice:
    """The playlists of a slice with their track occurrences flattened, in playlist order."""

    playlists: list[Playlist]  # (n,)
    flat: list[Track]  # (n_occ,)
    lengths: NDArray[np.int64]  # (n,)
    starts: NDArray[np.int64]  # (n + 1,) first occurrence of each playlist
    pl_of: NDArray[np.int64]  # (n_occ,) playlist index of each occurrence
    occ: NDArray[np.int32]  # (n_occ,) local track id
    art_occ: NDArray[np.int32]  # (n_occ,) local artist id
    alb_occ: NDArray[np.int32]  # (n_occ,) local album id
    tr_uri: list[str]  # (n_t,) distinct track URIs, in first-appearance order
    ar_uri: list[str]  # (n_a,)
    al_uri: list[str]  # (n_b,)
    first: NDArray[np.int64]  # (n_t,) first occurrence of each local track
    # kind -> (keys (n_distinct, 3) of the distinct URIs, which of them are malformed)
    keys: dict[str, tuple[NDArray[np.uint64], NDArray[np.bool_]]]
    dur_occ: NDArray[np.int64]  # (n_occ,) duration_ms as given at each occurrence
    pos: NDArray[np.int64]  # (n_occ,) pos as given

    @classmethod
    def of(cls, playlists: list[Playlist]) -> FlatSlice:
        n = len(playlists)
        lengths = np.array([len(p.tracks) for p in playlists], dtype=np.int64)
        flat = [t for p in playlists for t in p.tracks]
        occ, tr_uri = factorize([t.track_uri for t in flat])
        art_occ, ar_uri = factorize([t.artist_uri for t in flat])
        alb_occ, al_uri = factorize([t.album_uri for t in flat])
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return cls(
            playlists=playlists,
            flat=flat,
            lengths=lengths,
            starts=starts,
            pl_of=np.repeat(np.arange(n), lengths),
            occ=occ,
            art_occ=art_occ,
            alb_occ=alb_occ,
            tr_uri=tr_uri,
            ar_uri=ar_uri,
            al_uri=al_uri,
            first=first_index(occ),
            keys={
                kind: uri_keys(uris, kind)
                for kind, uris in (("track", tr_uri), ("artist", ar_uri), ("album", al_uri))
            },
            dur_occ=np.array([t.duration_ms for t in flat], dtype=np.int64),
            pos=np.array([t.pos for t in flat], dtype=np.int64),
        )

    @property
    def n(self) -> int:
        return len(self.playlists)

    def column(self, attr: str) -> NDArray[np.int64]:
        """A numeric playlist field, (n,)."""
        return np.array([getattr(p, attr) for p in self.playlists], dtype=np.int64)

    def per_playlist(self, bad_occ: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Playlists holding at least one bad occurrence, (n,)."""
        return np.bincount(self.pl_of[bad_occ], minlength=self.n) > 0

    def first_bad_track(self, i: int, bad_occ: NDArray[np.bool_]) -> int:
        """Position within playlist `i` of its first bad occurrence."""
        return int(np.flatnonzero(bad_occ[self.starts[i] : self.starts[i + 1]])[0])


def find_problems(f: FlatSlice, pid_range: tuple[int, int] | None = None) -> list[Check]:
    """Every invariant of mpd-facts §1 that a single slice can check, in reporting order;
    `pid_range` (first, last) from a slice named `mpd.slice.<first>-<last>.json`."""
    checks = [*_count_checks(f), *_uri_checks(f), *_consistency_checks(f), *_field_checks(f)]
    return [*_shape_checks(f, pid_range), *checks]


def _shape_checks(f: FlatSlice, pid_range: tuple[int, int] | None) -> list[Check]:
    """A playlist has tracks, and its pid lies in the range its slice's name promises."""
    checks: list[Check] = [
        (f.lengths == 0, "tracks", lambda i: "is empty: a playlist needs at least one track")
    ]
    if pid_range is not None:
        first, last = pid_range
        pids = f.column("pid")
        checks.append(
            (
                (pids < first) | (pids > last),
                "pid",
                lambda i: f"{pids[i]} is outside {first}-{last}, the range of the slice's name",
            )
        )
    return checks


def _count_checks(f: FlatSlice) -> list[Check]:
    """num_tracks, pos, duration_ms, num_artists and num_albums agree with the tracks."""
    num_tracks, lengths = f.column("num_tracks"), f.lengths
    checks: list[Check] = [
        (
            num_tracks != lengths,
            "num_tracks",
            lambda i: f"is {num_tracks[i]} but there are {lengths[i]} tracks",
        )
    ]
    bad_pos = f.pos != np.arange(len(f.pos)) - f.starts[f.pl_of]
    checks.append(
        (
            f.per_playlist(bad_pos),
            "tracks[].pos",
            lambda i: (
                f"tracks[{(j := f.first_bad_track(i, bad_pos))}].pos is "
                f"{f.pos[f.starts[i] + j]}, expected {j}"
            ),
        )
    )
    csum = np.concatenate([[0], np.cumsum(f.dur_occ)])
    dur_sum = csum[f.starts[1:]] - csum[f.starts[:-1]]  # (n,)
    duration = f.column("duration_ms")
    checks.append(
        (
            duration != dur_sum,
            "duration_ms",
            lambda i: f"is {duration[i]} but the tracks sum to {dur_sum[i]}",
        )
    )
    for attr, codes, n_codes in (
        ("num_artists", f.art_occ, len(f.ar_uri)),
        ("num_albums", f.alb_occ, len(f.al_uri)),
    ):
        width = max(n_codes, 1)
        distinct = np.bincount(np.unique(f.pl_of * width + codes) // width, minlength=f.n)
        stated = f.column(attr)
        message = partial(_count_message, stated=stated, distinct=distinct, kind=attr[4:-1])
        checks.append((stated != distinct, attr, message))
    return checks


def _uri_checks(f: FlatSlice) -> list[Check]:
    """Track, artist and album URIs are `spotify:<kind>:` + 22 base-62 characters."""
    checks: list[Check] = []
    for kind, codes in (("track", f.occ), ("artist", f.art_occ), ("album", f.alb_occ)):
        bad_u = f.keys[kind][1]
        if bad_u.any():
            bad_occ = bad_u[codes]
            message = partial(_uri_message, f=f, bad_occ=bad_occ, kind=kind)
            checks.append((f.per_playlist(bad_occ), f"tracks[].{kind}_uri", message))
    return checks


def _consistency_checks(f: FlatSlice) -> list[Check]:
    """A track URI names one artist and album: each occurrence is compared with the first.

    (A differing duration_ms is only counted, in Merger: no metric uses it, and the challenge
    facts promise one *name* per URI, not one duration.)
    """
    checks: list[Check] = []
    same: tuple[tuple[str, NDArray[np.integer[Any]]], ...] = (
        ("artist_uri", f.art_occ),
        ("album_uri", f.alb_occ),
    )
    for what, values in same:
        bad_occ = values != values[f.first][f.occ]
        if bad_occ.any():
            message = partial(_inconsistent, f=f, bad_occ=bad_occ, what=what)
            checks.append((f.per_playlist(bad_occ), f"tracks[].{what}", message))
    return checks


def _field_checks(f: FlatSlice) -> list[Check]:
    """A name, a valid collaborative flag, and a pid not repeated within the slice."""
    playlists = f.playlists
    empty = np.array([not p.name for p in playlists], dtype=bool)
    bad_c = np.array(
        [
            isinstance(p.collaborative, str) and p.collaborative not in ("true", "false")
            for p in playlists
        ],
        dtype=bool,
    )
    pids = f.column("pid")
    order = np.argsort(pids, kind="stable")
    dup_sorted = np.zeros(f.n, dtype=bool)
    dup_sorted[1:] = pids[order][1:] == pids[order][:-1]
    dup = np.zeros(f.n, dtype=bool)
    dup[order] = dup_sorted
    return [
        (empty, "name", lambda i: "is empty"),
        (
            bad_c,
            "collaborative",
            lambda i: f'is {playlists[i].collaborative!r}, not "true"/"false"',
        ),
        (dup, "pid", lambda i: f"{pids[i]} appears earlier in the same slice"),
    ]


def _count_message(
    i: int, stated: NDArray[np.int64], distinct: NDArray[np.int64], kind: str
) -> str:
    return f"is {stated[i]} but the tracks have {distinct[i]} distinct {kind}_uri"


def _uri_message(i: int, f: FlatSlice, bad_occ: NDArray[np.bool_], kind: str) -> str:
    j = f.first_bad_track(i, bad_occ)
    uri = getattr(f.flat[f.starts[i] + j], f"{kind}_uri")
    return f"tracks[{j}].{kind}_uri {uri!r} is not spotify:{kind}: + 22 base-62 characters"


def _inconsistent(i: int, f: FlatSlice, bad_occ: NDArray[np.bool_], what: str) -> str:
    j = f.first_bad_track(i, bad_occ)
    t = f.flat[f.starts[i] + j]
    first = f.flat[f.first[f.occ[f.starts[i] + j]]]
    return (
        f"tracks[{j}] ({t.track_uri}) has {what} {getattr(t, what)!r}, but "
        f"{getattr(first, what)!r} earlier in this slice"
    )
