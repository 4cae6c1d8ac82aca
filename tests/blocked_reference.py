"""The blocked numpy path that `item_knn` and `rp3beta` fitted with before the compiled kernel
(models/cooc_kernel.py): a scipy product per block of source tracks, then each row cut to its M
best. Kept as the tests' reference: the kernel must equal it bit for bit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from models.base import IntArray
from models.knn import work_batches


def neighbour_matrix(
    work: NDArray[np.float64],
    M: int,
    budget: float,
    block: Callable[[slice], sp.csr_matrix],
) -> sp.csr_matrix:
    """The (T, T) top-M neighbour matrix, built in blocks of rows.

    work: (T,) a bound on each row's nonzeros; blocks are cut so that their work stays under
    `budget`. block(sl): the (b, T) similarities of rows sl (any sign; only positive ones are
    neighbours, a row's own column is dropped). The kept entries go straight into arrays sized
    by a bound, so the pruned matrix never exists twice (a list of blocks + its concatenation
    would).
    """
    T = len(work)
    bound = int(np.minimum(work, M).sum())
    indices = np.empty(bound, dtype=np.int32)
    data = np.empty(bound, dtype=np.float32)
    indptr = np.zeros(T + 1, dtype=np.int64)
    nnz = 0
    blocks = list(work_batches(work, budget, max_rows=65536))
    for sl in blocks:
        cols, vals, counts = prune_rows(block(sl), M, sl.start)
        indices[nnz : nnz + len(cols)] = cols
        data[nnz : nnz + len(vals)] = vals
        indptr[sl.start + 1 : sl.stop + 1] = nnz + np.cumsum(counts)
        nnz += len(cols)
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


def assert_same_csr(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    """The kernel's matrix equals the blocked path's bit for bit (want's rows sorted first)."""
    want.sort_indices()
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)


def numpy_cooccurrence(BT: sp.csr_matrix, Q: sp.csr_matrix, tracks: IntArray, rows: IntArray):  # type: ignore[no-untyped-def]
    """`rerank`'s co-occurrence features as the numpy path computed them before the kernel:
    the candidates' playlists gathered as rows, their seed counts looked up, summed per pair.
    BT (T, P) track -> playlists, Q (c, T) the queries' seeds, tracks/rows (pairs,)."""
    seeds_in = (Q @ BT).toarray()  # (c, P)
    R = BT[tracks]  # (pairs, P)
    row = np.repeat(np.arange(len(tracks)), np.diff(R.indptr))  # (nnz,)
    vals = seeds_in[rows[row], R.indices]  # (nnz,)
    total = np.bincount(row, weights=vals, minlength=len(tracks)).astype(np.float32)
    anyseed = np.bincount(row, weights=vals > 0, minlength=len(tracks)).astype(np.float32)
    return total, anyseed
