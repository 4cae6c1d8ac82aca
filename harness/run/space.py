"""Search spaces for `tune`: each built-in model's default space, and `--space space.toml`.

A space maps a model's hyperparameters to what the search may try. In a TOML file:

    work_budget = 20000000            # a plain value: fixed, never searched

    [k_neighbors]
    int = [10, 1000]                  # integers from 10 to 1000 (inclusive)
    log = true                        # sampled on a log scale

    [alpha]
    float = [0.0, 2.0]                # step = 0.1 would put it on a grid

    [weighting]
    choices = ["none", "idf", "bm25"]

A file replaces the model's default space as a whole (a parameter it leaves out keeps the
model's default value). `DEFAULT_SPACES` below is the documented default of each built-in
model; a plugin model may ship its own as a `search_space` class attribute in the same
(parsed-TOML) form. Every dimension is checked against the model before any slow step: its
type against the constructor's default, its ends and choices by building the model with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.run.factory import build_model, model_class, type_ok

if TYPE_CHECKING:
    import optuna

KINDS = ("int", "float", "choices")
OPTIONS = ("log", "step")

# The default space of each built-in model, in the file's form. Ranges bracket each model's
# documented default (docs/knn.md, docs/word2vec.md, docs/sgns.md) and stay inside what a
# 2-core machine fits in minutes at the default preset.
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "title": {"min_playlists": {"int": [1, 50], "log": True}},
    "knn": {
        "k_neighbors": {"int": [10, 1000], "log": True},
        "alpha": {"float": [0.0, 2.0]},
        "weighting": {"choices": ["none", "idf", "bm25"]},
    },
    "item_knn": {
        "n_neighbors": {"int": [20, 500], "log": True},
        "alpha": {"float": [0.2, 2.0]},
        "asymmetry": {"float": [0.5, 1.0]},
        "shrink": {"float": [0.0, 100.0]},
    },
    "als": {
        "factors": {"choices": [32, 64, 128, 256]},
        "regularization": {"float": [1e-3, 1.0], "log": True},
        "alpha": {"float": [1.0, 100.0], "log": True},
        "iterations": {"int": [5, 30]},
    },
    # n_items up to the default: EASE's dense Gram matrix grows with its square
    "ease": {
        "l2": {"float": [10.0, 50000.0], "log": True},
        "n_items": {"choices": [5000, 10000, 20000]},
    },
    "rp3beta": {
        "alpha": {"float": [0.2, 2.0]},
        "beta": {"float": [0.0, 1.0]},
        "n_neighbors": {"int": [20, 500], "log": True},
        "min_count": {"int": [1, 20], "log": True},
    },
    "w2v": {
        "dim": {"choices": [32, 64, 128]},
        "window": {"int": [2, 20]},
        "epochs": {"int": [5, 40]},
        "ns_exponent": {"float": [-1.0, 1.0]},
        "sample": {"float": [1e-5, 1e-2], "log": True},
        "min_count": {"int": [1, 100], "log": True},
        "alpha": {"float": [0.0125, 0.2], "log": True},
    },
    "sgns": {
        "dim": {"choices": [32, 64, 128]},
        "window": {"int": [2, 20]},
        "epochs": {"int": [5, 40]},
        "negative": {"int": [2, 15]},
        "sample": {"float": [1e-5, 1e-2], "log": True},
        "min_count": {"int": [1, 100], "log": True},
    },
}


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter of a space: searched (`int`, `float`, `choices`) or `fixed`."""

    name: str
    kind: str  # "int", "float", "choices" or "fixed"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    value: Any = None  # the fixed value

    def suggest(self, trial: optuna.Trial) -> Any:
        """The value of this dimension for `trial` (Optuna records it in the study)."""
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=step, log=self.log
            )
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        if self.kind == "choices":
            return trial.suggest_categorical(self.name, list(self.choices))
        return self.value

    def to_doc(self) -> Any:
        """The file form of this dimension (a plain value when fixed)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "choices":
            return {"choices": list(self.choices)}
        doc: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            doc["log"] = True
        if self.step is not None:
            doc["step"] = self.step
        return doc


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions searched for one model, in file order; `source` says where it came from."""

    model: str
    dims: tuple[Dimension, ...]
    source: str  # "default" or the file's path

    @property
    def searched(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dims if d.kind != "fixed")

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Every parameter of the space for `trial`: searched ones drawn, fixed ones as given."""
        return {d.name: d.suggest(trial) for d in self.dims}

    def fixed(self) -> dict[str, Any]:
        return {d.name: d.value for d in self.dims if d.kind == "fixed"}

    def to_doc(self) -> dict[str, Any]:
        """The space in file form (for the study's attributes and the manifest)."""
        return {d.name: d.to_doc() for d in self.dims}


def default_space(spec: str) -> dict[str, Any] | None:
    """A model's default space in file form: the table above, else the class's `search_space`."""
    if spec in DEFAULT_SPACES:
        return DEFAULT_SPACES[spec]
    own = getattr(model_class(spec), "search_space", None)
    return dict(own) if isinstance(own, Mapping) else None


def load_space(spec: str, path: Path | None) -> SearchSpace:
    """The space of `--space path` (or the model's default), checked against the model."""
    if path is None:
        doc = default_space(spec)
        if doc is None:
            raise UsageError(
                f"model {spec!r} has no default search space; give one with --space FILE "
                "(docs/tuning.md)"
            )
        where = f"default space of {spec}"
    else:
        from harness.run.experiment import _parse

        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"--space {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"--space {path}: unreadable ({e})") from None
        doc = _parse(text, Path(path))
        where = str(path)
    space = parse_space(spec, doc, where)
    if not space.searched:
        raise UsageError(f"{where}: nothing to search (no int, float or choices dimension)")
    return SearchSpace(spec, space.dims, "default" if path is None else str(path))


def parse_space(spec: str, doc: Mapping[str, Any], where: str) -> SearchSpace:
    """A space from its file form; every problem is one line naming `where` and the parameter."""
    try:
        defaults = model_class(spec)().get_params(deep=False)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    dims = []
    for name, entry in doc.items():
        if name not in defaults:
            known = ", ".join(sorted(defaults)) or "(none)"
            raise UsageError(
                f"{where}: {name}: {spec} has no such parameter; its parameters: {known}"
            )
        dim = _dimension(name, entry, where)
        for value in _probes(dim):
            if not type_ok(value, defaults[name]):
                raise UsageError(
                    f"{where}: {name}: {value!r} does not fit the default {defaults[name]!r}"
                )
            try:
                build_model(spec, {name: value})
            except UsageError as e:
                raise UsageError(f"{where}: {name} = {value!r}: {e}") from None
        dims.append(dim)
    return SearchSpace(spec, tuple(dims), where)


def _dimension(name: str, entry: Any, where: str) -> Dimension:
    if not isinstance(entry, Mapping):
        return Dimension(name, "fixed", value=entry)
    kinds = [k for k in KINDS if k in entry]
    stray = sorted(set(entry) - set(KINDS) - set(OPTIONS))
    if stray or len(kinds) != 1:
        bad = f"unknown key {stray[0]!r}" if stray else f"{len(kinds)} of int, float, choices"
        raise UsageError(f"{where}: [{name}]: {bad}; give exactly one of int, float, choices")
    kind = kinds[0]
    if kind == "choices":
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices or set(entry) != {"choices"}:
            raise UsageError(f"{where}: [{name}] choices: a non-empty list, alone in its table")
        return Dimension(name, "choices", choices=tuple(choices))
    return _range(name, kind, entry, where)


def _range(name: str, kind: str, entry: Mapping[str, Any], where: str) -> Dimension:
    ends = entry[kind]
    number = int if kind == "int" else (int, float)
    ok = isinstance(ends, list) and len(ends) == 2
    if not ok or not all(isinstance(v, number) and not isinstance(v, bool) for v in ends):
        raise UsageError(f"{where}: [{name}] {kind}: expected [low, high] of {kind}s, got {ends!r}")
    low, high = ends
    log, step = entry.get("log", False), entry.get("step")
    if not isinstance(log, bool):
        raise UsageError(f"{where}: [{name}] log: expected true or false, got {log!r}")
    if step is not None and (not isinstance(step, number) or isinstance(step, bool) or step <= 0):
        raise UsageError(f"{where}: [{name}] step: expected a positive {kind}, got {step!r}")
    if low > high:
        raise UsageError(f"{where}: [{name}] {kind}: low {low} is above high {high}")
    if log and low <= 0:
        raise UsageError(f"{where}: [{name}]: log needs a positive low end, got {low}")
    if log and step is not None:
        raise UsageError(f"{where}: [{name}]: log and step cannot go together (Optuna)")
    return Dimension(name, kind, low=low, high=high, log=log, step=step)


def _probes(dim: Dimension) -> list[Any]:
    """Values that must all build a valid model: the ends of a range, each choice, the fixed."""
    if dim.kind == "fixed":
        return [dim.value]
    if dim.kind == "choices":
        return list(dim.choices)
    cast = int if dim.kind == "int" else float
    return [cast(dim.low), cast(dim.high)]
