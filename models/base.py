"""The one small recommender interface, and the two data types it speaks.

`fit(train) -> self` learns from training playlists; `recommend(queries, k)` returns an int32
array (n_queries, k) of track ids, best first, seeds excluded. A slot may hold -1 when a model
has fewer than k tracks to offer: the runner (not the model) checks the output and backfills
with popularity to exactly k, counting the backfill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from typing_extensions import Self

IntArray = NDArray[np.int32]


@dataclass(frozen=True)
class TrainSet:
    """Training playlists in CSR form; track ids index the whole corpus catalogue."""

    offsets: NDArray[np.int64]  # (n_playlists + 1,)
    track_ids: IntArray  # (n_occurrences,), playlist order
    titles: NDArray[np.object_]  # (n_playlists,) normalised titles (str)
    n_tracks: int  # catalogue size: every id is in [0, n_tracks)
    track_artist: IntArray  # (n_tracks,) artist id of each track
    track_album: IntArray  # (n_tracks,) album id of each track

    @property
    def n_playlists(self) -> int:
        return len(self.offsets) - 1

    def playlist(self, i: int) -> IntArray:
        return self.track_ids[self.offsets[i] : self.offsets[i + 1]]


@dataclass(frozen=True)
class Queries:
    """A batch of playlists to continue: seeds in CSR form plus title and category."""

    pids: NDArray[np.int64]  # (n,)
    seed_offsets: NDArray[np.int64]  # (n + 1,)
    seed_ids: IntArray  # (n_seeds,) track ids in seed order
    seed_pos: IntArray  # (n_seeds,) original positions of the seeds
    titles: NDArray[np.object_]  # (n,) normalised title, or None when the title is withheld
    categories: NDArray[np.int8]  # (n,) challenge category 1..10 (0 if unknown)

    def __len__(self) -> int:
        return len(self.pids)

    def seeds(self, i: int) -> IntArray:
        return self.seed_ids[self.seed_offsets[i] : self.seed_offsets[i + 1]]

    @property
    def n_seeds(self) -> NDArray[np.int64]:
        return np.diff(self.seed_offsets)

    def subset(self, idx: NDArray[np.int64]) -> Queries:
        """The queries at positions `idx` (order kept)."""
        lens = self.n_seeds[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        take = (
            np.concatenate([np.arange(self.seed_offsets[i], self.seed_offsets[i + 1]) for i in idx])
            if len(idx) and offsets[-1]
            else np.zeros(0, dtype=np.int64)
        )
        return Queries(
            pids=self.pids[idx],
            seed_offsets=offsets,
            seed_ids=self.seed_ids[take],
            seed_pos=self.seed_pos[take],
            titles=self.titles[idx],
            categories=self.categories[idx],
        )


class Recommender(BaseEstimator):  # type: ignore[misc]
    """Base class: constructor stores hyperparameters, `fit` learns state ending in `_`.

    Class attributes tell the runner how to treat the model:
    - `cold_start`: "model" if the model answers seedless queries itself, "title" if the runner
      should route them to the shared title baseline.
    - `deterministic`: same seed and data give byte-identical recommendations (under the
      settings in `determinism_note`).
    """

    cold_start: ClassVar[str] = "title"
    deterministic: ClassVar[bool] = True
    determinism_note: ClassVar[str] = ""

    def fit(self, train: TrainSet) -> Self:
        raise NotImplementedError

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        raise NotImplementedError


def top_k(scores: NDArray[np.floating], k: int) -> IntArray:
    """Indices of the k largest scores per row, best first; -1 where a score is -inf.

    scores: (n, m). Ties are broken by the lower index, so results are deterministic.
    """
    n, m = scores.shape
    kk = min(k, m)
    out = np.full((n, k), -1, dtype=np.int32)
    if kk == 0:
        return out
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]  # (n, kk) unordered
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    # sort by (-score, index): lexsort's last key is the primary one
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    idx[~np.isfinite(vals)] = -1
    out[:, :kk] = idx
    return out
