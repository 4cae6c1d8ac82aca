"""The model registry: a plain dict from name to Recommender class."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from harness.types import Queries, TrainSet

if TYPE_CHECKING:
    from models.base import Recommender


class Registry(MutableMapping[str, "type[Recommender]"]):
    """Name -> Recommender class, each imported on first use.

    Why lazy: torch and gensim take seconds to import, and commands that run no model (stats,
    split, verify, score, leaderboard) should not pay for them. Entries are classes or
    "module:Class" strings; a string is resolved (and cached) when the entry is read.
    """

    def __init__(self, entries: dict[str, type[Recommender] | str]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type[Recommender]:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, cls = entry.partition(":")
            entry = getattr(importlib.import_module(module), cls)
            self._entries[name] = entry
        return entry

    def __setitem__(self, name: str, cls: type[Recommender] | str) -> None:
        self._entries[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


MODELS = Registry(
    {
        "popular": "models.popular:PopularRecommender",
        "title": "models.title:TitleRecommender",
        "knn": "models.knn:KNNRecommender",
        "item_knn": "models.item_knn:ItemKNNRecommender",
        "w2v": "models.w2v:W2VRecommender",
        "sgns": "models.sgns:SGNSRecommender",
    }
)


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


__all__ = ["MODELS", "Queries", "Recommender", "Registry", "TrainSet", "get_model"]


def __getattr__(name: str) -> Any:
    """`models.Recommender` on first use: scikit-learn loads only when a model is needed."""
    if name == "Recommender":
        from models.base import Recommender

        return Recommender
    raise AttributeError(f"module 'models' has no attribute {name!r}")
