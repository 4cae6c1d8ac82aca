"""`ease`: the closed-form linear item-item model EASE^R (Steck 2019) on the most popular tracks.

With X the binary playlist × track matrix restricted to the N most popular tracks, EASE solves
min_B ||X - X B||^2 + l2 ||B||^2 subject to diag(B) = 0, whose solution is

    P = (X^T X + l2 I)^-1,    B_ij = -P_ij / P_jj  (i != j),    B_jj = 0.

A query scores the N tracks by (its seeds among them) @ B; seeds are removed and the top k kept.
Tracks outside the N come from the runner's popularity backfill.

Memory: the Gram matrix X^T X is a dense float32 N × N (N = 20,000: 1.6 GB; at most MAX_ITEMS),
accumulated from sparse blocks of playlists whose product work stays under `work_budget`; the
inverse is computed in place (Cholesky: LAPACK potrf + potri) and B overwrites it, so the fit
holds one N × N matrix at a time. Time grows as N^3 (the inversion): see docs/baselines.md.

Seedless queries go to the shared title baseline (`cold_start = "title"`); a query with no seed
among the N tracks gets a row of -1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from typing_extensions import Self

from harness.errors import ParameterError
from models.base import IntArray, Queries, Recommender, TrainSet, at_least, require, top_k
from models.knn import query_matrix, sparse_from_csr, work_batches
from models.popular import popularity_ranking

# N^2 float32 entries stay under 2 GiB: scipy's LAPACK (OpenBLAS with 32-bit integers) died of a
# segmentation fault inverting a 30,000 × 30,000 float32 matrix (3.6 GB) on our machine, twice.
MAX_ITEMS = 23_170


def gram(X: sp.csr_matrix, work_budget: float) -> tuple[np.ndarray, int]:
    """Dense X^T X (N, N) float32 of a binary CSR X (P, N), summed over blocks of rows.

    Returns the matrix and the number of blocks. Each block's product has at most
    `work_budget`-ish nonzeros (sum of squared row lengths); its entries are unique, so they
    are added through flat indices without `np.add.at`.
    """
    N = X.shape[1]
    G = np.zeros((N, N), dtype=np.float32)  # (N, N)
    flat = G.reshape(-1)  # a view: writes land in G
    lens = np.diff(X.indptr).astype(np.float64)  # (P,)
    blocks = list(work_batches(lens**2, work_budget, max_rows=1 << 20))
    for sl in blocks:
        Xb = X[sl]  # (b, N)
        C = (Xb.T.tocsr() @ Xb).tocoo()  # (N, N) co-occurrence counts of the block
        flat[C.row.astype(np.int64) * N + C.col] += C.data
    return G, len(blocks)


def ease_weights(G: np.ndarray, l2: float) -> np.ndarray:
    """Overwrite the Gram matrix G (N, N) with EASE's B; returns G.

    P = (G + l2 I)^-1 by Cholesky in place (G is symmetric positive definite for l2 > 0), then
    B = -P / diag(P) column-wise with a zero diagonal.
    """
    N = G.shape[0]
    G[np.diag_indices(N)] += np.float32(l2)
    # G is symmetric and C-ordered, so G.T is the same matrix in Fortran order: LAPACK works in
    # place on it. Upper of the Fortran view = lower triangle of G.
    F = G.T
    c, info = lapack.spotrf(F, lower=False, clean=True, overwrite_a=True)
    if info != 0:
        raise ParameterError(f"ease: Gram matrix + l2 I is not positive definite (info {info})")
    inv, info = lapack.spotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise ParameterError(f"ease: inversion failed (LAPACK info {info})")
    P = inv.T  # C-ordered view of the same buffer; its lower triangle holds the inverse
    symmetrize_lower(P)
    d = P.diagonal().copy()  # (N,)
    P /= -d[None, :]
    P[np.diag_indices(N)] = 0.0
    return P


def symmetrize_lower(A: np.ndarray, block: int = 2048) -> None:
    """Copy the lower triangle of the square A onto its upper triangle, in place, by blocks."""
    N = A.shape[0]
    for a in range(0, N, block):
        b = min(a + block, N)
        # rows a..b, columns right of the diagonal block, come from the rows below
        A[a:b, b:] = A[b:, a:b].T
        sq = A[a:b, a:b]
        sq[np.triu_indices(b - a, 1)] = sq.T[np.triu_indices(b - a, 1)]


class EASERecommender(Recommender):
    """EASE^R over the `n_items` most popular tracks (closed form, one matrix inversion).

    Parameters
    ----------
    n_items : N, how many of the most popular training tracks the model covers (the rest come
        from backfill). Fit memory is 4 N^2 bytes (20,000: 1.6 GB), fit time grows as N^3.
    l2 : the ridge penalty lambda added to the Gram matrix's diagonal.
    work_budget : upper bound on the sparse-product work of one block (memory knob).
    score_budget : upper bound on the dense (queries × N) score block of one batch, in float32
        entries (memory knob).
    """

    determinism_note = "with the same BLAS library and thread count (LAPACK inversion)"

    cold_start = "title"

    def __init__(
        self,
        n_items: int = 20_000,
        l2: float = 5000.0,
        work_budget: int = 20_000_000,
        score_budget: int = 2**26,
    ) -> None:
        self.n_items = n_items
        self.l2 = l2
        self.work_budget = work_budget
        self.score_budget = score_budget

    def check_params(self) -> None:
        if not 1 <= self.n_items <= MAX_ITEMS:
            raise ParameterError(
                f"ease: n_items must be in [1, {MAX_ITEMS:,}], got {self.n_items:,} (the dense "
                "N × N float32 matrix must stay under 2 GiB for scipy's 32-bit LAPACK)"
            )
        require("ease", ("l2", self.l2, self.l2 > 0, "> 0"))
        at_least(self, "ease", {"work_budget": 1, "score_budget": 1})

    def _fit(self, train: TrainSet) -> Self:
        T = train.n_tracks
        items = popularity_ranking(train)[: self.n_items]  # (N,) most popular first
        col = np.full(T, -1, dtype=np.int32)  # (T,) track id -> column, -1 outside the N
        col[items] = np.arange(len(items), dtype=np.int32)
        X = sparse_from_csr(train.offsets, train.track_ids, T)[:, items].tocsr()  # (P, N)
        G, n_blocks = gram(X, self.work_budget)
        self._progress(n_blocks, n_blocks + 1, "step")
        del X
        self.B_ = ease_weights(G, self.l2)  # (N, N) float32
        self._progress(n_blocks + 1, n_blocks + 1, "step")
        self.items_ = items
        self.col_ = col
        self.n_tracks_ = T
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        n, N = len(queries), len(self.items_)
        out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
        # seeds as columns of B: -1 outside the N tracks (or outside the catalogue)
        ids = queries.seed_ids
        cols = np.where(ids < self.n_tracks_, self.col_[np.clip(ids, 0, self.n_tracks_ - 1)], -1)
        inside = np.zeros(len(cols) + 1, dtype=np.int64)
        np.cumsum(cols >= 0, out=inside[1:])
        rows = np.flatnonzero(inside[queries.seed_offsets[1:]] > inside[queries.seed_offsets[:-1]])
        if not len(rows) or not N:
            return out
        mapped = Queries(  # the same queries with seeds renumbered to B's columns
            pids=queries.pids,
            seed_offsets=inside[queries.seed_offsets],
            seed_ids=cols[cols >= 0],
            seed_pos=queries.seed_pos[cols >= 0],
            titles=queries.titles,
            categories=queries.categories,
        )
        batch = max(1, min(1024, self.score_budget // N))
        for start in range(0, len(rows), batch):
            sub = rows[start : start + batch]
            Q = query_matrix(mapped, sub, N)  # (b, N) binary seeds among the N
            scores = np.asarray(Q @ self.B_)  # (b, N)
            scores[Q.nonzero()] = -np.inf  # seeds are never recommended
            best = top_k(scores, k)  # (b, k) columns, -1 past N
            out[sub] = np.where(best >= 0, self.items_[np.maximum(best, 0)], -1)
        return out
