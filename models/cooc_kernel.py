"""`item_knn`'s and `rp3beta`'s fit kernel: weighted co-occurrences, similarity and top-M
selection fused per track.

Why compiled (numba): the blocked scipy product materialised every co-occurrence (258M entries
on the default preset) and then made several numpy passes over them to weight and prune; the
fused loop keeps one track's counts in a dense accumulator, weights only the tracks it touched
and selects its M best before the next track, which is what implicit's C++ `all_pairs_knn` does
(and it cannot express the `shrink` term, so we cannot call it). Every value is computed with the
same float32 operations as the numpy formula C_ij / (left_i * right_j + shrink), so the
neighbours are bit-identical to the blocked path's; ties go to the lower column.

`rp3beta` is the same loop with two changes: each playlist p adds its weight w_p (len_p^-alpha)
instead of 1, and the similarity is the product C_ij * (left_i * right_j) (df_i^-alpha df_j^-beta)
instead of the ratio. The float32 sums run in the order scipy's product sums them (playlists
ascending, then the playlist's tracks), so its neighbours too equal the blocked scipy path's
bit for bit. Its blocked fit ran on one core: 398 s at 1M playlists.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


@numba.njit(cache=True, nogil=True)
def topk_rows(  # noqa: PLR0913 -- a kernel takes flat arrays
    start: int,
    stop: int,
    bt_indptr: NDArray[np.int64],  # (T + 1,) track -> playlists
    bt_indices: NDArray[np.int32],  # (nnz,)
    b_indptr: NDArray[np.int64],  # (P + 1,) playlist -> tracks, each row without repeats
    b_indices: NDArray[np.int32],  # (nnz,)
    weights: NDArray[np.float32],  # (P,) each playlist's weight, > 0 (item_knn: 1)
    left: NDArray[np.float32],  # (T,) df_i^a
    right: NDArray[np.float32],  # (T,) df_j^(1-a)
    shrink: np.float32,
    product: bool,  # similarity C_ij * (left_i right_j) instead of C_ij / (left_i right_j + shrink)
    M: int,
    cols: NDArray[np.int32],  # (bound,) output: neighbours of rows start..stop, row after row
    vals: NDArray[np.float32],  # (bound,)
    counts: NDArray[np.int64],  # (stop - start,) output: neighbours kept per row
) -> int:
    """Fill cols/vals with the M best neighbours of tracks start..stop (by similarity, then
    lower column; columns ascending within a row); returns the number of entries written."""
    T = len(left)
    acc = np.zeros(T, dtype=np.float32)  # weighted co-occurrences of the current track
    touched = np.empty(T, dtype=np.int32)
    sims = np.empty(T, dtype=np.float32)
    neg = np.empty(T, dtype=np.float32)  # scratch of the selection
    res = np.empty(M, dtype=np.int64)
    ties = np.empty(T, dtype=np.int64)
    out = 0
    for i in range(start, stop):
        n = 0
        for pp in range(bt_indptr[i], bt_indptr[i + 1]):
            p = bt_indices[pp]
            w = weights[p]
            for jj in range(b_indptr[p], b_indptr[p + 1]):
                j = b_indices[jj]
                if acc[j] == 0:
                    touched[n] = j
                    n += 1
                acc[j] += w
        m = 0  # candidates, the track itself dropped
        for t in range(n):
            j = touched[t]
            if j != i:
                touched[m] = j
                if product:
                    sims[m] = acc[j] * (left[i] * right[j])
                else:
                    sims[m] = acc[j] / (left[i] * right[j] + shrink)
                m += 1
            acc[j] = 0
        pos = _select(
            touched[:m], sims[:m], M, neg, res, ties
        )  # (<= M,) positions among the candidates
        kept = touched[pos]
        order = np.argsort(kept)  # columns ascending within the row
        for t in range(len(pos)):
            cols[out + t] = kept[order[t]]
            vals[out + t] = sims[pos[order[t]]]
        counts[i - start] = len(pos)
        out += len(pos)
    return out


@numba.njit(cache=True, nogil=True)
def _select(
    cand: NDArray[np.int32],
    sims: NDArray[np.float32],
    M: int,
    neg: NDArray[np.float32],
    res: NDArray[np.int64],
    ties: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Positions of the M largest positive sims (ties: lower column), unordered; a view of
    `res`. neg, res, ties: scratch buffers (at least len(sims), M, len(sims) long)."""
    m = len(cand)
    k = 0
    if m <= M:
        for t in range(m):
            if sims[t] > 0:
                res[k] = t
                k += 1
        return res[:k]
    for t in range(m):
        neg[t] = -sims[t]
    cut = -np.partition(neg[:m], M - 1)[M - 1]  # the M-th largest value
    n_ties = 0
    for t in range(m):
        if sims[t] > 0:
            if sims[t] > cut:
                res[k] = t
                k += 1
            elif sims[t] == cut:
                ties[n_ties] = t
                n_ties += 1
    if k < M and n_ties:
        tie = ties[:n_ties]
        tie = tie[np.argsort(cand[tie])]  # lower column first
        take = min(M - k, n_ties)
        res[k : k + take] = tie[:take]
        k += take
    return res[:k]


def fused_neighbours(  # noqa: PLR0913
    B: sp.csr_matrix,
    BT: sp.csr_matrix,
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    shrink: float,
    M: int,
    blocks: list[slice],
    threads: int,
    progress: Callable[[int, int], None] | None = None,
    weights: NDArray[np.float32] | None = None,
    product: bool = False,
) -> sp.csr_matrix:
    """The (T, T) top-M matrix of C_ij / (left_i right_j + shrink) (with `product`: of
    C_ij * left_i right_j), C_ij the sum of `weights` (P,) (default 1) over the playlists holding
    i and j; blocks of rows run on `threads` threads (the kernel releases the GIL; rows are
    independent, so the result does not depend on the blocking or the threads). Output arrays
    are sized by a bound and filled in row order as blocks finish, so no block list is ever
    concatenated."""
    T = BT.shape[0]
    w = np.ones(B.shape[0], np.float32) if weights is None else weights.astype(np.float32)
    if not (w > 0).all():
        raise ValueError("fused_neighbours: playlist weights must be > 0")
    b_ptr, b_idx = B.indptr.astype(np.int64), B.indices.astype(np.int32)
    t_ptr, t_idx = BT.indptr.astype(np.int64), BT.indices.astype(np.int32)
    work = BT @ np.diff(b_ptr).astype(np.float64)  # (T,) a bound on each row's candidates
    per_row = np.minimum(work, M).astype(np.int64)  # (T,)
    indices = np.empty(int(per_row.sum()), dtype=np.int32)
    data = np.empty(len(indices), dtype=np.float32)
    indptr = np.zeros(T + 1, dtype=np.int64)
    sh = np.float32(shrink)

    def run(sl: slice) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]:
        size = int(per_row[sl].sum())
        cols, vals = np.empty(size, np.int32), np.empty(size, np.float32)
        counts = np.zeros(sl.stop - sl.start, np.int64)
        n = topk_rows(sl.start, sl.stop, t_ptr, t_idx, b_ptr, b_idx, w, left, right, sh,
                      product, M, cols, vals, counts)  # fmt: skip
        return cols[:n], vals[:n], counts

    nnz = 0
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        for done, (sl, (cols, vals, counts)) in enumerate(
            zip(blocks, pool.map(run, blocks), strict=True), 1
        ):
            indices[nnz : nnz + len(cols)] = cols
            data[nnz : nnz + len(vals)] = vals
            indptr[sl.start + 1 : sl.stop + 1] = nnz + np.cumsum(counts)
            nnz += len(cols)
            if progress is not None:
                progress(done, len(blocks))
    if nnz < 0.9 * len(indices):  # trim: the copy is small next to the bound
        indices, data = indices[:nnz].copy(), data[:nnz].copy()
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(T, T))


@numba.njit(cache=True, nogil=True)
def seed_cooccurrence(  # noqa: PLR0913 -- a kernel takes flat arrays
    bt_indptr: NDArray[np.integer],  # (T + 1,) track -> playlists
    bt_indices: NDArray[np.integer],  # (nnz,)
    seeds_in: NDArray[np.float32],  # (c, P) seeds of each of c queries that each playlist holds
    tracks: NDArray[np.int64],  # (pairs,) candidate track of each pair
    rows: NDArray[np.int64],  # (pairs,) its query's row in seeds_in
    total: NDArray[np.float32],  # (pairs,) output: sum over the track's playlists of seeds_in
    anyseed: NDArray[np.float32],  # (pairs,) output: the track's playlists holding any seed
) -> None:
    """`rerank`'s co-occurrence features, pair by pair, summed in float64 in the order of the
    track's playlists as np.bincount sums them (so equal to the numpy path bit for bit), without
    the numpy path's gathered (nnz,) rows, values and pair ids: at 1M playlists a candidate's
    playlists run to tens of thousands, and those arrays were 80% of rerank's fit (profile in
    bench/rerank_1m_profile.json)."""
    for i in range(len(tracks)):
        j, q = tracks[i], rows[i]
        t, a = 0.0, 0.0
        for pp in range(bt_indptr[j], bt_indptr[j + 1]):
            v = seeds_in[q, bt_indices[pp]]
            t += v
            if v > 0:
                a += 1.0
        total[i] = t
        anyseed[i] = a


@numba.njit(cache=True, nogil=True)
def csr_lookup(  # noqa: PLR0913 -- a kernel takes flat arrays
    indptr: NDArray[np.integer],  # (n_rows + 1,)
    indices: NDArray[np.integer],  # (nnz,) sorted within each row, no repeats
    data: NDArray[np.floating],  # (nnz,)
    rows: NDArray[np.int64],  # (n,)
    cols: NDArray[np.int64],  # (n,)
    out: NDArray[np.float32],  # (n,) m[rows[i], cols[i]], 0 where absent
) -> None:
    """Each lookup by binary search in its row. scipy's m[rows, cols] scans the whole row per
    lookup when there are fewer lookups than a tenth of the nonzeros: at 1M playlists a common
    title word's row holds hundreds of thousands of tracks, and that scan was 79% of rerank's
    feature time (bench/rerank_1m_profile2.json)."""
    for i in range(len(rows)):
        lo, hi, c = indptr[rows[i]], indptr[rows[i] + 1], cols[i]
        while lo < hi:
            mid = (lo + hi) // 2
            if indices[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        out[i] = data[lo] if lo < indptr[rows[i] + 1] and indices[lo] == c else 0.0
