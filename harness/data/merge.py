"""Merging parsed slices, in file order, into one Corpus with global ids.

Slice-local ids become global ids in order of first appearance (the same ids as
`Corpus.from_playlists`). The checks that need every earlier slice live here: a pid seen in an
earlier slice, a track URI whose artist or album differs from an earlier slice's. A track whose
duration_ms differs between occurrences is counted (the first value is kept), not rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.data.corpus import Corpus
from harness.data.keys import KeyTable, Packed, render
from harness.data.parse import SliceResult
from harness.errors import DataError

MAX_EXAMPLES = 5  # skipped-playlist messages kept in corpus.source


class _Column:
    """A growable numpy column (amortised doubling)."""

    def __init__(self, dtype: type) -> None:
        self.buf: NDArray[Any] = np.empty(1024, dtype=dtype)
        self.n = 0

    def extend(self, values: NDArray[Any]) -> None:
        need = self.n + len(values)
        if need > len(self.buf):
            grown = np.empty(max(need, 2 * len(self.buf)), dtype=self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : need] = values
        self.n = need

    @property
    def view(self) -> NDArray[Any]:
        return self.buf[: self.n]


@dataclass
class _Table:
    """URI key -> global id, with the names, in first-appearance order."""

    kind: str  # track, artist or album
    index: KeyTable = field(default_factory=KeyTable)
    names: list[str] = field(default_factory=list)

    def lookup(self, keys: NDArray[np.uint64]) -> NDArray[np.int64]:
        """Global ids of `keys` (n, 3), -1 where unknown (nothing is added)."""
        return self.index.lookup(keys)

    def add(
        self, keys: NDArray[np.uint64], names: Packed, ids: NDArray[np.int64]
    ) -> NDArray[np.int32]:
        """Complete `ids` (from `lookup` of distinct `keys`): the unknown get new ids in order."""
        self.names.extend(names.take(np.flatnonzero(ids < 0)))
        return self.index.add(keys, ids)

    def uri(self, g: int) -> str:
        return render(self.index.keys[g : g + 1], self.kind)[0]

    def uris(self) -> list[str]:
        return render(self.index.keys, self.kind)


class Merger:
    """Maps slice-local ids to global ids, checking what needs every earlier slice."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.tracks, self.artists, self.albums = _Table("track"), _Table("artist"), _Table("album")
        self.t_art, self.t_alb, self.t_dur = _Column(np.int32), _Column(np.int32), _Column(np.int64)
        self.pid_seen: set[int] = set()
        self.pid_file: list[tuple[str, NDArray[np.int64]]] = []
        self.parts: list[SliceResult] = []  # playlist columns, occ replaced by global ids
        self.skipped: list[str] = []
        self.n_skipped = 0
        self.synthetic = False
        self.n_bytes = 0
        self.dur_conflicts = 0  # occurrences whose duration_ms differs from the one kept
        self.dur_example: str | None = None

    def add(self, r: SliceResult) -> None:
        self.n_skipped += len(r.skipped)
        self.skipped.extend(r.skipped[: max(0, MAX_EXAMPLES - len(self.skipped))])
        self.synthetic |= r.synthetic
        self.n_bytes += r.n_bytes
        ids = self._lookup(r)
        bad, msgs = self._cross_slice_problems(r, *ids)
        if bad.any():
            if not self.lenient:
                raise DataError(msgs[0])
            self.n_skipped += int(bad.sum())
            self.skipped.extend(msgs[: max(0, MAX_EXAMPLES - len(self.skipped))])
            r = r.subset(~bad)
            ids = self._lookup(r)
        self._commit(r, *ids)

    def _lookup(self, r: SliceResult) -> tuple[NDArray[np.int64], ...]:
        """Global ids of the slice's tracks, artists and albums; -1 for new ones."""
        return (
            self.tracks.lookup(r.tr_key),
            self.artists.lookup(r.ar_key),
            self.albums.lookup(r.al_key),
        )

    def _cross_slice_problems(
        self,
        r: SliceResult,
        gt: NDArray[np.int64],
        ga: NDArray[np.int64],
        gb: NDArray[np.int64],
    ) -> tuple[NDArray[np.bool_], list[str]]:
        """Playlists whose pid was seen in an earlier slice or whose tracks disagree with one.

        `gt`, `ga`, `gb`: global ids of the local tracks, artists, albums (-1: new).
        """
        n = len(r.pids)
        seen = self.pid_seen
        dup = np.array([p in seen for p in r.pids.tolist()], dtype=bool)
        known = gt >= 0  # (n_t,)
        bad_t = np.zeros(len(gt), dtype=bool)
        what: dict[int, str] = {}
        if known.any():
            g = gt[known]
            for col, ours, label in (
                (self.t_art, ga[r.tr_art], "artist_uri"),
                (self.t_alb, gb[r.tr_alb], "album_uri"),
            ):
                diff = np.zeros(len(gt), dtype=bool)
                diff[known] = col.view[g] != ours[known]
                for j in np.flatnonzero(diff & ~bad_t).tolist():
                    what[j] = label
                bad_t |= diff
        bad_occ = bad_t[r.occ]
        pl_of = np.repeat(np.arange(n), r.lengths)
        inconsistent = np.bincount(pl_of[bad_occ], minlength=n) > 0
        bad = dup | inconsistent
        msgs = []
        starts = np.concatenate([[0], np.cumsum(r.lengths)])
        for i in np.flatnonzero(bad).tolist():
            head = f"{r.name}: playlist pid {r.pids[i]} (playlists[{r.index[i]}])"
            if dup[i]:
                msgs.append(
                    f"{head}: pid: {r.pids[i]} already appears in {self._file_of(r.pids[i])}"
                )
                continue
            local = r.occ[starts[i] : starts[i + 1]]
            j = int(np.flatnonzero(bad_t[local])[0])
            t = int(local[j])
            msgs.append(
                f"{head}: tracks[{j}].{what[t]}: track {r.uri('track', t)} "
                f"{self._describe(r, t, what[t])} here but {self._describe_global(int(gt[t]), what[t])} "
                "in an earlier slice"
            )
        return bad, msgs

    def _describe(self, r: SliceResult, t: int, what: str) -> str:
        if what == "artist_uri":
            return f"has artist {r.uri('artist', int(r.tr_art[t]))}"
        return f"has album {r.uri('album', int(r.tr_alb[t]))}"

    def _describe_global(self, g: int, what: str) -> str:
        if what == "artist_uri":
            return self.artists.uri(int(self.t_art.view[g]))
        return self.albums.uri(int(self.t_alb.view[g]))

    def _file_of(self, pid: int) -> str:
        for name, pids in self.pid_file:
            if (pids == pid).any():
                return name
        return "an earlier slice"

    def _commit(
        self, r: SliceResult, gt: NDArray[np.int64], ga: NDArray[np.int64], gb: NDArray[np.int64]
    ) -> None:
        new = gt < 0  # (n_t,)
        ga32 = self.artists.add(r.ar_key, r.ar_name, ga)
        gb32 = self.albums.add(r.al_key, r.al_name, gb)
        gt32 = self.tracks.add(r.tr_key, r.tr_name, gt)
        self.t_art.extend(ga32[r.tr_art[new]])
        self.t_alb.extend(gb32[r.tr_alb[new]])
        self.t_dur.extend(r.tr_dur[new])
        self._count_duration_conflicts(r, gt32)
        self.pid_seen.update(r.pids.tolist())
        self.pid_file.append((r.name, r.pids))
        r.occ = gt32[r.occ]
        # fresh empties, not [:0] views: a view would keep each slice's arrays alive
        r.tr_key = r.ar_key = r.al_key = np.zeros((0, 3), dtype=np.uint64)
        r.tr_name = r.ar_name = r.al_name = Packed.of([])
        self.parts.append(r)

    def _count_duration_conflicts(self, r: SliceResult, gt32: NDArray[np.int32]) -> None:
        """Count occurrences whose duration_ms differs from the track's first (kept) one."""
        kept = self.t_dur.view[gt32[r.occ]]  # (n_occ,) the value the corpus keeps
        diff = kept != r.occ_dur
        if diff.any():
            self.dur_conflicts += int(diff.sum())
            if self.dur_example is None:
                k = int(np.flatnonzero(diff)[0])
                i = int(np.searchsorted(np.cumsum(r.lengths), k, side="right"))
                j = k - int(r.lengths[:i].sum())
                self.dur_example = (
                    f"{r.name}: playlist pid {r.pids[i]} (playlists[{r.index[i]}]): "
                    f"tracks[{j}] ({r.uri('track', int(r.occ[k]))}) has duration_ms {r.occ_dur[k]}, "
                    f"kept {kept[k]} from its first occurrence"
                )
        r.occ_dur = np.zeros(0, dtype=np.int64)  # not needed after this (a [:0] view would keep it)

    def build(self, source: dict[str, Any]) -> Corpus:
        parts = self.parts
        lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        def cat(attr: str, dtype: type) -> NDArray[Any]:
            if not parts:
                return np.zeros(0, dtype=dtype)
            return np.concatenate([getattr(p, attr) for p in parts]).astype(dtype, copy=False)

        def obj(xs: list[Any]) -> NDArray[np.object_]:
            out = np.empty(len(xs), dtype=object)
            out[:] = xs
            return out

        return Corpus(
            pids=cat("pids", np.int64),
            offsets=offsets,
            track_ids=cat("occ", np.int32),
            names=obj([x for p in parts for x in p.names]),
            descriptions=obj([x for p in parts for x in p.descriptions]),
            collaborative=cat("collaborative", np.bool_),
            modified_at=cat("modified_at", np.int64),
            num_followers=cat("num_followers", np.int32),
            num_edits=cat("num_edits", np.int32),
            track_uris=obj(self.tracks.uris()),
            track_names=obj(self.tracks.names),
            track_artist=self.t_art.view.copy(),
            track_album=self.t_alb.view.copy(),
            track_duration=self.t_dur.view.copy(),
            artist_uris=obj(self.artists.uris()),
            artist_names=obj(self.artists.names),
            album_uris=obj(self.albums.uris()),
            album_names=obj(self.albums.names),
            source=source,
        )
