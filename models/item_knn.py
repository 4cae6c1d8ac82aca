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
from collections.abc import Callable

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
    entries in C's order within each row (so the result does not depend on the blocking).

    Three passes over the block: each row's (M+1)-th largest value (its cut, `row_cuts`),
    repeated per entry, compared. What survives (about M + 1 per row) is small: there the
    diagonal is dropped and the entries equal to their row's cut are ordered by column, so
    ties are exact and deterministic.
    """
    b = C.shape[0]
    lens = np.diff(C.indptr)  # (b,)
    cut = row_cuts(C.data, C.indptr, M + 1)  # (b,) 0 for rows of at most M + 1 entries
    cut = np.maximum(cut, np.float32(np.finfo(np.float32).smallest_subnormal))  # positives only
    kept = np.flatnonzero(C.data >= np.repeat(cut, lens))  # (k,) in C's order
    row = np.searchsorted(C.indptr, kept, side="right") - 1  # (k,) block row of each
    cols, vals = C.indices[kept], C.data[kept]
    own = cols != row + first  # (k,) False on the diagonal
    above = own & (vals > cut[row])  # certainly among the M best
    ties = np.flatnonzero(own & (vals == cut[row]))  # compete for the places left
    keep = above
    if len(ties):
        room = M - np.bincount(row[above], minlength=b)  # (b,) places left at the cut
        r = row[ties].astype(np.int64)
        order = np.argsort((r << 32) | cols[ties])  # by row, then lower column
        start = np.zeros(b + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=b), out=start[1:])
        rank = np.arange(len(ties)) - start[r[order]]  # (t,) rank among the row's ties
        keep[ties[order[rank < room[r[order]]]]] = True
    counts = np.bincount(row[keep], minlength=b).astype(np.int64)  # (b,)
    return cols[keep].astype(np.int32), vals[keep], counts


def row_cuts(data: NDArray[np.float32], indptr: NDArray[np.integer], M: int) -> NDArray[np.float32]:
    """The M-th largest value of each CSR row longer than M (0 for the others).

    Rows up to 64 M long are padded into dense (rows, width) arrays by length class (widths
    grow by 1/4, so padding stays small) and cut by one `np.partition` along the rows: a
    Python loop over many short rows cost more than the selection itself. Longer rows are
    partitioned one by one, each a view of `data`.
    """
    lens = np.diff(indptr)  # (b,)
    cut = np.zeros(len(lens), dtype=np.float32)
    idx = np.int32 if len(data) < 2**31 - 1 else np.int64  # positions: int32 when they fit
    low = M
    while low < 64 * M:
        width = low + max(low // 4, 1)
        rows = np.flatnonzero((lens > low) & (lens <= width))
        low = width
        if not len(rows):
            continue
        pos = indptr[rows, None].astype(idx) + np.arange(width).astype(idx)  # (r, width)
        D = np.take(data, pos, mode="clip")  # (r, width) the row, then whatever follows it
        D[pos >= indptr[rows + 1, None]] = -np.inf  # ... masked off
        D.partition(width - M, axis=1)
        cut[rows] = D[:, width - M]
    for j in np.flatnonzero(lens > low):
        a, e = indptr[j], indptr[j + 1]
        cut[j] = np.partition(data[a:e], e - a - M)[e - a - M]
    return cut


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
