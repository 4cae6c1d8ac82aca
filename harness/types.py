"""The data types the recommender interface speaks: training playlists, queries, and the
validation split some models learn from.

Apart from `models/base.py` (which defines `Recommender` on scikit-learn's `BaseEstimator`) so
that the data pipeline (split, challenge sets) can use them without importing scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

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
    # a challenge-style split of these playlists, for models that learn from held-out tracks
    # (None unless the run has one; the test split's ground truth is never here)
    validation: Validation | None = None

    @property
    def n_playlists(self) -> int:
        return len(self.offsets) - 1

    def playlist(self, i: int) -> IntArray:
        return self.track_ids[self.offsets[i] : self.offsets[i + 1]]

    def subset(self, keep: NDArray[np.bool_]) -> TrainSet:
        """The playlists where `keep` (n_playlists,) is True, in order; no validation."""
        lengths = np.diff(self.offsets)[keep]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        occ = np.repeat(keep, np.diff(self.offsets))  # (n_occurrences,)
        return replace(
            self,
            offsets=offsets,
            track_ids=self.track_ids[occ],
            titles=self.titles[keep],
            validation=None,
        )

    def without_validation(self) -> TrainSet:
        """The playlists a model may fit on while it learns from the validation queries: every
        training playlist except the validation ones (whose seeds come back as queries)."""
        keep = np.ones(self.n_playlists, dtype=bool)
        if self.validation is not None:
            keep[self.validation.rows] = False
        return self.subset(keep)


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


@dataclass(frozen=True)
class Validation:
    """A challenge-style split drawn from the training playlists only (`SPLIT_DIR/validation/`).

    Models that learn from held-out tracks (a reranker, tuning) fit on
    `train.without_validation()`, answer `queries` and learn from the held-out tracks here.
    """

    rows: NDArray[np.int64]  # (n,) rows of the TrainSet these playlists are
    queries: Queries  # (n,) their seeds, titles and categories
    holdout_offsets: NDArray[np.int64]  # (n + 1,)
    holdout_ids: IntArray  # (n_holdouts,) held-out track ids, position order
    fingerprint: str = ""

    def holdouts(self, i: int) -> IntArray:
        return self.holdout_ids[self.holdout_offsets[i] : self.holdout_offsets[i + 1]]
