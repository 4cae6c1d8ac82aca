"""`item_knn`: track-based k-NN from playlist co-occurrence, top-M neighbours per track.

Fit computes the track × track similarity C_ij / (df_i^a df_j^(1-a) + shrink) (a = 0.5, shrink = 0:
the plain cosine of the binary track columns; C = co-occurrence counts, df = playlist counts) in blocks of tracks: one block is the sparse product B[:, block].T @ B, cut
so that its work (and so its nonzeros) stays under a budget, then pruned to the M best neighbours
of each track before the next block. The whole track × track product never exists at once.
A query scores each track by the sum over its seeds of the seed's neighbour row (similarity^alpha);
seeds are removed and the top k taken from the nonzeros of each row.

Seedless queries are delegated to the shared title baseline (`cold_start = "title"`); called
directly on one, `recommend` returns a row of -1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from typing_extensions import Self

from harness.errors import ParameterError
from models.base import IntArray, Queries, Recommender, TrainSet
from models.knn import query_matrix, recommend_rows, sparse_from_csr, top_k_sparse, work_batches


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
    work_budget : upper bound on the sparse-product work of one block (memory knob).
    """

    determinism_note = "always: sparse products in a fixed order, ties go to the lower index"

    cold_start = "title"

    def __init__(
        self,
        n_neighbors: int = 100,
        alpha: float = 1.0,
        asymmetry: float = 0.75,
        shrink: float = 20.0,
        work_budget: int = 20_000_000,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.asymmetry = asymmetry
        self.shrink = shrink
        self.work_budget = work_budget

    def check_params(self) -> None:
        if self.n_neighbors < 1:
            raise ParameterError(f"item_knn: n_neighbors must be >= 1, got {self.n_neighbors}")
        if not 0.0 <= self.asymmetry <= 1.0:
            raise ParameterError(f"item_knn: asymmetry must be in [0, 1], got {self.asymmetry}")
        if self.shrink < 0:
            raise ParameterError(f"item_knn: shrink must be >= 0, got {self.shrink}")
        if self.work_budget < 1:
            raise ParameterError(f"item_knn: work_budget must be >= 1, got {self.work_budget}")

    def _fit(self, train: TrainSet) -> Self:
        T = train.n_tracks
        B = sparse_from_csr(train.offsets, train.track_ids, T)  # (P, T) binary
        BT = B.T.tocsr()  # (T, P)
        df = np.diff(BT.indptr).astype(np.float64)  # (T,) playlists per track
        lens = np.diff(B.indptr).astype(np.float64)  # (P,)
        left = np.power(df, self.asymmetry, out=np.ones(T), where=df > 0)  # df_i^a
        right = np.power(df, 1.0 - self.asymmetry, out=np.ones(T), where=df > 0)  # df_j^(1-a)
        left32, right32 = left.astype(np.float32), right.astype(np.float32)
        shrink = np.float32(self.shrink)

        def block(sl: slice) -> sp.csr_matrix:
            """Similarities (b, T) of tracks sl.start..sl.stop to every track."""
            C = (BT[sl] @ B).tocsr()  # (b, T) co-occurrence counts
            rows = np.repeat(left32[sl], np.diff(C.indptr))  # (nnz,) df_i^a of each entry
            rows *= right32[C.indices]
            rows += shrink
            C.data /= rows
            return C

        self.sim_ = neighbour_matrix(BT @ lens, self.n_neighbors, self.work_budget, block, self)
        self.n_tracks_ = T
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        S = self.sim_
        if self.alpha != 1.0:
            S = S.copy()
            S.data = np.power(S.data, np.float32(self.alpha), dtype=np.float32)
        return neighbour_scores(S, queries, k, self.work_budget)


# ---------------------------------------------------------------- shared with rp3beta


def neighbour_matrix(
    work: NDArray[np.float64],
    M: int,
    budget: float,
    block: Callable[[slice], sp.csr_matrix],
    model: Recommender | None = None,
) -> sp.csr_matrix:
    """The (T, T) top-M neighbour matrix, built in blocks of rows.

    work: (T,) a bound on each row's nonzeros; blocks are cut so that their work stays under
    `budget`. block(sl): the (b, T) similarities of rows sl (any sign; only positive ones are
    neighbours, a row's own column is dropped). The kept entries go straight into arrays sized
    by a bound, so the pruned matrix never exists twice (a list of blocks + its concatenation
    would). Progress goes to `model._progress` per block.
    """
    T = len(work)
    bound = int(np.minimum(work, M).sum())
    indices = np.empty(bound, dtype=np.int32)
    data = np.empty(bound, dtype=np.float32)
    indptr = np.zeros(T + 1, dtype=np.int64)
    nnz = 0
    blocks = list(work_batches(work, budget, max_rows=65536))
    for done, sl in enumerate(blocks, 1):
        cols, vals, counts = prune_rows(block(sl), M, sl.start)
        indices[nnz : nnz + len(cols)] = cols
        data[nnz : nnz + len(vals)] = vals
        indptr[sl.start + 1 : sl.stop + 1] = nnz + np.cumsum(counts)
        nnz += len(cols)
        if model is not None:
            model._progress(done, len(blocks), "block")
    if nnz < 0.9 * bound:  # trim: the copy is small next to the bound
        indices, data = indices[:nnz].copy(), data[:nnz].copy()
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(T, T))


def prune_rows(
    C: sp.csr_matrix, M: int, first: int
) -> tuple[IntArray, NDArray[np.float32], NDArray[np.int64]]:
    """The M largest positive entries of each row of C (b, T), whose row j is track first + j,
    the diagonal excluded; ties go to the lower column. Returns (cols, vals, per-row counts),
    entries in C's order within each row."""
    b = C.shape[0]
    row = np.repeat(np.arange(b), np.diff(C.indptr))  # (nnz,) block row of each entry
    keep = (C.data > 0) & (C.indices != first + row)
    for j in np.flatnonzero(np.diff(C.indptr) > M):
        a, e = C.indptr[j], C.indptr[j + 1]
        mine = np.flatnonzero(keep[a:e])
        if len(mine) <= M:
            continue
        pos = mine[top_k_sparse(C.indices[a:e][mine], C.data[a:e][mine], M)]
        keep[a:e] = False
        keep[a + pos] = True
    counts = np.bincount(row[keep], minlength=b).astype(np.int64)  # (b,)
    return C.indices[keep].astype(np.int32), C.data[keep], counts


def neighbour_scores(S: sp.csr_matrix, queries: Queries, k: int, budget: float) -> IntArray:
    """Top k (n, k) of each query's summed seed rows of S (T, T), seeds excluded, -1 padded."""
    n = len(queries)
    out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
    with_seeds = np.flatnonzero(queries.n_seeds > 0)
    if not len(with_seeds):
        return out
    T = S.shape[0]
    nnz_row = np.diff(S.indptr).astype(np.float64)  # (T,)
    seeds = np.clip(queries.seed_ids, 0, T - 1)
    work = np.add.reduceat(nnz_row[seeds], queries.seed_offsets[with_seeds]) + 1.0
    for sl in work_batches(work, budget, max_rows=1024):
        rows = with_seeds[sl]
        Q = query_matrix(queries, rows, T)  # (b, T)
        scores = (Q @ S).tocsr()  # (b, T) summed neighbour rows
        recommend_rows(scores, queries, rows, k, out)
    return out
