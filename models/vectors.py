"""Recommending from track embeddings: shared by `w2v` (gensim) and `sgns` (PyTorch).

Query vector = mean of the L2-normalised vectors of the seeds that have a vector (unweighted:
every seed counts once, duplicates included). Scores = cosine against every track vector,
computed in chunks of queries with a torch matmul + topk, so memory stays
O(chunk × n_tracks) and no dense query × catalogue matrix is ever built whole.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.base import IntArray, Queries


def normalize_rows(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit length; zero rows (tracks without a vector) stay zero."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def recommend_from_vectors(
    vectors: NDArray[np.float32],
    queries: Queries,
    k: int,
    *,
    chunk: int = 256,
    device: str = "cpu",
) -> IntArray:
    """Top-k tracks by cosine to the mean seed vector, seeds and vector-less tracks excluded.

    vectors: (n_tracks, d) unit rows, zero rows for tracks without a vector.
    Returns (n_queries, k) int32, -1 where a query has no usable seed or fewer than k candidates.
    """
    import torch

    n, (n_tracks, d) = len(queries), vectors.shape
    out = np.full((n, k), -1, dtype=np.int32)
    V = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(device)  # (T, d)
    has_vec = V.abs().sum(dim=1) > 0  # (T,)
    kk = min(k, n_tracks)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        rows = np.arange(start, stop)
        Q = np.zeros((len(rows), d), dtype=np.float32)  # (c, d)
        usable = np.zeros(len(rows), dtype=bool)
        seed_rows, seed_cols = [], []
        for j, i in enumerate(rows):
            s = queries.seeds(int(i))
            if len(s):
                sv = vectors[s]  # (n_seeds, d)
                ok = np.abs(sv).sum(axis=1) > 0
                if ok.any():
                    Q[j] = sv[ok].mean(axis=0)
                    usable[j] = True
                seed_rows.append(np.full(len(s), j))
                seed_cols.append(s)
        if not usable.any():
            continue
        S = torch.from_numpy(Q).to(device) @ V.T  # (c, T) cosine up to the query's norm
        S[:, ~has_vec] = -torch.inf
        if seed_rows:
            r = torch.from_numpy(np.concatenate(seed_rows)).to(device)
            c = torch.from_numpy(np.concatenate(seed_cols).astype(np.int64)).to(device)
            S[r, c] = -torch.inf
        vals, idx = torch.topk(S, kk, dim=1)  # (c, kk) best first
        idx = idx.to(torch.int32)
        idx[~torch.isfinite(vals)] = -1
        block = idx.cpu().numpy()
        block[~usable] = -1
        out[start:stop, :kk] = block
    return out
