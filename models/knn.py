"""`knn`: playlist-based k-nearest neighbours on a sparse binary playlist × track matrix.

A query's seed set is compared with every training playlist (cosine on binary or IDF-weighted
vectors, or a BM25 score); the K most similar playlists vote for their tracks with weight
similarity^alpha. Everything stays sparse: queries are scored in batches whose size is bounded by
the work they cause (sum of the seeds' playlist counts), and the top k of each row is taken from
its nonzeros only, so no dense (queries × playlists) or (queries × tracks) matrix is ever built.

Seedless queries (category 1) are delegated to the shared title baseline (`cold_start = "title"`):
with no seeds, "title-matched neighbours" all have the same similarity, which is exactly the
`title` model's per-title popularity. Called directly on a seedless query, `recommend` returns a
row of -1.

The sparse-row helpers here (`sparse_from_csr`, `query_matrix`, `top_k_sparse`, `work_batches`)
are shared with `models/item_knn.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from typing_extensions import Self

from harness.errors import ParameterError
from models.base import IntArray, Queries, Recommender, TrainSet

WEIGHTINGS = ("none", "idf", "bm25")


# ---------------------------------------------------------------- shared sparse helpers


def sparse_from_csr(
    offsets: NDArray[np.int64], ids: NDArray[np.int32], n_cols: int
) -> sp.csr_matrix:
    """Binary CSR matrix (n_rows, n_cols) float32 from CSR lists; duplicates count once.

    The inputs are copied: `sum_duplicates` works in place and must not reorder a TrainSet.
    """
    n_rows = len(offsets) - 1
    m = sp.csr_matrix(
        (np.ones(len(ids), dtype=np.float32), ids.astype(np.int32), offsets.copy()),
        shape=(n_rows, n_cols),
    )
    m.sum_duplicates()  # sorts each row's indices and merges repeats (in place)
    m.data[:] = 1.0
    return m


def query_matrix(queries: Queries, rows: NDArray[np.int64], n_cols: int) -> sp.csr_matrix:
    """Binary seed matrix (len(rows), n_cols) of the queries at positions `rows`."""
    sub = queries.subset(rows)
    return sparse_from_csr(sub.seed_offsets, sub.seed_ids, n_cols)


def top_k_sparse(cols: IntArray, vals: NDArray[np.floating], k: int) -> NDArray[np.intp]:
    """Positions of the k largest positive values, best first; ties broken by the lower column.

    cols, vals: (nnz,) one sparse row, in any order. `np.argpartition` finds the k largest in
    O(nnz); only when equal values straddle the cut is every candidate at least as large as the
    k-th sorted, so ties always go to the lower column (exact and deterministic).
    """
    n = len(vals)
    if n > k:
        pos = np.argpartition(vals, n - k)[n - k :]  # (k,) the k largest, unordered
        kth = vals[pos].min()
        if np.count_nonzero(vals == kth) != np.count_nonzero(vals[pos] == kth):
            pos = np.flatnonzero(vals >= kth)  # ties at the cut: sort them all
    else:
        pos = np.arange(n)
    pos = pos[vals[pos] > 0]
    order = np.lexsort((cols[pos], -vals[pos]))[:k]
    return pos[order]


def work_batches(work: NDArray[np.floating], budget: float, max_rows: int) -> Iterator[slice]:
    """Consecutive slices of rows whose summed `work` stays under `budget` (at least one row).

    Bounds the nonzeros of a sparse product (and so its memory) whatever the rows look like.
    """
    n, start = len(work), 0
    cum = np.cumsum(work, dtype=np.float64)  # (n,)
    while start < n:
        base = cum[start - 1] if start else 0.0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        stop = min(max(stop, start + 1), start + max_rows, n)
        yield slice(start, stop)
        start = stop


def recommend_rows(
    scores: sp.csr_matrix,
    queries: Queries,
    rows: NDArray[np.int64],
    k: int,
    out: IntArray,
    out_scores: NDArray[np.float32] | None = None,
) -> None:
    """Write the top k of each score row (b, T), seeds excluded, into `out[rows]` (-1 padded)
    and, when given, their scores into `out_scores[rows]`."""
    is_seed = np.zeros(scores.shape[1], dtype=bool)  # (T,) reset after each row
    for j, i in enumerate(rows):
        a, b = scores.indptr[j], scores.indptr[j + 1]
        cols, vals = scores.indices[a:b], scores.data[a:b]
        seeds = queries.seeds(int(i))
        is_seed[seeds] = True
        keep = ~is_seed[cols]
        is_seed[seeds] = False
        cols, vals = cols[keep], vals[keep]
        pos = top_k_sparse(cols, vals, k)
        out[i, : len(pos)] = cols[pos]
        if out_scores is not None:
            out_scores[i, : len(pos)] = vals[pos]


# ---------------------------------------------------------------- the model


class KNNRecommender(Recommender):
    """Playlist k-NN: the K training playlists most similar to the seeds vote for their tracks.

    Parameters
    ----------
    k_neighbors : number of neighbour playlists K per query.
    alpha : exponent on the similarity of each neighbour's vote (higher: trust the closest more).
    weighting : "none" (cosine of binary vectors), "idf" (cosine of IDF-weighted vectors) or
        "bm25" (BM25 score of the seeds against each playlist, k1=1.2, b=0.75, divided by the
        query's best possible score).
    work_budget : upper bound on the sparse-product work of one query batch (memory knob).
    threads : query batches scored at once (0: every core); the result does not depend on it.
        scipy's sparse products and numpy's partitions release the GIL; each batch in flight
        holds its own temporaries (up to `work_budget` nonzeros).
    """

    determinism_note = "always: sparse products in a fixed order, ties go to the lower index"

    cold_start = "title"

    def __init__(
        self,
        k_neighbors: int = 200,
        alpha: float = 0.5,
        weighting: str = "idf",
        work_budget: int = 20_000_000,
        threads: int = 0,
    ) -> None:
        self.k_neighbors = k_neighbors
        self.alpha = alpha
        self.weighting = weighting
        self.work_budget = work_budget
        self.threads = threads

    def check_params(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ParameterError(
                f"knn: weighting must be one of {WEIGHTINGS}, got {self.weighting!r}"
            )
        if self.k_neighbors < 1:
            raise ParameterError(f"knn: k_neighbors must be >= 1, got {self.k_neighbors}")
        if self.work_budget < 1:
            raise ParameterError(f"knn: work_budget must be >= 1, got {self.work_budget}")
        if self.threads < 0:
            raise ParameterError(f"knn: threads must be >= 0, got {self.threads}")

    def _fit(self, train: TrainSet) -> Self:
        B = sparse_from_csr(train.offsets, train.track_ids, train.n_tracks)  # (P, T) binary
        P = B.shape[0]
        df = np.bincount(B.indices, minlength=train.n_tracks).astype(np.float64)  # (T,)
        lens = np.diff(B.indptr).astype(np.float64)  # (P,) distinct tracks per playlist
        if self.weighting == "none":
            w_track = (df > 0).astype(np.float64)  # a track unseen in training carries nothing
        else:
            # BM25's IDF (always positive); plain log(P/df) for "idf"
            with np.errstate(divide="ignore"):
                w_track = (
                    np.log((P - df + 0.5) / (df + 0.5) + 1.0)
                    if self.weighting == "bm25"
                    else np.log(max(P, 1) / df)
                )
            w_track[df == 0] = 0.0
            w_track = np.maximum(w_track, 0.0)
        if self.weighting == "bm25":
            k1, b = 1.2, 0.75
            avg = lens.mean() if P else 1.0
            w_playlist = (k1 + 1.0) / (1.0 + k1 * (1.0 - b + b * lens / max(avg, 1e-9)))
        else:
            # 1 / |x_n| of the weighted playlist vector
            sq = B @ (w_track**2)  # (P,)
            w_playlist = np.divide(1.0, np.sqrt(sq), out=np.zeros(P), where=sq > 0)
        self.w_track_ = w_track.astype(np.float32)  # (T,)
        self.w_playlist_ = w_playlist.astype(np.float32)  # (P,)
        self.pop_ = df.astype(np.float32)  # (T,) playlists holding each track
        self.B_ = B  # (P, T) binary: neighbours' votes
        self.BT_ = B.T.tocsr()  # (T, P) binary: seeds -> playlists
        self.n_tracks_ = train.n_tracks
        return self

    def similarities(self, Q: sp.csr_matrix) -> sp.csr_matrix:
        """Similarity (b, P) of each binary seed row of Q (b, T) to every training playlist.

        Cosine: q.x / (|q| |x|) with q = Q w, x = B_n w, so the dot product weights each shared
        track by w^2. BM25: sum over the shared tracks of idf_t * tf_n (binary tf, query side
        unweighted), divided by the query's best possible score.
        """
        w = self.w_track_[None, :]  # (1, T)
        Qw = Q.multiply(w).tocsr()  # (b, T) weighted seeds
        if self.weighting == "bm25":
            S = (Qw @ self.BT_).tocsr()  # (b, P) sum of idf over shared tracks
            denom = np.asarray(Qw.sum(axis=1)).ravel() * float(self.w_playlist_.max(initial=1.0))
        else:
            S = (Qw.multiply(w).tocsr() @ self.BT_).tocsr()  # (b, P) q.x before |x|
            denom = np.sqrt(np.asarray(Qw.multiply(Qw).sum(axis=1)).ravel())  # |q|
        S.data *= self.w_playlist_[S.indices]
        denom = np.where(denom > 0, denom, 1.0)
        S.data /= np.repeat(denom, np.diff(S.indptr)).astype(np.float32)
        return S

    def neighbour_weights(self, S: sp.csr_matrix) -> sp.csr_matrix:
        """Keep the top K similarities per row, raised to alpha: (b, P) with <= K nonzeros/row."""
        b = S.shape[0]
        indptr = np.zeros(b + 1, dtype=np.int64)
        cols_all, vals_all = [], []
        for j in range(b):
            a, e = S.indptr[j], S.indptr[j + 1]
            cols, vals = S.indices[a:e], S.data[a:e]
            pos = top_k_sparse(cols, vals, self.k_neighbors)
            cols_all.append(cols[pos])
            vals_all.append(vals[pos])
            indptr[j + 1] = indptr[j] + len(pos)
        cols = np.concatenate(cols_all) if cols_all else np.zeros(0, np.int32)
        vals = np.concatenate(vals_all) if vals_all else np.zeros(0, np.float32)
        vals = np.power(vals, np.float32(self.alpha), dtype=np.float32)
        return sp.csr_matrix((vals, cols, indptr), shape=S.shape)

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return self.recommend_scored(queries, k)[0]

    def recommend_scored(
        self, queries: Queries, k: int = 500
    ) -> tuple[IntArray, NDArray[np.float32]]:
        """`recommend`'s (n, k) ids and their (n, k) summed neighbour votes (NaN where -1)."""
        n = len(queries)
        out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
        out_scores = np.full((n, k), np.nan, dtype=np.float32)  # (n, k)
        with_seeds = np.flatnonzero(queries.n_seeds > 0)
        if not len(with_seeds):
            return out, out_scores
        # work of a query ~ the playlists its seeds touch (nonzeros of its similarity row)
        seed_pop = np.add.reduceat(
            self.pop_[np.clip(queries.seed_ids, 0, self.n_tracks_ - 1)].astype(np.float64),
            queries.seed_offsets[with_seeds],
        )
        work = seed_pop + self.k_neighbors * 100.0

        def run(sl: slice) -> None:  # each batch writes only its own rows of out
            rows = with_seeds[sl]
            Q = query_matrix(queries, rows, self.n_tracks_)  # (b, T)
            S = self.similarities(Q)  # (b, P)
            W = self.neighbour_weights(S)  # (b, P), <= K per row
            scores = (W @ self.B_).tocsr()  # (b, T) votes
            recommend_rows(scores, queries, rows, k, out, out_scores)

        batches = list(work_batches(work, self.work_budget, max_rows=1024))
        threads = min(self.threads or os.cpu_count() or 1, len(batches))
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(run, batches):  # re-raises a batch's error here
                pass
        return out, out_scores
