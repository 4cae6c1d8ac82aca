"""The model factory: from a spec (a registered name, an installed plugin's entry-point name, a
`module:Class` path or an instance) and `-p MODEL.PARAM=VALUE` overrides to one checked model,
built once per model per run.

The registry of built-in models is `models.MODELS` (a plain dict, imported lazily so commands
that run no model skip torch and gensim); plugins come from the entry-point group
`mpd_harness.models` (`models.model_sources`), imported only when used. Hyperparameters are checked here, at build time, by
type against the constructor's defaults and by the model's own `check_params`, so a bad value
fails before any slow step; `Recommender.fit` checks them once more before training.
"""

from __future__ import annotations

import ast
import importlib
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, UsageError
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


# Upper bounds by parameter name, for every model (its own check_params sets the lower ones):
# a value past them is a typo or an attack on the machine, not an experiment.
MAX_BY_NAME: dict[str, int] = {"epochs": 10_000, "dim": 4_096, "window": 1_000, "negative": 1_000}
CPU_BOUND = ("workers", "threads")  # at most the machine's CPUs
MAX_INT = 2**53  # beyond it a float cannot even say the number


def check_bounds(spec: str, param: str, value: Any) -> None:
    """Every number finite and below MAX_INT (in lists and dicts too), and the named sizes
    bounded (MAX_BY_NAME, CPU_BOUND); UsageError names the parameter."""
    where = f"-p {spec}.{param}={value!r}"
    for number in _numbers(value):
        if isinstance(number, float) and not math.isfinite(number):
            raise UsageError(f"{where}: must be a finite number")
        if abs(number) > MAX_INT:
            raise UsageError(f"{where}: too large (limit {MAX_INT:,})")
    if isinstance(value, bool) or not isinstance(value, int):
        return
    cores = os.cpu_count() or 1
    limit = cores if param in CPU_BOUND else MAX_BY_NAME.get(param)
    if limit is not None and value > limit:
        why = f"the {cores} CPUs of this machine" if param in CPU_BOUND else f"{limit:,}"
        raise UsageError(f"{where}: at most {why}")


def _numbers(value: Any) -> Iterable[int | float]:
    """The ints and floats in a parameter value (nested lists, tuples, dict values)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def snake_case(name: str) -> str:
    """`MyRec` -> `my_rec`, `KNNRecommender` -> `knn_recommender`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def model_class(spec: str) -> type[Recommender]:
    """The class of a model name (built-in or entry point) or a `module:Class` path.

    An unknown name lists the available ones; a name two sources claim names both.
    """
    from models import find_model

    if ":" not in spec:
        return find_model(spec).load()
    module, _, cls = spec.partition(":")
    try:
        found = getattr(_import(module), cls)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"model {spec!r}: cannot import {cls} from {module} ({e})") from None
    if not isinstance(found, type) or not callable(getattr(found, "recommend", None)):
        raise UsageError(f"model {spec!r}: {cls} is not a Recommender class")
    return found


def _import(module: str) -> Any:
    """Import `module` from sys.path, else from the current folder.

    `mpd-harness` runs as a console script, whose sys.path lacks the current folder: a model in
    `./mymodel.py` is found the way `python -m` would find it. The folder goes last, so it never
    shadows an installed module.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        here = os.getcwd()
        top = module.partition(".")[0]
        if e.name != top or here in sys.path or "" in sys.path:
            raise
        sys.path.append(here)
        importlib.invalidate_caches()
        return importlib.import_module(module)


def model_name(spec: str | Recommender) -> str:
    """The name a model has in tables and folders: the registered or entry-point name; for a
    path or an instance, the class's `name` attribute, else its name in snake case.

    A path or instance may not take the name of another model (built-in or plugin): its runs
    would land in that model's folder.
    """
    from models import find_model, model_sources

    if isinstance(spec, str) and ":" not in spec:
        find_model(spec)  # unknown or claimed twice: an error here, before any slow step
        return spec
    cls = model_class(spec) if isinstance(spec, str) else type(spec)
    name = getattr(cls, "name", None)
    name = name if isinstance(name, str) and name else snake_case(cls.__name__)
    for source in model_sources().get(name, []):
        if source.load() is not cls:
            given = spec if isinstance(spec, str) else f"{cls.__name__}()"
            raise UsageError(
                f"model {given!r} is named {name!r}, like the model of {source.describe()}; "
                "give its class another `name` attribute"
            )
    return name


def instantiate(spec: str, params: dict[str, Any]) -> Recommender:
    """A model from its name or path; unknown parameters or value types are errors.

    An int for a float default becomes a float: `alpha=1` and `alpha=1.0` are one run key.
    Unlike `build_model`, the model's own checks (`check_params`, `cold_start`) are left to the
    caller (`check-model` reports them as checks).
    """
    cls = model_class(spec)
    try:
        defaults = cls().get_params(deep=False)
    except Exception as e:  # a constructor that needs arguments, or fails on its defaults
        raise UsageError(
            f"model {spec!r}: {cls.__name__}() fails with its default parameters "
            f"({type(e).__name__}: {e}); every parameter needs a default"
        ) from None
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
        check_bounds(spec, param, value)
    params = {
        k: float(v) if isinstance(defaults.get(k), float) and type(v) is int else v
        for k, v in params.items()
    }
    return cls(**params)


def build_model(spec: str, params: dict[str, Any]) -> Recommender:
    """Instantiate a model from its name or path (`instantiate`) and run its own checks."""
    return checked(instantiate(spec, params), spec)


def checked(model: Recommender, name: str) -> Recommender:
    """`model` after its own hyperparameter check and the runner's cold-start check."""
    model.check_params()
    if getattr(model, "cold_start", None) not in COLD_START:
        raise ModelOutputError(
            f"model {name!r}: cold_start must be one of {COLD_START}, got {model.cold_start!r}"
        )
    return model


DEVICES = ("cpu", "cuda", "auto")


def with_device(
    specs: Sequence[str], params: dict[str, dict[str, Any]], device: str | None
) -> dict[str, dict[str, Any]]:
    """`params` plus `device` for every model whose constructor takes one (`sgns`, `als`) and
    whose `-p` did not set it: `evaluate --device` puts what can use a GPU on it, and the
    run's experiment.toml records each model's device. Other models are untouched."""
    if device is None:
        return params
    if device not in DEVICES:
        raise UsageError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    out = {k: dict(v) for k, v in params.items()}
    for spec in specs:
        given = out.get(spec, out.get(model_name(spec), {}))
        if "device" in given or "device" not in instantiate(spec, given).get_params():
            continue
        out.setdefault(spec, {})["device"] = device
    return out


def select_models(spec: str | None, params: dict[str, dict[str, Any]]) -> list[str]:
    """Model specs in the order given (all built-in models by default), each once; `-p` may
    only name selected models. Names may be built-in or installed plugins (entry points)."""
    from models import MODELS, available_models

    available = ", ".join(available_models())
    if spec is None:
        names = list(MODELS)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise UsageError("--models: no model named; available: " + available)
    known = set(available_models())
    unknown = [n for n in names if n not in known and ":" not in n]
    if unknown:
        raise UsageError(
            f"--models: unknown model {', '.join(map(repr, unknown))}; available: {available} "
            "(or a module:Class path)"
        )
    stray = sorted(set(params) - set(names) - {model_name(n) for n in names})
    if stray:
        raise UsageError(
            f"-p names model {', '.join(map(repr, stray))} which is not being run "
            f"(running: {', '.join(names)}; available: {available})"
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


@dataclass(frozen=True)
class ModelInfo:
    """What `mpd-harness models` shows of one model (its hyperparameters need its import)."""

    name: str
    source: str  # "built-in", "registered" or "entry point (dist version)"
    cls: str  # "module:Class"
    params: dict[str, Any] | None  # defaults (JSON-safe); None when the model cannot load
    cold_start: str | None
    error: str = ""  # why the model cannot load

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source, "class": self.cls}
        out |= {"params": self.params, "cold_start": self.cold_start}
        return {**out, "error": self.error} if self.error else out


def describe_models() -> list[ModelInfo]:
    """Every available model (built-ins, then plugins by name) with its defaults; a name two
    sources claim is an error naming both, a plugin that fails to import a row with `error`."""
    from harness.run.manifest import jsonable
    from models import find_model, model_sources

    out = []
    for name, sources in model_sources().items():
        if len(sources) > 1:
            find_model(name)  # raises, naming both sources
        src = sources[0]
        try:
            cls = src.load()
            params = jsonable(cls().get_params(deep=False))
            cold = getattr(cls, "cold_start", None)
            out.append(ModelInfo(name, src.origin, src.target, params, cold))
        except HarnessError as e:
            out.append(ModelInfo(name, src.origin, src.target, None, None, str(e)))
        except Exception as e:  # a plugin's constructor: keep listing the others
            error = f"model {name!r}: {type(e).__name__}: {e}"
            out.append(ModelInfo(name, src.origin, src.target, None, None, error))
    return out
