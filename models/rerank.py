"""`rerank`: a two-stage recommender, the design of every strong RecSys Challenge 2018 team.

Stage 1 takes the union of the top `n_candidates` tracks of several base models (any registered
names, built with their own defaults). Stage 2 orders that union with a LightGBM LambdaRank model
over per-(playlist, candidate) features (models/rerank_features.py: each base model's rank and
score, popularity, artist and album overlap with the seeds, title signals, co-occurrence with
the seeds).

Training never sees the test split: the base models fit on `train.without_validation()` (every
training playlist except the validation ones), answer the validation split's queries, and the
validation holdouts label the candidates. A seeded part of the validation queries
(`stop_fraction`) early-stops LightGBM and measures the result (`fit_info_`). With `refit`
(default) the base models then fit again on the whole training set, so test-time candidates come
from the same data every other model sees; this doubles the base models' fit time.

Why LightGBM rather than a hand-written learning-to-rank model: LambdaRank's pairwise
gradients, histogram-binned gradient-boosted trees, missing-value handling, early stopping and a
deterministic mode are each a project of their own; LightGBM has them tested and fast in C++.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Self

from harness.errors import ParameterError, UsageError
from harness.types import Validation
from models.base import IntArray, Queries, Recommender, TrainSet, at_least
from models.rerank_features import (
    F32,
    Candidates,
    TrackStats,
    artist_labels,
    labels,
    model_features,
    pair_features,
    summary_features,
    union_candidates,
)

OBJECTIVES = ("lambdarank", "rank_xendcg", "binary")
COUNTS = ("n_candidates", "n_estimators", "num_leaves", "min_child_samples",
          "early_stopping_rounds", "eval_at", "truncation", "batch_size", "num_threads")  # fmt: skip


@dataclass(frozen=True)
class Labels:
    """What each (validation query, candidate) pair is: (n_pairs,) arrays."""

    track: F32  # 1 when the candidate is a held-out track
    artist: F32  # 1 when its artist is a held-out track's artist
    ids: IntArray  # the candidate track

    def graded(self, artist_gain: float) -> F32:
        """LambdaRank's labels: 2 a held-out track, 1 an artist-only match (gain
        `artist_gain`), 0 otherwise; only 0/1 tracks when artist_gain is 0."""
        if artist_gain <= 0:
            return self.track
        return np.where(self.track > 0, 2.0, self.artist).astype(np.float32)


class RerankRecommender(Recommender):
    """Candidates from base models, reordered by LightGBM LambdaRank learnt on the validation split.

    Parameters
    ----------
    base_models : comma-separated registered model names giving candidates and features.
    n_candidates : M, the candidates taken from each base model.
    n_estimators : most boosting rounds (early stopping picks fewer).
    learning_rate, num_leaves, min_child_samples : LightGBM's tree settings.
    early_stopping_rounds : stop after this many rounds without a better NDCG on the stop part.
    stop_fraction : share of the validation queries held out to early-stop and measure.
    eval_at : NDCG cut-off of early stopping.
    objective : "lambdarank" (LambdaRank), "rank_xendcg" (a listwise loss, linear in the
        candidates) or "binary" (pointwise log loss).
    truncation : LambdaRank's truncation level: pairs are formed with the top this many of
        each query's current ranking (cost grows with it).
    artist_gain : LambdaRank's gain for a candidate whose artist (not the track) is held out,
        a held-out track's gain being 1; 0 learns from track hits only. The challenge's
        R-precision credits such an artist match a quarter of a hit.
    full_ranker : once early stopping has found the number of rounds, train the ranker again
        for that many rounds on every validation query (the stop part included).
    refit : fit the base models again on the whole training set for test-time candidates.
    batch_size : queries per candidate and feature batch (memory knob).
    num_threads : LightGBM threads (fixed, for determinism).
    seed : seeds LightGBM and the choice of the stop part.
    """

    cold_start = "model"
    needs_validation: ClassVar[bool] = True
    determinism_note = (
        "when every base model is: LightGBM runs with deterministic=True, a fixed num_threads "
        "and the seed; ties go to the better base-model rank, then the lower track id"
    )

    def __init__(
        self,
        base_models: str = "knn,item_knn,title,popular,als,rp3beta",
        n_candidates: int = 200,
        n_estimators: int = 400,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        early_stopping_rounds: int = 30,
        stop_fraction: float = 0.2,
        eval_at: int = 100,
        objective: str = "lambdarank",
        truncation: int = 60,
        artist_gain: float = 0.0,
        full_ranker: bool = True,
        refit: bool = True,
        batch_size: int = 500,
        num_threads: int = 2,
        seed: int = 0,
    ) -> None:
        self.base_models = base_models
        self.n_candidates = n_candidates
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.stop_fraction = stop_fraction
        self.eval_at = eval_at
        self.objective = objective
        self.truncation = truncation
        self.artist_gain = artist_gain
        self.full_ranker = full_ranker
        self.refit = refit
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.seed = seed

    # ------------------------------------------------------------------ parameters

    def base_names(self) -> list[str]:
        return [n.strip() for n in self.base_models.split(",") if n.strip()]

    def check_params(self) -> None:
        from models import available_models

        names = self.base_names()
        known = available_models()
        if not names:
            raise ParameterError("rerank: base_models names no model")
        for n in names:
            if n not in known or n == "rerank":
                raise ParameterError(
                    f"rerank: base model {n!r} is not a registered model other than rerank; "
                    f"available: {', '.join(m for m in known if m != 'rerank')}"
                )
        if len(set(names)) != len(names):
            raise ParameterError(f"rerank: base_models repeats a name: {self.base_models!r}")
        at_least(self, "rerank", dict.fromkeys(COUNTS, 1))
        if self.objective not in OBJECTIVES:
            raise ParameterError(
                f"rerank: objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )
        if not 0.0 < self.stop_fraction < 1.0:
            raise ParameterError(
                f"rerank: stop_fraction must be in (0, 1), got {self.stop_fraction}"
            )
        if not 0.0 <= self.artist_gain < 1.0:
            raise ParameterError(f"rerank: artist_gain must be in [0, 1), got {self.artist_gain}")
        if not self.learning_rate > 0:
            raise ParameterError(f"rerank: learning_rate must be > 0, got {self.learning_rate}")

    # ------------------------------------------------------------------ fitting

    def _fit_bases(self, train: TrainSet) -> list[Recommender]:
        from models import get_model

        return [get_model(n).fit(train) for n in self.base_names()]

    def _fit(self, train: TrainSet) -> Self:
        val = train.validation
        if val is None or not len(val.rows):
            raise UsageError(
                "rerank learns from a validation split and this training set has none: run it "
                "through `mpd-harness evaluate` (which draws one) or give `split --validation N`"
            )
        inner = train.without_validation()
        seconds: dict[str, float] = {}
        clock = time.perf_counter()

        def stage(name: str, done: int) -> None:
            nonlocal clock
            now = time.perf_counter()
            seconds[name] = round(now - clock, 2)
            clock = now
            self._progress(done, 4, "stage")

        self._progress(0, 4, "stage")
        bases, stats = self._fit_bases(inner), TrackStats(inner)
        stage("bases_s", 1)
        X, y, query, names = self._training_rows(bases, stats, val, inner.track_artist)
        self.feature_names_ = names
        stage("features_s", 2)
        self.booster_, info = self._train_ranker(X, y, query, val)
        stage("ranker_s", 3)
        del X, y, query
        if self.refit:
            del bases, stats
            bases, stats = self._fit_bases(train), TrackStats(train)
        stage("refit_s", 4)
        self.bases_, self.stats_ = bases, stats
        self.deterministic_ = all(
            bool(getattr(b, "deterministic_", b.deterministic)) for b in bases
        )
        self.fit_info_ = info | {"seconds": seconds}
        return self

    def _training_rows(
        self, bases: list[Recommender], stats: TrackStats, val: Validation, track_artist: IntArray
    ) -> tuple[F32, Labels, NDArray[np.int64], list[str]]:
        """Features (n_pairs, F), labels and validation query index of every candidate pair."""
        Xs, ys, arts, ids, qs = [], [], [], [], []
        names: list[str] = []
        for rows, cands, X, batch_names in self._batches(bases, stats, val.queries):
            names = batch_names
            a = rows[0]
            ho = val.holdout_offsets[a : rows[-1] + 2] - val.holdout_offsets[a]
            held = val.holdout_ids[val.holdout_offsets[a] : val.holdout_offsets[rows[-1] + 1]]
            Xs.append(X)
            ys.append(labels(cands, ho, held))
            arts.append(artist_labels(cands, ho, held, track_artist))
            ids.append(cands.track)
            qs.append(rows[cands.query])
        y = Labels(np.concatenate(ys), np.concatenate(arts), np.concatenate(ids))
        return np.concatenate(Xs), y, np.concatenate(qs), names

    def _train_ranker(
        self, X: F32, y: Labels, query: NDArray[np.int64], val: Validation
    ) -> tuple[Any, dict[str, Any]]:
        """LambdaRank on the validation queries outside the stop part, early-stopped on it;
        with `full_ranker`, trained again on every validation query for the rounds found."""
        import lightgbm as lgb

        n = len(val.rows)
        stop = np.zeros(n, dtype=bool)
        n_stop = min(n - 1, max(1, round(self.stop_fraction * n))) if n > 1 else 0
        stop[np.random.default_rng(self.seed).permutation(n)[:n_stop]] = True
        positives = np.bincount(query, weights=y.track, minlength=n) > 0  # (n,)
        fit_rows = ~stop[query] & positives[query]
        stop_rows = stop[query] & positives[query]
        if not fit_rows.any():
            raise UsageError(
                "rerank: no held-out track of the validation queries is among the candidates; "
                "raise n_candidates or give a larger validation split"
            )
        params, g = self._lgb_params(), y.graded(self.artist_gain)
        train_set = self._dataset(lgb, X, g, query, fit_rows)
        callbacks: list[Any] = []
        valid: list[Any] = []
        if stop_rows.any():
            valid = [self._dataset(lgb, X, g, query, stop_rows, reference=train_set)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        booster = lgb.train(
            params, train_set, self.n_estimators, valid_sets=valid, callbacks=callbacks
        )
        rounds = int(booster.best_iteration or booster.current_iteration())
        self.best_iteration_ = rounds
        info = {
            "validation_queries": n,
            "stop_queries": int(stop.sum()),
            "fit_pairs": int(fit_rows.sum()),
            "best_iteration": rounds,
            "early_stopped": bool(stop_rows.any()),
            "features": len(self.feature_names_),
        }
        info |= self._validation_scores(booster, X, y, query, stop, val)
        if self.full_ranker and stop_rows.any():
            # the stop part's scores above are the early-stopped ranker's (it never saw them)
            every = self._dataset(lgb, X, g, query, positives[query])
            booster = lgb.train(params, every, rounds)
            self.best_iteration_ = booster.current_iteration()
            info["final_pairs"] = int(positives[query].sum())
        return booster, info

    def _lgb_params(self) -> dict[str, Any]:
        """LightGBM's settings: the ranking objective and trees, deterministic and seeded."""
        return {
            "objective": self.objective,
            "metric": "ndcg",
            "eval_at": [self.eval_at],
            "lambdarank_truncation_level": self.truncation,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "verbose": -1,
        } | ({"label_gain": [0.0, self.artist_gain, 1.0]} if self.artist_gain > 0 else {})

    def _dataset(
        self,
        lgb: Any,
        X: F32,
        y: F32,
        query: NDArray[np.int64],
        rows: NDArray[np.bool_],
        reference: Any = None,
    ) -> Any:
        """A LightGBM Dataset of the selected rows, grouped by query (rows are query-sorted)."""
        sizes = np.bincount(query[rows])
        return lgb.Dataset(
            X[rows],
            label=y[rows],
            group=sizes[sizes > 0],
            feature_name=self.feature_names_,
            reference=reference,
            params={"verbose": -1, "seed": self.seed, "num_threads": self.num_threads},
            free_raw_data=True,
        )

    def _validation_scores(
        self,
        booster: Any,
        X: F32,
        y: Labels,
        query: NDArray[np.int64],
        stop: NDArray[np.bool_],
        val: Validation,
    ) -> dict[str, Any]:
        """Track R-precision on the stop part: the reranker's and each base model's top |G|
        (no artist credit: models do not import the harness's metrics), and the share of
        held-out tracks among the candidates. Each model's top |G| lists are kept in
        `stop_lists_` ((n_stop, max |G|) track ids, -1 padded; rows `stop_rows_` of the
        validation split) for scorers outside the model (bench/sweep_rerank.py)."""
        rows, idx = stop[query], np.flatnonzero(stop)
        size = np.array([len(np.unique(val.holdouts(int(i)))) for i in idx], dtype=np.int64)
        if not rows.any() or not size.sum():
            return {}
        q = query[rows]
        qpos = np.searchsorted(idx, q)  # (pairs,) position among the stop queries
        pred = booster.predict(X[rows], num_iteration=self.best_iteration_)
        Xs, ys, ids = X[rows], y.track[rows], y.ids[rows]
        order = np.lexsort((Xs[:, self.feature_names_.index("best_rank")], -pred, q))
        rank = np.empty(len(q), np.int64)
        starts = np.searchsorted(q[order], q[order], side="left")
        rank[order] = np.arange(len(q)) - starts + 1
        K = int(size.max())
        self.stop_rows_ = idx
        self.stop_lists_: dict[str, IntArray] = {}

        def rprec(name: str, r: NDArray[Any]) -> NDArray[np.float64]:
            """(n_stop,) track R-precision of each stop query for 1-based ranks r; keeps the
            top |G| list."""
            top = r <= size[qpos]
            lists = np.full((len(idx), K), -1, dtype=np.int32)
            lists[qpos[top], r[top].astype(np.int64) - 1] = ids[top]
            self.stop_lists_[name] = lists
            return np.bincount(qpos, weights=ys * top, minlength=len(idx)) / np.maximum(size, 1)

        per_query = {"rerank": rprec("rerank", rank)}
        for name in self.base_names():  # rank M + 1 marks "not proposed"
            col = Xs[:, self.feature_names_.index(f"{name}_rank")]
            per_query[name] = rprec(name, np.where(col <= self.n_candidates, col, K + 1))
        cats = val.queries.categories[stop]
        self.validation_scores_ = {
            "note": "track R-precision (no artist credit) of the top |G| on the validation "
            "queries held out from training the ranker (the stop part)",
            "overall": {m: round(float(v.mean()), 5) for m, v in per_query.items()},
            "categories": {
                str(c): {m: round(float(v[cats == c].mean()), 5) for m, v in per_query.items()}
                for c in np.unique(cats)
            },
            "candidate_recall": round(float(ys.sum() / size.sum()), 5),
        }
        return {
            "stop_rprec_tracks": self.validation_scores_["overall"],
            "stop_candidate_recall": self.validation_scores_["candidate_recall"],
        }

    # ------------------------------------------------------------------ features

    def _batches(
        self, bases: list[Recommender], stats: TrackStats, queries: Queries
    ) -> Iterator[tuple[NDArray[np.int64], Candidates, F32, list[str]]]:
        """(query positions, candidates, features (n_pairs, F), feature names) per batch."""
        for s in range(0, len(queries), self.batch_size):
            rows = np.arange(s, min(s + self.batch_size, len(queries)), dtype=np.int64)
            sub = queries.subset(rows)
            cands, cols = self._features(bases, stats, sub)
            names = list(cols)
            X = (
                np.column_stack([cols[f] for f in names])
                if len(cands)
                else np.zeros((0, len(names)), np.float32)
            )
            yield rows, cands, X.astype(np.float32, copy=False), names

    def _features(
        self, bases: list[Recommender], stats: TrackStats, sub: Queries
    ) -> tuple[Candidates, dict[str, F32]]:
        """Stage 1 for a batch (the candidate union) and every feature column of its pairs."""
        m = self.n_candidates
        answers: list[tuple[IntArray, F32 | None]] = []
        for base in bases:
            scored = getattr(base, "recommend_scored", None)
            answers.append(scored(sub, m) if scored is not None else (base.recommend(sub, m), None))
        cands = union_candidates([a[0] for a in answers], sub, stats.n_tracks)
        cols: dict[str, F32] = {}
        for name, (ranked, scores) in zip(self.base_names(), answers, strict=True):
            cols |= model_features(name, cands, ranked, scores)
        cols |= summary_features(cols, self.base_names(), m)
        cols |= pair_features(stats, sub, cands)
        return cands, cols

    # ------------------------------------------------------------------ recommending

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.full((len(queries), k), -1, dtype=np.int32)  # (n, k)
        tie = self.feature_names_.index("best_rank")
        for rows, cands, X, names in self._batches(self.bases_, self.stats_, queries):
            if names != self.feature_names_:
                raise UsageError(f"rerank: features {names} differ from the fitted ones")
            if not len(cands):
                continue
            pred = self.booster_.predict(
                X, num_iteration=self.best_iteration_, num_threads=self.num_threads
            )  # (n_pairs,)
            # best first per query; ties to the better base rank, then the lower track id
            order = np.lexsort((cands.track, X[:, tie], -pred, cands.query))
            q, t = cands.query[order], cands.track[order]
            pos = np.arange(len(order)) - cands.offsets[q]  # (n_pairs,) place in its query
            keep = pos < k
            out[rows[q[keep]], pos[keep]] = t[keep]
        return out

    def artifacts(self) -> dict[str, Any]:
        """Feature importances of the fitted ranker (total gain and number of splits), and the
        scores of the reranker and its base models on the stop part, overall and by category."""
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        split = self.booster_.feature_importance("split", iteration=self.best_iteration_)
        order = np.argsort(-gain, kind="stable")
        return {
            "validation_scores.json": getattr(self, "validation_scores_", {}),
            "feature_importance.parquet": {
                "feature": [self.feature_names_[i] for i in order],
                "gain": gain[order].astype(np.float64),
                "split": split[order].astype(np.int64),
            },
        }
