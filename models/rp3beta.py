"""`rp3beta`: the three-step random walk item-item model with a popularity penalty (RP3beta,
Paudel et al. 2017, as in Dacrema et al.'s reproducibility study).

A walk track i -> playlist u -> track j has probability P_iu P_uj, with P_iu = 1 / df_i (one of
the df_i playlists holding i) and P_uj = 1 / len_u (one of u's tracks). Each step's probability
is raised to `alpha`, summed over the playlists, and the destination is penalised by its
popularity:

    W_ij = df_i^-alpha * sum_u B_ui B_uj len_u^-alpha / df_j^beta        (i != j)

Only the `n_neighbors` largest W_ij of each row i are kept; a query sums its seeds' rows.

The long tail: with beta > 0 a track seen once is divided by 1 while popular ones are divided by
df^beta, and with alpha = 1 a rare seed's row (df_i^-1 = 1) outweighs a popular seed's by orders
of magnitude, so a one-off co-occurrence decides the ranking. Plain RP3beta over all tracks
collapsed (R-precision 0.018 on the default synthetic preset, issue 20). Two defences:
`min_count` is the minimum support (tracks in fewer training playlists leave the walk's graph:
never neighbours, no neighbours of their own, and len_u counts only the tracks that stay), and
alpha below 1 flattens the source weight df_i^-alpha (docs/baselines.md has the sweep).

Fit runs in `item_knn`'s compiled kernel (models/cooc_kernel.py): track by track, the walk
weights of one source track's co-occurrences in a dense accumulator, cut to its M best before the
next track, blocks of tracks on a thread each; no dense or full track × track matrix ever exists.
The values equal the blocked scipy product G[:, block].T @ G_w's bit for bit (a test holds it).

Seedless queries go to the shared title baseline (`cold_start = "title"`), and so do queries
none of whose seeds is in the graph (a row of -1 here).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from typing_extensions import Self

from models.base import IntArray, Queries, Recommender, TrainSet, at_least, require
from models.cooc_kernel import fused_neighbours
from models.item_knn import neighbour_scores
from models.knn import sparse_from_csr, work_batches


class RP3BetaRecommender(Recommender):
    """Random-walk item-item similarity with popularity penalty, top-M neighbours per track.

    Parameters
    ----------
    n_neighbors : neighbours M kept per track.
    alpha : exponent on each step's transition probability (1: the plain walk; below 1
        flattens the weights of long playlists and popular sources).
    beta : exponent of the destination's popularity that divides the walk probability (0: the
        plain walk P3alpha, which favours popular tracks; larger: favours rarer ones).
    min_count : minimum support; tracks in fewer training playlists leave the walk's graph.
    normalize : scale each track's kept neighbour row to sum 1 (after the top M), so that every
        seed brings the same mass to a query's scores; without it a seed weighs df_i^-alpha.
    work_budget : upper bound on the co-occurrence work of one block of tracks (the unit of
        work a thread takes).
    threads : threads of the fit (0: every core); the result does not depend on it.
    """

    determinism_note = (
        "always: each track's float32 sums in a fixed order, ties go to the lower index; the "
        "thread count does not change the result"
    )

    cold_start = "title"

    def __init__(
        self,
        n_neighbors: int = 100,
        alpha: float = 0.5,
        beta: float = 0.2,
        min_count: int = 5,
        normalize: bool = True,
        work_budget: int = 20_000_000,
        threads: int = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.beta = beta
        self.min_count = min_count
        self.normalize = normalize
        self.work_budget = work_budget
        self.threads = threads

    def check_params(self) -> None:
        at_least(
            self,
            "rp3beta",
            {"n_neighbors": 1, "beta": 0, "min_count": 1, "work_budget": 1, "threads": 0},
        )
        require("rp3beta", ("alpha", self.alpha, self.alpha > 0, "> 0"))

    def _fit(self, train: TrainSet) -> Self:
        T = train.n_tracks
        B = sparse_from_csr(train.offsets, train.track_ids, T)  # (P, T) binary
        df = np.bincount(B.indices, minlength=T).astype(np.float64)  # (T,) playlists per track
        G = drop_columns(B, df < self.min_count)  # (P, T) the walk's graph: supported tracks
        lens = np.diff(G.indptr).astype(np.float64)  # (P,) supported tracks per playlist
        GT = G.T.tocsr()  # (T, P) binary: track -> its playlists
        steps = np.power(np.maximum(lens, 1.0), -self.alpha).astype(np.float32)  # (P,) len_u^-a
        src = np.power(df, -self.alpha, out=np.zeros(T), where=df > 0).astype(np.float32)
        dst = np.power(df, -self.beta, out=np.zeros(T), where=df > 0).astype(np.float32)
        blocks = list(work_batches(GT @ lens, self.work_budget, max_rows=65536))
        S = fused_neighbours(
            G,
            GT,
            src,
            dst,
            0.0,
            self.n_neighbors,
            blocks,
            self.threads or os.cpu_count() or 1,
            lambda done, total: self._progress(done, total, "block"),
            weights=steps,
            product=True,
        )  # (T, T) top M of df_i^-a * sum_u len_u^-a / df_j^b, in float32 as scipy sums it
        if self.normalize:  # every seed brings the same mass: its kept row sums to 1
            sums = np.asarray(S.sum(axis=1), dtype=np.float32).ravel()  # (T,)
            S.data /= np.repeat(np.where(sums > 0, sums, 1.0), np.diff(S.indptr))
        self.sim_ = S
        self.n_tracks_ = T
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return self.recommend_scored(queries, k)[0]

    def recommend_scored(
        self, queries: Queries, k: int = 500
    ) -> tuple[IntArray, NDArray[np.float32]]:
        """`recommend`'s (n, k) ids and their (n, k) summed walk probabilities (NaN where -1)."""
        return neighbour_scores(self.sim_, queries, k, self.work_budget)


def drop_columns(B: sp.csr_matrix, drop: NDArray[np.bool_]) -> sp.csr_matrix:
    """B (P, T) without the entries in the columns where `drop` (T,) is True."""
    keep = ~drop[B.indices]  # (nnz,)
    counts = np.bincount(
        np.repeat(np.arange(B.shape[0]), np.diff(B.indptr))[keep], minlength=B.shape[0]
    )
    indptr = np.zeros(B.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix((B.data[keep], B.indices[keep], indptr), shape=B.shape)
