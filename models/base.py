"""The one small recommender interface, and the two data types it speaks.

`fit(train) -> self` learns from training playlists; `recommend(queries, k)` returns an int32
array (n_queries, k) of track ids, best first, seeds excluded. A slot may hold -1 when a model
has fewer than k tracks to offer: the runner (not the model) checks the output and backfills
with popularity to exactly k, counting the backfill.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from typing_extensions import Self

from harness.types import IntArray, Queries, TrainSet

__all__ = ["IntArray", "ProgressFn", "Queries", "Recommender", "TrainSet", "top_k"]

# (done, total, unit): e.g. (3, 20, "epoch") after the third of twenty epochs
ProgressFn = Callable[[int, int, str], None]


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
    """

    cold_start: ClassVar[str] = "title"
    needs_validation: ClassVar[bool] = False
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

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        raise NotImplementedError


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
