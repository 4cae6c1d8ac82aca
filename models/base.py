"""The one small recommender interface, and the two data types it speaks.

`fit(train) -> self` learns from training playlists; `recommend(queries, k)` returns an int32
array (n_queries, k) of track ids, best first, seeds excluded. A slot may hold -1 when a model
has fewer than k tracks to offer: the runner (not the model) checks the output and backfills
with popularity to exactly k, counting the backfill.

Two optional extras: `recommend_scored(queries, k) -> (ids (n, k), scores (n, k) float32, NaN
where the id is -1)` for models whose scores other models can use as features (the reranker
does), and `artifacts()`, named files the runner writes into the model's run folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from typing_extensions import Self

from harness.errors import ParameterError
from harness.types import IntArray, Queries, TrainSet

__all__ = [
    "CheckpointFn",
    "IntArray",
    "ProgressFn",
    "Queries",
    "Recommender",
    "TrainSet",
    "top_k",
]

# (done, total, unit): e.g. (3, 20, "epoch") after the third of twenty epochs
ProgressFn = Callable[[int, int, str], None]
# (step, total, snapshot): after a checkpoint (an epoch), `snapshot()` builds a recommender that
# answers with the state so far; the callee may raise to stop the fit (tune's pruning)
CheckpointFn = Callable[[int, int, Callable[[], "Recommender"]], None]


class Recommender(BaseEstimator):  # type: ignore[misc]
    """Base class: constructor stores hyperparameters, `fit` learns state ending in `_`.

    Class attributes tell the runner how to treat the model:
    - `cold_start`: "model" if the model answers seedless queries itself, "title" if the runner
      should route them to the shared title baseline.
    - `deterministic`: same seed and data give byte-identical recommendations (under the
      settings in `determinism_note`).
    - `needs_validation`: the model learns from held-out tracks, so `fit` gets a TrainSet whose
      `validation` is set (a challenge-style split of these training playlists, never the
      test split; `train.without_validation()` is what it may fit its base models on). Other
      models get `validation` None.
    - `checkpoints`: `fit` offers a recommender of its state after each epoch to the function
      given to `set_checkpoint` (tune scores it on the validation split and prunes trials).
    """

    cold_start: ClassVar[str] = "title"
    needs_validation: ClassVar[bool] = False
    checkpoints: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    determinism_note: ClassVar[str] = ""

    def check_params(self) -> None:
        """Raise ParameterError naming any invalid hyperparameter. `fit` calls it once before
        `_fit`; the model factory calls it at build time, before any slow step. Models with
        constraints override it."""

    def fit(self, train: TrainSet) -> Self:
        """Check the hyperparameters once, then learn from `train` (subclasses write `_fit`)."""
        self.check_params()
        return self._fit(train)

    def _fit(self, train: TrainSet) -> Self:
        raise NotImplementedError

    def set_progress(self, fn: ProgressFn | None) -> Self:
        """Have `fit` report how far it is to `fn` (the runner draws a bar with an ETA from
        it). Not a hyperparameter: not in `get_params`, not cloned, not in the run key."""
        self._progress_fn = fn
        return self

    def _progress(self, done: int, total: int, unit: str) -> None:
        """Called by a model's `_fit` as units of work finish (epochs, blocks of rows)."""
        fn = getattr(self, "_progress_fn", None)
        if fn is not None:
            fn(done, total, unit)

    def set_checkpoint(self, fn: CheckpointFn | None) -> Self:
        """Have `fit` call `fn(step, total, snapshot)` after each epoch (models with
        `checkpoints`). Not a hyperparameter, like `set_progress`."""
        self._checkpoint_fn = fn
        return self

    def _checkpoint(self, step: int, total: int, snapshot: Callable[[], Recommender]) -> None:
        """Called by a model's `_fit` after each epoch; `snapshot` is built only if asked for."""
        fn = getattr(self, "_checkpoint_fn", None)
        if fn is not None:
            fn(step, total, snapshot)

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        raise NotImplementedError

    def artifacts(self) -> dict[str, Any]:
        """What the fitted model wants kept beside its recommendations, by file name: a name
        ending in `.parquet` maps to a table (column name -> equal-length 1-D array), one ending
        in `.json` to a JSON-able value. The runner writes them into `RUN_DIR/<model>/` and lists
        them in the manifest (e.g. the reranker's feature importances). None by default."""
        return {}


def require(model: str, *rules: tuple[str, Any, bool, str]) -> None:
    """One ParameterError for the first hyperparameter that breaks its rule, worded the same
    for every model: "<model>: <name> must be <rule>, got <value>". rules: (name, value, ok,
    rule), e.g. ("n_neighbors", self.n_neighbors, self.n_neighbors >= 1, ">= 1")."""
    for name, value, ok, rule in rules:
        if not ok:
            raise ParameterError(f"{model}: {name} must be {rule}, got {value}")


def at_least(model: Recommender, name: str, bounds: Mapping[str, float]) -> None:
    """`require` for the commonest rule: each named attribute of `model` is >= its bound."""
    require(
        name,
        *((p, getattr(model, p), getattr(model, p) >= b, f">= {b}") for p, b in bounds.items()),
    )


def top_k(scores: NDArray[np.floating], k: int) -> IntArray:
    """Indices of the k largest scores per row, best first; -1 where a score is -inf.

    scores: (n, m). Ties are broken by the lower index, so results are deterministic.
    """
    n, m = scores.shape
    kk = min(k, m)
    out = np.full((n, k), -1, dtype=np.int32)
    if kk == 0:
        return out
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]  # (n, kk) unordered
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    # sort by (-score, index): lexsort's last key is the primary one
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    idx[~np.isfinite(vals)] = -1
    out[:, :kk] = idx
    return out
