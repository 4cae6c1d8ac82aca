"""`popular`: the most frequent tracks in training, the same list for every query (minus seeds)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Self

from models.base import IntArray, Queries, Recommender, TrainSet


def popularity_ranking(train: TrainSet) -> IntArray:
    """All track ids seen in training, most frequent first (ties: lower id first)."""
    counts = np.bincount(train.track_ids, minlength=train.n_tracks)
    seen = np.flatnonzero(counts)
    order = np.lexsort((seen, -counts[seen]))
    return seen[order].astype(np.int32)


def exclude_and_cut(ranking: IntArray, exclude: NDArray[np.integer], k: int) -> IntArray:
    """The first k ids of `ranking` not in `exclude`, padded with -1."""
    out = np.full(k, -1, dtype=np.int32)
    head = ranking[: k + len(exclude)]
    if len(exclude):
        head = head[~np.isin(head, exclude)]
    head = head[:k]
    out[: len(head)] = head
    return out


class PopularRecommender(Recommender):
    """Most popular tracks. Answers seedless queries itself (the same list)."""

    determinism_note = "always: counting only, ties go to the lower track id"

    cold_start = "model"

    def _fit(self, train: TrainSet) -> Self:
        self.ranking_ = popularity_ranking(train)
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.empty((len(queries), k), dtype=np.int32)
        for i in range(len(queries)):
            out[i] = exclude_and_cut(self.ranking_, queries.seeds(i), k)
        return out
