"""A `knn` that sleeps before it fits, so that a test can kill `tune` while a trial runs
(tests/test_tune.py; imported by Ray's workers as `tune_slow_model:SlowKNN`)."""

from __future__ import annotations

import time

from typing_extensions import Self

from models.base import TrainSet
from models.knn import KNNRecommender


class SlowKNN(KNNRecommender):
    name = "slow_knn"

    def __init__(
        self,
        k_neighbors: int = 200,
        alpha: float = 0.5,
        weighting: str = "idf",
        work_budget: int = 20_000_000,
        delay: float = 1.0,
    ) -> None:
        super().__init__(k_neighbors, alpha, weighting, work_budget)
        self.delay = delay

    def _fit(self, train: TrainSet) -> Self:
        time.sleep(self.delay)
        return super()._fit(train)
