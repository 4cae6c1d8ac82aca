"""`als`: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by implicit's ALS.

The playlist × track matrix is binary; implicit weights an observed entry by confidence `alpha`
(unobserved entries weigh 1) and alternates least-squares solves for the playlist and track
factors (conjugate gradient, `iterations` rounds, `regularization` on both). Queries are folded in:
each query's seed row is solved against the fitted track factors (`recalculate_user`, a Cholesky
solve per query), then scored against every track, seeds and tracks unseen in training filtered
out, top k kept; all in batches whose dense score block stays under `score_budget`.

Why implicit and not numpy: its CG solver and top-k are multithreaded C++ (the same per-row
solve in numpy would be a Python loop over a million playlists).

Seedless queries go to the shared title baseline (`cold_start = "title"`); a query none of whose
seeds occur in training gets a row of -1 (the runner backfills with popularity).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits
from typing_extensions import Self

from harness.errors import ParameterError
from models.base import IntArray, Queries, Recommender, TrainSet
from models.knn import query_matrix, sparse_from_csr

FLOAT_MIN = -np.finfo(np.float32).max  # implicit's score for a filtered item


class ALSRecommender(Recommender):
    """Weighted matrix factorisation by alternating least squares (implicit's CPU solver).

    Parameters
    ----------
    factors : latent dimensions of the playlist and track vectors.
    regularization : L2 penalty on both factor matrices.
    alpha : confidence of an observed (playlist, track) pair; unobserved pairs weigh 1.
    iterations : ALS rounds (each solves all playlists, then all tracks).
    seed : seeds the random initial factors (implicit's `random_state`).
    threads : implicit's worker threads for fitting and scoring (0: every core); BLAS stays at
        one thread. Results do not depend on it (each row's solve is independent).
    score_budget : upper bound on the dense (queries × tracks) score block of one batch, in
        float32 entries (memory knob: 2**26 is 256 MB).
    """

    determinism_note = (
        "always on one machine: seeded initial factors, per-row solves whose result does not "
        "depend on the thread count, BLAS pinned to one thread"
    )

    cold_start = "title"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 0.05,
        alpha: float = 20.0,
        iterations: int = 15,
        seed: int = 0,
        threads: int = 0,
        score_budget: int = 2**26,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.threads = threads
        self.score_budget = score_budget

    def check_params(self) -> None:
        if self.factors < 1:
            raise ParameterError(f"als: factors must be >= 1, got {self.factors}")
        if self.regularization < 0:
            raise ParameterError(f"als: regularization must be >= 0, got {self.regularization}")
        if self.alpha <= 0:
            raise ParameterError(f"als: alpha must be > 0, got {self.alpha}")
        if self.iterations < 1:
            raise ParameterError(f"als: iterations must be >= 1, got {self.iterations}")
        if self.threads < 0:
            raise ParameterError(f"als: threads must be >= 0 (0: every core), got {self.threads}")
        if self.score_budget < 1:
            raise ParameterError(f"als: score_budget must be >= 1, got {self.score_budget}")

    def _fit(self, train: TrainSet) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares

        B = sparse_from_csr(train.offsets, train.track_ids, train.n_tracks)  # (P, T) binary
        with threadpool_limits(limits=1, user_api="blas"):  # implicit's advice, and determinism
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(
                B,
                show_progress=False,
                callback=lambda it, _s, _loss: self._progress(it + 1, self.iterations, "iteration"),
            )
        self.model_ = model  # item_factors (T, factors), user_factors (P, factors)
        self.seen_ = np.diff(B.tocsc().indptr) > 0  # (T,) tracks in some training playlist
        self.n_tracks_ = train.n_tracks
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        n, T = len(queries), self.n_tracks_
        out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
        seeds = np.clip(queries.seed_ids, 0, T - 1)
        known = np.zeros(len(seeds) + 1, dtype=np.int64)  # seeds seen in training, cumulative
        np.cumsum(self.seen_[seeds] & (queries.seed_ids < T), out=known[1:])
        rows = np.flatnonzero(known[queries.seed_offsets[1:]] > known[queries.seed_offsets[:-1]])
        if not len(rows):
            return out
        unseen = np.flatnonzero(~self.seen_).astype(np.int32)
        kk = min(k, T)
        batch = max(1, min(1024, self.score_budget // max(T, 1)))
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(rows), batch):
                sub = rows[start : start + batch]
                Q = query_matrix(queries, sub, T)  # (b, T) binary seeds
                ids, scores = self.model_.recommend(
                    np.arange(len(sub)),
                    Q,
                    N=kk,
                    filter_already_liked_items=True,
                    filter_items=unseen if len(unseen) else None,
                    recalculate_user=True,
                )  # (b, kk) each, best first; filtered items last with FLOAT_MIN
                ids = np.where(scores > FLOAT_MIN, ids, -1)
                out[sub, :kk] = ids
        return out
