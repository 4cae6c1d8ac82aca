"""`als`: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by implicit's ALS.

The playlist × track matrix is binary. implicit (0.7) gives an observed (playlist, track) pair
the confidence `alpha` (unobserved pairs weigh 1, preference 0) and alternates least-squares
solves for the playlist and the track factors (conjugate gradient, `iterations` rounds,
`regularization` on both). implicit 0.7 takes the playlist × track ("user × item") matrix in
`fit` and `recommend`; 0.4 and older took it transposed, hence the pinned range in pyproject
and the test that the learned item factors are per track.

Queries are folded in: each query's seed row is solved against the fitted track factors
(`recalculate_user`: x = (Y^T C Y + reg I)^-1 Y^T C p, one Cholesky solve per query, in C++),
then scored against every track, seeds and tracks unseen in training filtered out, top k kept.
Queries go to implicit in batches of score_budget // n_tracks (the dense queries × tracks
score block of one batch is at most max(score_budget, 100 × n_tracks) floats), the batches on
`threads` threads.

Why implicit and not numpy: its CG solver and top-k are multithreaded C++; the same per-row
solve in numpy would be a Python loop over a million playlists.

Seedless queries go to the shared title baseline (`cold_start = "title"`); a query none of whose
seeds occur in training gets a row of -1 (the runner sends it to the title baseline too).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits
from typing_extensions import Self

from harness.errors import UsageError
from models.base import IntArray, Queries, Recommender, TrainSet, at_least, require
from models.knn import query_matrix, sparse_from_csr

FLOAT_MIN = -np.finfo(np.float32).max  # implicit's score for a filtered item
DEVICES = ("cpu", "cuda", "auto")


class ALSRecommender(Recommender):
    """Weighted matrix factorisation by alternating least squares (implicit's CPU solver).

    Parameters
    ----------
    factors : latent dimensions of the playlist and track vectors.
    regularization : L2 penalty on both factor matrices.
    alpha : confidence of an observed (playlist, track) pair; unobserved pairs weigh 1.
    iterations : ALS rounds (each solves all playlists, then all tracks).
    seed : seeds the random initial factors (implicit's `random_state`).
    threads : implicit's worker threads for fitting, and the threads that score batches of
        queries (0: every core); BLAS stays at one thread. Results do not depend on it (each
        row's solve and each query's scores are independent).
    score_budget : queries per batch = score_budget // n_tracks (1 to 1,024): bounds the dense
        (queries × tracks) float32 score block of each scoring thread (memory knob: 2**26 is
        256 MB; implicit itself never scores more than 100 queries at once per thread).
    device : "cpu"; "cuda" fits with implicit's CUDA solver (needs an implicit built with CUDA:
        its PyPI wheels are CPU-only), "auto" does when it can. Queries are answered on the CPU.
    """

    determinism_note = (
        "on the CPU, always on one machine: seeded initial factors, per-row solves whose result "
        "does not depend on the thread count, BLAS pinned to one thread"
    )

    cold_start = "title"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 0.05,
        alpha: float = 20.0,
        iterations: int = 8,
        seed: int = 0,
        threads: int = 0,
        score_budget: int = 2**26,
        device: str = "cpu",
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.threads = threads
        self.score_budget = score_budget
        self.device = device

    def check_params(self) -> None:
        bounds = {"factors": 1, "regularization": 0, "iterations": 1, "threads": 0}
        at_least(self, "als", bounds | {"score_budget": 1})
        require(
            "als",
            ("alpha", self.alpha, self.alpha > 0, "> 0"),
            ("device", repr(self.device), self.device in DEVICES, f"one of {DEVICES}"),
        )

    def _on_gpu(self) -> bool:
        """Whether the fit runs on implicit's CUDA solver: 'auto' when implicit was built with
        CUDA and sees a GPU; 'cuda' insists (an error naming why when it cannot)."""
        if self.device == "cpu":
            return False
        import implicit.gpu

        if implicit.gpu.HAS_CUDA:
            return True
        if self.device == "cuda":
            raise UsageError(
                "als: device='cuda' but this implicit has no CUDA support (its PyPI wheels are "
                "CPU-only; build implicit with CUDA, or use device='auto' or 'cpu')"
            )
        return False

    def _fit(self, train: TrainSet) -> Self:
        B = sparse_from_csr(train.offsets, train.track_ids, train.n_tracks)  # (P, T) binary
        gpu = self._on_gpu()
        kw = dict(factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                  iterations=self.iterations, random_state=self.seed)  # fmt: skip
        with threadpool_limits(limits=1, user_api="blas"):  # implicit's advice, and determinism
            if gpu:
                from implicit.gpu.als import AlternatingLeastSquares as GPUSolver

                model: Any = GPUSolver(**kw)
            else:
                from implicit.cpu.als import AlternatingLeastSquares

                model = AlternatingLeastSquares(**kw, num_threads=self.threads)
            model.fit(
                B,
                show_progress=False,
                callback=lambda it, _s, _loss: self._progress(it + 1, self.iterations, "iteration"),
            )
        # item_factors (T, factors), user_factors (P, factors); queries are answered on the CPU
        self.model_ = model.to_cpu() if gpu else model
        self.deterministic_ = not gpu  # the CUDA solver's reductions are not ordered
        self.seen_ = np.diff(B.tocsc().indptr) > 0  # (T,) tracks in some training playlist
        self.n_tracks_ = train.n_tracks
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return self.recommend_scored(queries, k)[0]

    def recommend_scored(
        self, queries: Queries, k: int = 500
    ) -> tuple[IntArray, NDArray[np.float32]]:
        """`recommend`'s (n, k) ids and their (n, k) factor dot products (NaN where -1)."""
        n, T = len(queries), self.n_tracks_
        out = np.full((n, k), -1, dtype=np.int32)  # (n, k)
        out_scores = np.full((n, k), np.nan, dtype=np.float32)  # (n, k)
        seeds = np.clip(queries.seed_ids, 0, T - 1)
        known = np.zeros(len(seeds) + 1, dtype=np.int64)  # seeds seen in training, cumulative
        np.cumsum(self.seen_[seeds] & (queries.seed_ids < T), out=known[1:])
        rows = np.flatnonzero(known[queries.seed_offsets[1:]] > known[queries.seed_offsets[:-1]])
        if not len(rows):
            return out, out_scores
        unseen = np.flatnonzero(~self.seen_).astype(np.int32)
        unseen_or_none = unseen if len(unseen) else None
        kk = min(k, T)
        batch = max(1, min(1024, self.score_budget // max(T, 1)))

        def run(sub: NDArray[np.int64]) -> tuple[NDArray[np.int64], IntArray, NDArray[np.float32]]:
            Q = query_matrix(queries, sub, T)  # (b, T) binary seeds
            ids, scores = self.model_.recommend(
                np.arange(len(sub)),
                Q,
                N=kk,
                filter_already_liked_items=True,
                filter_items=unseen_or_none,
                recalculate_user=True,
            )  # (b, kk) each, best first; filtered items last with FLOAT_MIN
            return sub, ids, scores

        # implicit scores a call of at most 100 queries on the calling thread alone (it starts
        # its pool only for more), and at 1M tracks a budgeted batch is ~29 queries: so the
        # batches go to `threads` threads here (BLAS and implicit's top-k release the GIL)
        subs = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        threads = min(self.threads or os.cpu_count() or 1, len(subs))
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            for sub, ids, scores in pool.map(run, subs):
                ids = np.where(scores > FLOAT_MIN, ids, -1)
                out[sub, :kk] = ids
                out_scores[sub, :kk] = np.where(ids >= 0, scores, np.nan)
        return out, out_scores
