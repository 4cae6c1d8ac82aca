"""The model registry: a plain dict from name to Recommender class."""

from __future__ import annotations

from typing import Any

from models.base import Queries, Recommender, TrainSet
from models.item_knn import ItemKNNRecommender
from models.knn import KNNRecommender
from models.popular import PopularRecommender
from models.sgns import SGNSRecommender
from models.title import TitleRecommender
from models.w2v import W2VRecommender

MODELS: dict[str, type[Recommender]] = {
    "popular": PopularRecommender,
    "title": TitleRecommender,
    "knn": KNNRecommender,
    "item_knn": ItemKNNRecommender,
    "w2v": W2VRecommender,
    "sgns": SGNSRecommender,
}


def get_model(name: str, **params: Any) -> Recommender:
    """Instantiate a registered model; an unknown name lists the available ones."""
    from harness.errors import UsageError

    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    valid = cls().get_params()
    bad = sorted(set(params) - set(valid))
    if bad:
        raise UsageError(
            f"model {name!r} has no parameter {', '.join(bad)}; its parameters: "
            f"{', '.join(sorted(valid)) or '(none)'}"
        )
    return cls(**params)


__all__ = ["MODELS", "Queries", "Recommender", "TrainSet", "get_model"]
