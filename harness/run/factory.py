"""The model factory: from a spec (a registered name, a `module:Class` path or an instance) and
`-p MODEL.PARAM=VALUE` overrides to one checked model, built once per model per run.

The registry of built-in models is `models.MODELS` (a plain dict, imported lazily so commands
that run no model skip torch and gensim). Hyperparameters are checked here, at build time, by
type against the constructor's defaults and by the model's own `check_params`, so a bad value
fails before any slow step; `Recommender.fit` checks them once more before training.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.run.checks import ModelOutputError

if TYPE_CHECKING:
    from models.base import Recommender

COLD_START = ("model", "title")


def parse_value(text: str) -> Any:
    """A Python literal (`200`, `0.5`, `None`, `'a'`, `[1, 2]`), else the plain string.

    Parsed with `ast.literal_eval`: nothing is ever evaluated as code.
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_params(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`["knn.k_neighbors=200", "w2v.dim=32"]` -> `{"knn": {"k_neighbors": 200}, "w2v": {"dim": 32}}`."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        model, dot, param = key.strip().partition(".")
        if not eq or not dot or not model or not param:
            raise UsageError(
                f"-p {item!r}: expected MODEL.PARAM=VALUE, e.g. -p knn.k_neighbors=200"
            )
        out.setdefault(model, {})[param] = parse_value(value.strip())
    return out


def type_ok(value: Any, default: Any) -> bool:
    """Whether `value` may replace `default`: same type, an int for a float, anything for a
    default of None (None only there)."""
    if default is None:
        return True
    if value is None:
        return False
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


def snake_case(name: str) -> str:
    """`MyRec` -> `my_rec`, `KNNRecommender` -> `knn_recommender`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def model_class(spec: str) -> type[Recommender]:
    """The class of a registered name or a `module:Class` path; unknown ones list the names."""
    from models import MODELS

    if spec in MODELS:
        return MODELS[spec]
    module, colon, cls = spec.partition(":")
    if not colon:
        raise UsageError(f"unknown model {spec!r}; available: {', '.join(MODELS)}")
    try:
        found = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"model {spec!r}: cannot import {cls} from {module} ({e})") from None
    if not isinstance(found, type) or not callable(getattr(found, "recommend", None)):
        raise UsageError(f"model {spec!r}: {cls} is not a Recommender class")
    return found


def model_name(spec: str | Recommender) -> str:
    """The name a model has in tables and folders: the registered name; for a path or an
    instance, the class's `name` attribute, else its name in snake case."""
    from models import MODELS

    if isinstance(spec, str) and spec in MODELS:
        return spec
    cls = model_class(spec) if isinstance(spec, str) else type(spec)
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) and name else snake_case(cls.__name__)


def build_model(spec: str, params: dict[str, Any]) -> Recommender:
    """Instantiate a model from its name or path; unknown parameters or value types are errors.

    An int for a float default becomes a float: `alpha=1` and `alpha=1.0` are one run key.
    """
    cls = model_class(spec)
    defaults = cls().get_params(deep=False)
    bad = sorted(set(params) - set(defaults))
    if bad:
        raise UsageError(
            f"model {spec!r} has no parameter {', '.join(bad)}; its parameters: "
            f"{', '.join(sorted(defaults)) or '(none)'}"
        )
    for param, value in params.items():
        if not type_ok(value, defaults[param]):
            raise UsageError(
                f"-p {spec}.{param}={value!r}: expected {type(defaults[param]).__name__} "
                f"like the default {defaults[param]!r}, got {type(value).__name__}"
            )
    params = {
        k: float(v) if isinstance(defaults.get(k), float) and type(v) is int else v
        for k, v in params.items()
    }
    return checked(cls(**params), spec)


def checked(model: Recommender, name: str) -> Recommender:
    """`model` after its own hyperparameter check and the runner's cold-start check."""
    model.check_params()
    if getattr(model, "cold_start", None) not in COLD_START:
        raise ModelOutputError(
            f"model {name!r}: cold_start must be one of {COLD_START}, got {model.cold_start!r}"
        )
    return model


def select_models(spec: str | None, params: dict[str, dict[str, Any]]) -> list[str]:
    """Model specs in the order given (all registered models by default), each once; `-p` may
    only name selected models."""
    from models import MODELS

    if spec is None:
        names = list(MODELS)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise UsageError("--models: no model named; available: " + ", ".join(MODELS))
    unknown = [n for n in names if n not in MODELS and ":" not in n]
    if unknown:
        raise UsageError(
            f"--models: unknown model {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(MODELS)}"
        )
    stray = sorted(set(params) - set(names) - {model_name(n) for n in names})
    if stray:
        raise UsageError(
            f"-p names model {', '.join(map(repr, stray))} which is not being run "
            f"(running: {', '.join(names)}; available: {', '.join(MODELS)})"
        )
    return list(dict.fromkeys(names))


def build_models(
    specs: Sequence[str | Recommender], params: dict[str, dict[str, Any]]
) -> list[tuple[str, Recommender]]:
    """(name, model) for every spec, each built and checked once, before any slow step.

    `params` is keyed by the spec as given or by the model's name; an instance takes none.
    """
    out: dict[str, Recommender] = {}
    for spec in specs:
        name = model_name(spec)
        if name in out:
            raise UsageError(f"two models are named {name!r}; give one of them a `name` attribute")
        if isinstance(spec, str):
            given = params.get(spec, params.get(name, {}))
            out[name] = build_model(spec, given)
        elif name in params:
            raise UsageError(
                f"-p {name}.…: model {name!r} was given as an instance; set its "
                "parameters in its constructor"
            )
        else:
            out[name] = checked(spec, name)
    return list(out.items())
