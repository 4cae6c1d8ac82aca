"""Recommending from track embeddings: shared by `w2v` (gensim) and `sgns` (PyTorch).

Query vector = mean of the L2-normalised vectors of the seeds that have a vector (unweighted:
every seed counts once, duplicates included; seeds without a vector are ignored). Scores =
cosine against every track that has a vector, computed in blocks of queries with a torch matmul
+ topk, so memory stays O(block × n_tracks) and no dense query × catalogue matrix is built whole.
Ranking by the dot product with the mean equals ranking by cosine: the query's norm is one
positive factor per row.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from models.base import IntArray, Queries

# Scores held at once per block: 2**27 float32 = 512 MiB (at MPD scale, 2.26M tracks, that is
# 59 queries per block).
MAX_BLOCK_SCORES = 1 << 27


def normalize_rows(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit length; zero rows (tracks without a vector) stay zero."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def has_vector(vectors: NDArray[np.floating]) -> NDArray[np.bool_]:
    """(n_tracks,) True where the row is not all zeros."""
    return np.asarray(np.any(vectors != 0, axis=1))


def query_vectors(
    vectors: NDArray[np.float32], queries: Queries, usable_track: NDArray[np.bool_]
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Mean vector of each query's seeds that have a vector, and whether there was one.

    vectors: (n_tracks, d); usable_track: (n_tracks,). Returns Q (n, d) and usable (n,).
    """
    n, (n_tracks, _) = len(queries), vectors.shape
    rows = np.repeat(np.arange(n), queries.n_seeds)  # (n_seeds,) query of each seed
    cols = queries.seed_ids.astype(np.int64)  # (n_seeds,)
    ok = usable_track[cols]
    rows, cols = rows[ok], cols[ok]
    n_ok = np.bincount(rows, minlength=n)  # (n,) seeds with a vector per query
    weights = 1.0 / n_ok[rows]  # a mean: each usable seed counts 1 / n_ok
    A = sp.csr_matrix((weights, (rows, cols)), shape=(n, n_tracks), dtype=np.float32)
    Q = np.asarray(A @ vectors, dtype=np.float32)  # (n, d)
    return Q, n_ok > 0


def recommend_from_vectors(
    vectors: NDArray[np.float32],
    queries: Queries,
    k: int,
    *,
    chunk: int = 256,
    device: str = "cpu",
    max_block_scores: int = MAX_BLOCK_SCORES,
    candidates: NDArray[np.bool_] | None = None,
) -> IntArray:
    """Top-k tracks by cosine to the mean seed vector, seeds and vector-less tracks excluded.

    vectors: (n_tracks, d) unit rows, zero rows for tracks without a vector.
    candidates: (n_tracks,) tracks that may be recommended (default: all); a track needs a
    vector as well. Seeds are not restricted by it.
    chunk: at most this many queries per block; fewer when chunk × n_candidates would exceed
    `max_block_scores`. device: torch device of the matmul and top-k ("cpu", "cuda", ...).
    Returns (n_queries, k) int32, best first; a whole row of -1 where a query has no seed with a
    vector, trailing -1 where fewer than k candidates remain.
    """
    import torch

    n, n_tracks = len(queries), vectors.shape[0]
    out = np.full((n, k), -1, dtype=np.int32)
    usable_track = has_vector(vectors)  # (T,)
    Q, usable = query_vectors(vectors, queries, usable_track)  # (n, d), (n,)
    can = usable_track if candidates is None else usable_track & candidates  # (T,)
    cand = np.flatnonzero(can)  # (C,) track ids that can be recommended
    n_cand = len(cand)
    if n_cand == 0 or k == 0 or not usable.any():
        return out
    cand_pos = np.full(n_tracks, -1, dtype=np.int64)  # track id -> column in the candidate block
    cand_pos[cand] = np.arange(n_cand)
    V = torch.from_numpy(np.ascontiguousarray(vectors[cand], dtype=np.float32)).to(device)  # (C, d)
    cand_t = torch.from_numpy(cand.astype(np.int64)).to(device)  # (C,)
    kk = min(k, n_cand)
    block = max(1, min(chunk, max_block_scores // n_cand))
    todo = np.flatnonzero(usable)  # queries worth scoring
    for start in range(0, len(todo), block):
        rows = todo[start : start + block]  # (c,)
        S = torch.from_numpy(Q[rows]).to(device) @ V.T  # (c, C)
        # exclude each query's seeds that are candidates
        lens = queries.n_seeds[rows]
        seed_cols = cand_pos[
            np.concatenate([queries.seeds(int(i)) for i in rows]).astype(np.int64)
        ]  # (sum lens,)
        seed_rows = np.repeat(np.arange(len(rows)), lens)
        hit = seed_cols >= 0
        S[
            torch.from_numpy(seed_rows[hit]).to(device),
            torch.from_numpy(seed_cols[hit]).to(device),
        ] = -torch.inf
        vals, idx = torch.topk(S, kk, dim=1)  # (c, kk) best first
        ids = cand_t[idx]  # (c, kk) track ids
        ids[~torch.isfinite(vals)] = -1
        out[rows, :kk] = ids.to(torch.int32).cpu().numpy()
    return out
