"""`item_knn`: track-based k-NN from playlist co-occurrence, top-M neighbours per track.

Fit computes the track × track similarity C_ij / (df_i^a df_j^(1-a) + shrink) (a = 0.5, shrink = 0:
the plain cosine of the binary track columns; C = co-occurrence counts, df = playlist counts)
track by track in a compiled kernel (models/cooc_kernel.py): one track's counts in a dense
accumulator, weighted and cut to its M best neighbours before the next track, blocks of tracks
on a thread each. The whole track × track product never exists, not even a block of it.
A query scores each track by the sum over its seeds of the seed's neighbour row (similarity^alpha);
seeds are removed and the top k taken from the nonzeros of each row.

Seedless queries are delegated to the shared title baseline (`cold_start = "title"`); called
directly on one, `recommend` returns a row of -1.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from typing_extensions import Self

from models.base import IntArray, Queries, Recommender, TrainSet, at_least, require
from models.cooc_kernel import fused_neighbours
from models.knn import query_matrix, recommend_rows, sparse_from_csr, work_batches


class ItemKNNRecommender(Recommender):
    """Item-item k-NN: each seed brings its M most similar tracks, weighted by similarity^alpha.

    Parameters
    ----------
    n_neighbors : neighbours M kept per track.
    alpha : exponent on the similarities when scoring (higher: trust the closest more).
    asymmetry : a in C_ij / (df_i^a df_j^(1-a) + shrink); 0.5 is the cosine, 1 the conditional
        probability P(j | i) (which favours popular j).
    shrink : added to the denominator, so that similarities resting on few co-occurrences
        (rare tracks, which the cosine rates highly) count less.
    work_budget : upper bound on the co-occurrence work of one block of tracks (progress and
        the unit of work a thread takes).
    threads : threads of the fit (0: every core); the result does not depend on it.
    """

    determinism_note = (
        "always: integer co-occurrence counts, each similarity one float32 formula, ties to the "
        "lower index; the thread count does not change the result"
    )

    cold_start = "title"

    def __init__(
        self,
        n_neighbors: int = 100,
        alpha: float = 1.0,
        asymmetry: float = 0.75,
        shrink: float = 20.0,
        work_budget: int = 20_000_000,
        threads: int = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.asymmetry = asymmetry
        self.shrink = shrink
        self.work_budget = work_budget
        self.threads = threads

    def check_params(self) -> None:
        at_least(self, "item_knn", {"n_neighbors": 1, "shrink": 0, "work_budget": 1, "threads": 0})
        a = self.asymmetry
        require("item_knn", ("asymmetry", a, 0.0 <= a <= 1.0, "in [0, 1]"))

    def _fit(self, train: TrainSet) -> Self:
        T = train.n_tracks
        B = sparse_from_csr(train.offsets, train.track_ids, T)  # (P, T) binary
        BT = B.T.tocsr()  # (T, P)
        df = np.diff(BT.indptr).astype(np.float64)  # (T,) playlists per track
        lens = np.diff(B.indptr).astype(np.float64)  # (P,)
        left = np.power(df, self.asymmetry, out=np.ones(T), where=df > 0)  # df_i^a
        right = np.power(df, 1.0 - self.asymmetry, out=np.ones(T), where=df > 0)  # df_j^(1-a)
        blocks = list(work_batches(BT @ lens, self.work_budget, max_rows=65536))
        self.sim_ = fused_neighbours(
            B, BT, left.astype(np.float32), right.astype(np.float32), self.shrink,
            self.n_neighbors, blocks, self.threads or os.cpu_count() or 1,
            lambda done, total: self._progress(done, total, "block"),
        )  # fmt: skip
        self.n_tracks_ = T
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return self.recommend_scored(queries, k)[0]

    def recommend_scored(
        self, queries: Queries, k: int = 500
    ) -> tuple[IntArray, NDArray[np.float32]]:
        """`recommend`'s (n, k) ids and their (n, k) summed similarities (NaN where -1)."""
        S = self.sim_
        if self.alpha != 1.0:
            S = S.copy()
            S.data = np.power(S.data, np.float32(self.alpha), dtype=np.float32)
        return neighbour_scores(S, queries, k, self.work_budget)


# ---------------------------------------------------------------- shared with rp3beta


def neighbour_scores(
    S: sp.csr_matrix, queries: Queries, k: int, budget: float
) -> tuple[IntArray, NDArray[np.float32]]:
    """Top k (n, k) of each query's summed seed rows of S (T, T), seeds excluded, -1 padded,
    and their (n, k) scores (NaN where -1)."""
    n = len(queries)
    out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
    out_scores = np.full((n, k), np.nan, dtype=np.float32)  # (n, k)
    with_seeds = np.flatnonzero(queries.n_seeds > 0)
    if not len(with_seeds):
        return out, out_scores
    T = S.shape[0]
    nnz_row = np.diff(S.indptr).astype(np.float64)  # (T,)
    seeds = np.clip(queries.seed_ids, 0, T - 1)
    work = np.add.reduceat(nnz_row[seeds], queries.seed_offsets[with_seeds]) + 1.0
    for sl in work_batches(work, budget, max_rows=1024):
        rows = with_seeds[sl]
        Q = query_matrix(queries, rows, T)  # (b, T)
        scores = (Q @ S).tocsr()  # (b, T) summed neighbour rows
        recommend_rows(scores, queries, rows, k, out, out_scores)
    return out, out_scores
