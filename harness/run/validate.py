"""Score a model on the validation split: what tuning compares, never the test split.

`validate(model, train)` fits `model` on `train.without_validation()` (every training playlist
but the validation ones), answers the validation queries exactly as `evaluate` answers the test
queries (the runner's checks, seedless and unanswered queries to the title baseline, popularity
backfill to k) and scores them against the validation split's held-out tracks with every
registered metric. Nothing here reads a split folder: `train` (`TrainSet.validation`) holds all
it needs, e.g. from `harness.challenge.split.validation_train_set`, which never opens the test
split's ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.errors import UsageError
from harness.progress import SILENT, Reporter
from harness.run.checks import backfill
from harness.run.context import DEFAULT_K
from harness.run.evaluate import answer_queries, class_path, fit_with_progress, needs_validation
from harness.run.manifest import RssSampler
from harness.types import IntArray, TrainSet

if TYPE_CHECKING:
    from models.base import Recommender


@dataclass(frozen=True)
class Validated:
    """A model's answers to the validation queries and their scores."""

    recs: IntArray  # (n_validation, k) after backfill, validation query order
    metrics: dict[str, NDArray[np.float64]]  # metric -> (n_validation,) per playlist
    scores: dict[str, Any]  # {"overall": {metric: mean, "n", "missing"}, "categories": {...}}
    fit_s: float
    recommend_s: float
    backfilled: NDArray[np.int32]  # (n_validation,) slots filled by popularity


def validate(
    model: Recommender,
    train: TrainSet,
    *,
    k: int = DEFAULT_K,
    name: str | None = None,
    reporter: Reporter = SILENT,
    track_uris: NDArray[np.object_] | None = None,
) -> Validated:
    """Fit `model` on the training playlists minus the validation ones and score it on the
    validation split of `train` (see the module docstring). `track_uris` only names tracks in
    error messages.

    Raises UsageError when `train` has no validation split, or when the model itself learns from
    the validation split (`needs_validation`): its score there would be a training score.
    """
    from harness.challenge.scoring import score_validation, validation_metrics
    from models.popular import popularity_ranking
    from models.title import TitleRecommender

    label = name or class_path(model)
    v = train.validation
    if v is None:
        raise UsageError(
            f"{label}: the training set has no validation split "
            "(`mpd-harness split --validation N`, or evaluate --validation N)"
        )
    if needs_validation(model):
        raise UsageError(f"{label}: learns from the validation split, so it cannot be scored on it")
    if k < 1:
        raise UsageError(f"k {k}: must be at least 1")
    fit_train = train.without_validation()
    with reporter.step(f"{label}: fit") as advance, RssSampler() as fit:
        fit_with_progress(model, fit_train, label, advance)
    titles: list[Recommender] = []

    def title() -> Recommender:
        if not titles:
            titles.append(TitleRecommender().fit(fit_train))
        return titles[0]

    raw, _, _, rec_s = answer_queries(
        model,
        v.queries,
        k,
        name=label,
        n_tracks=train.n_tracks,
        title=title,
        reporter=reporter,
        track_uris=track_uris,
    )
    recs, backfilled = backfill(raw, v.queries, popularity_ranking(fit_train), k)
    return Validated(
        recs=recs,
        metrics=validation_metrics(recs, v, train.track_artist),
        scores=score_validation(recs, v, train.track_artist),
        fit_s=fit.seconds,
        recommend_s=rec_s,
        backfilled=backfilled,
    )
