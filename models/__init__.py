"""The model registry: the built-in models (`MODELS`, a plain dict from name to Recommender
class) and the models other packages install under the entry-point group `mpd_harness.models`.

Names are known without importing anything: built-ins are "module:Class" strings until first
use, and entry points are read from the installed distributions' metadata. A model's module is
imported only when that model is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.types import Queries, TrainSet

if TYPE_CHECKING:
    from models.base import Recommender

ENTRY_POINT_GROUP = "mpd_harness.models"


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

    def target(self, name: str) -> str:
        """The "module:Class" of an entry, without importing it."""
        entry = self._entries[name]
        return entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"


MODELS = Registry(
    {
        "popular": "models.popular:PopularRecommender",
        "title": "models.title:TitleRecommender",
        "knn": "models.knn:KNNRecommender",
        "item_knn": "models.item_knn:ItemKNNRecommender",
        "w2v": "models.w2v:W2VRecommender",
        "sgns": "models.sgns:SGNSRecommender",
        "als": "models.als:ALSRecommender",
        "ease": "models.ease:EASERecommender",
        "rp3beta": "models.rp3beta:RP3BetaRecommender",
    }
)


@dataclass(frozen=True)
class ModelSource:
    """Where a model name comes from, known without importing the model."""

    name: str
    target: str  # "module:Class"
    origin: str  # "built-in", "registered" (assigned into MODELS) or "entry point (dist 1.0)"
    entry_point: EntryPoint | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.origin}: {self.target}"

    def load(self) -> type[Recommender]:
        """Import the model's class; a plugin that fails to import is a one-line error."""
        if self.entry_point is None:
            return MODELS[self.name]
        try:
            found = self.entry_point.load()
        except Exception as e:  # a broken plugin must not take the harness down with a traceback
            raise UsageError(
                f"model {self.name!r} ({self.describe()}): cannot import it: "
                f"{type(e).__name__}: {e}"
            ) from None
        if not isinstance(found, type) or not callable(getattr(found, "recommend", None)):
            raise UsageError(f"model {self.name!r} ({self.describe()}) is not a Recommender class")
        return found


def _entry_point_origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "entry point"
    return f"entry point ({getattr(dist, 'name', None) or '?'} {dist.version})"


def model_sources() -> dict[str, list[ModelSource]]:
    """Every model name and its sources (more than one is a clash): the built-ins in `MODELS`
    order, then the entry points by name. Reads metadata only: imports no model."""
    out: dict[str, list[ModelSource]] = {}
    for name in MODELS:
        target = MODELS.target(name)
        origin = "built-in" if target.startswith("models.") else "registered"
        out[name] = [ModelSource(name, target, origin)]
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))
    for ep in found:
        source = ModelSource(ep.name, ep.value, _entry_point_origin(ep), ep)
        out.setdefault(ep.name, []).append(source)
    return out


def available_models() -> list[str]:
    """The names `--models` accepts besides paths: built-ins first, then installed plugins."""
    return list(model_sources())


def find_model(name: str) -> ModelSource:
    """The one source of `name`; an unknown name lists the others, a clash names both sources."""
    sources = model_sources()
    if name not in sources:
        raise UsageError(f"unknown model {name!r}; available: {', '.join(sources)}")
    found = sources[name]
    if len(found) > 1:
        raise UsageError(
            f"model name {name!r} is claimed twice: "
            + " and ".join(s.describe() for s in found)
            + "; uninstall one of them or rename its entry point"
        )
    return found[0]


def get_model(name: str, **params: Any) -> Recommender:
    """Instantiate a registered model (built-in or installed plugin); an unknown name lists the
    available ones, an unknown parameter the valid ones."""
    cls = find_model(name).load()
    valid = cls().get_params()
    bad = sorted(set(params) - set(valid))
    if bad:
        raise UsageError(
            f"model {name!r} has no parameter {', '.join(bad)}; its parameters: "
            f"{', '.join(sorted(valid)) or '(none)'}"
        )
    return cls(**params)


__all__ = [
    "ENTRY_POINT_GROUP",
    "MODELS",
    "ModelSource",
    "Queries",
    "Recommender",
    "Registry",
    "TrainSet",
    "available_models",
    "find_model",
    "get_model",
    "model_sources",
]


def __getattr__(name: str) -> Any:
    """`models.Recommender` on first use: scikit-learn loads only when a model is needed."""
    if name == "Recommender":
        from models.base import Recommender

        return Recommender
    raise AttributeError(f"module 'models' has no attribute {name!r}")
