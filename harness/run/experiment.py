"""Experiment files: `evaluate --config exp.toml`, and the resolved `RUN_DIR/experiment.toml`.

    [data]      synthetic = PRESET  or  mpd = PATH;  seed (synthetic only), cache_dir
    [split]     seed, per_category, coverage, validation, path (a split folder), challenge_set
    [run]       out, k, force
    [team]      name, email
    [[models]]  name = a registered name or "module:Class";  [models.params] PARAM = VALUE

`read_experiment` checks a file (unknown keys, types, models and their parameters) and returns
a typed `Experiment`; `override` lays the command line's values over it; `resolve` fills in
every default from a prepared run (the preset, per_category, the run folder, each model's full
`get_params()`) and `write_experiment` writes that as TOML (a small writer: `tomllib` only
reads). TOML has no null: a key left out takes its default, and None is never written.
docs/experiments.md is the reference.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import atomic_open
from harness.errors import UsageError
from harness.run.evaluate import EvaluateSettings, Evaluation, needs_validation
from harness.run.factory import build_model, model_class, model_name, type_ok
from harness.run.manifest import jsonable
from harness.run.sources import DEFAULT_PRESET
from harness.version import __version__

if TYPE_CHECKING:
    from models.base import Recommender

FILE_NAME = "experiment.toml"  # in the run folder
HEADER = "# mpd-harness experiment file"  # first line of the files the harness writes

# (section, key) -> (EvaluateSettings field, type in the file); paths are strings there
FIELDS: dict[tuple[str, str], tuple[str, type]] = {
    ("data", "synthetic"): ("synthetic", str),
    ("data", "mpd"): ("mpd", Path),
    ("data", "seed"): ("data_seed", int),
    ("data", "cache_dir"): ("cache_dir", Path),
    ("split", "seed"): ("split_seed", int),
    ("split", "per_category"): ("per_category", int),
    ("split", "coverage"): ("coverage", str),
    ("split", "validation"): ("validation", int),
    ("split", "path"): ("split", Path),
    ("split", "challenge_set"): ("challenge_set", Path),
    ("run", "out"): ("out", Path),
    ("run", "k"): ("k", int),
    ("team", "name"): ("team", str),
    ("team", "email"): ("email", str),
}
FORCE = ("run", "force")
SECTIONS = ("data", "split", "run", "team", "models")
MODEL_KEYS = ("name", "params")
KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
KINDS[Path] = KINDS[str]


@dataclass(frozen=True)
class Experiment:
    """An experiment: what `evaluate` runs (settings, models, their parameters) and `force`.

    `models`: specs as `--models` takes them, in order (None: every registered model);
    `params`: `{spec or model name: {param: value}}`, as `-p` gives them.
    """

    settings: EvaluateSettings = field(default_factory=EvaluateSettings)
    models: tuple[str, ...] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    force: bool = False


# ---------------------------------------------------------------------------- reading


def read_experiment(path: str | Path) -> Experiment:
    """The experiment of a TOML file; every problem is one line naming the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--config {path}: unreadable ({e})") from None
    return from_document(_parse(text, path), path)


def _parse(text: str, path: Path) -> dict[str, Any]:
    """The TOML document; a syntax error names the line and column."""
    try:
        tomllib: Any = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # Python 3.10: the same parser is the `tomli` package
        try:
            tomllib = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise UsageError(
                f"{path}: reading experiment files needs Python 3.11+ or `pip install tomli`"
            ) from None
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(e), flags=re.S)
        where = f"line {m[2]}, column {m[3]}" if m else "invalid TOML"
        raise UsageError(f"{path}: {where}: {m[1] if m else e}") from None
    return doc


def from_document(doc: Mapping[str, Any], path: str | Path = "<experiment>") -> Experiment:
    """The experiment of a parsed TOML document (`path` names it in messages)."""
    for key, value in doc.items():
        if key not in SECTIONS:
            what = f"section [{key}]" if isinstance(value, dict) else f"key {key}"
            sections = ", ".join(f"[{s}]" for s in SECTIONS[:-1])
            raise UsageError(f"{path}: unknown {what}; sections: {sections}, [[models]]")
        if key != "models" and not isinstance(value, dict):
            raise UsageError(f"{path}: {key}: expected a [{key}] table, got {_got(value)}")
    fields: dict[str, Any] = {}
    force = False
    for section in SECTIONS[:-1]:
        for key, value in doc.get(section, {}).items():
            if (section, key) == FORCE:
                force = _typed(path, section, key, value, bool)
                continue
            if (section, key) not in FIELDS:
                known = [k for s, k in (*FIELDS, FORCE) if s == section]
                raise UsageError(
                    f"{path}: [{section}] {key}: unknown key; [{section}] takes {', '.join(known)}"
                )
            name, kind = FIELDS[section, key]
            fields[name] = _typed(path, section, key, value, kind)
    _check_settings(path, doc, fields)
    models, params = _models(path, doc["models"]) if "models" in doc else (None, {})
    return Experiment(EvaluateSettings(**fields), models, params, force)


def _typed(path: str | Path, section: str, key: str, value: Any, kind: type) -> Any:
    ok = isinstance(value, str) and value != "" if kind in (str, Path) else isinstance(value, kind)
    if kind is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise UsageError(f"{path}: [{section}] {key}: expected {KINDS[kind]}, got {_got(value)}")
    return Path(value) if kind is Path else value


def _check_settings(path: str | Path, doc: Mapping[str, Any], fields: dict[str, Any]) -> None:
    """What a type cannot say: one data source, a known preset and coverage rule."""
    from harness.challenge.split import COVERAGE
    from harness.data.synthetic import PRESETS

    data = doc.get("data", {})
    if "mpd" in data and "synthetic" in data:
        raise UsageError(f"{path}: [data]: give synthetic or mpd, not both")
    if "mpd" in data and "seed" in data:
        raise UsageError(
            f"{path}: [data] seed: seeds synthetic data only; with mpd, leave it out "
            "(the split's seed is [split] seed)"
        )
    checks = (("data", "synthetic", PRESETS), ("split", "coverage", COVERAGE))
    for section, key, valid in checks:
        value = doc.get(section, {}).get(key)
        if value is not None and value not in valid:
            raise UsageError(
                f"{path}: [{section}] {key}: expected one of {', '.join(valid)}, got {_got(value)}"
            )


def _models(path: str | Path, entries: Any) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """Specs in order and their parameters, each model checked as `--models` and `-p` would."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise UsageError(f"{path}: models: expected [[models]] tables, got {_got(entries)}")
    if not entries:
        raise UsageError(f"{path}: [[models]]: none listed; leave models out to run all")
    specs: list[str] = []
    params: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries, 1):
        where = f"[[models]] #{i}"
        stray = sorted(set(entry) - set(MODEL_KEYS))
        if stray:
            raise UsageError(f"{path}: {where} {stray[0]}: unknown key; a model takes name, params")
        spec = entry.get("name")
        if not isinstance(spec, str) or not spec.strip():
            raise UsageError(
                f"{path}: {where} name: expected a registered name or a module:Class path, "
                f"got {_got(spec) if spec is not None else 'nothing'}"
            )
        spec = spec.strip()
        given = entry.get("params", {})
        if not isinstance(given, dict):
            raise UsageError(
                f"{path}: [[models]] {spec} params: expected a table, got {_got(given)}"
            )
        if spec in specs:
            raise UsageError(f"{path}: {where}: model {spec!r} is listed twice")
        _check_model(path, spec, given)
        specs.append(spec)
        if given:
            params[spec] = dict(given)
    return tuple(specs), params


def _check_model(path: str | Path, spec: str, params: dict[str, Any]) -> None:
    """Build the model once: an unknown name, parameter, type or range fails now, named."""
    where = f"{path}: [[models]] {spec}"
    try:
        defaults = model_class(spec)().get_params(deep=False)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    for key, value in params.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "(none)"
            raise UsageError(f"{where} params.{key}: unknown parameter; its parameters: {known}")
        default = defaults[key]
        if not type_ok(value, default):
            kind = KINDS.get(type(default), type(default).__name__)
            if isinstance(default, list | tuple):
                kind = "an array"
            raise UsageError(
                f"{where} params.{key}: expected {kind} like the default {_got(default)}, "
                f"got {_got(value)}"
            )
    try:
        build_model(spec, params)
    except UsageError as e:  # the model's own check_params: a value out of range
        raise UsageError(f"{where}: {str(e).removeprefix(f'{spec}: ')}") from None


def _got(value: Any) -> str:
    """A value as TOML writes it, for messages (`"x"`, `1.5`, `true`)."""
    try:
        return toml_value(value)
    except TypeError:
        return str(value)


# ---------------------------------------------------------------------------- the command line


def override(
    exp: Experiment,
    *,
    settings: Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    force: bool | None = None,
) -> Experiment:
    """`exp` with the values given on the command line on top (None: not given).

    `settings`: EvaluateSettings fields (a data source given clears the other one); `models`
    replaces the list (the file's parameters of models still listed stay); `params` overrides
    and extends the parameters, keyed by spec or by model name.
    """
    changes = dict(settings or {})
    if changes.get("mpd") is not None:
        changes.setdefault("synthetic", None)
    if changes.get("synthetic") is not None:
        changes.setdefault("mpd", None)
    specs = exp.models if models is None else tuple(models)
    kept = {s: dict(p) for s, p in exp.params.items() if models is None or s in (specs or ())}
    return Experiment(
        settings=replace(exp.settings, **changes),
        models=specs,
        params=merge_params(specs, kept, params or {}),
        force=exp.force if force is None else force,
    )


def merge_params(
    specs: Sequence[str] | None,
    base: dict[str, dict[str, Any]],
    extra: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """`base` updated by `extra`; a model named in `extra` by its name (`my_rec`) updates the
    parameters of its spec (`mypkg:MyRec`)."""
    out = {s: dict(p) for s, p in base.items()}
    for key, values in extra.items():
        target = key
        if key not in out and key not in (specs or ()):
            paths = [s for s in specs or () if ":" in s]
            target = next((s for s in paths if model_name(s) == key), key)
        out.setdefault(target, {}).update(values)
    return out


# ---------------------------------------------------------------------------- resolving, writing


def resolve(
    settings: EvaluateSettings,
    ev: Evaluation,
    specs: Sequence[str | Recommender],
    models: Sequence[tuple[str, Recommender]],
    force: bool,
) -> Experiment:
    """Every value explicit: the preset, per_category and run folder of the prepared run, and
    each model's full `get_params()` (an instance is named by its `module:Class`)."""
    synthetic = None if settings.mpd is not None else ev.data.get("preset") or DEFAULT_PRESET
    per_category = ev.split.get("per_category") if ev.mode == "split" else settings.per_category
    validation = settings.validation  # the size drawn, where a model or the flag asked for one
    if ev.validation is not None and (
        validation is not None or any(needs_validation(m) for _, m in models)
    ):
        validation = ev.validation["per_category"]
    names = [
        s if isinstance(s, str) else f"{type(s).__module__}:{type(s).__qualname__}" for s in specs
    ]
    full = [jsonable(model.get_params(deep=False)) for _, model in models]
    writable = [{k: v for k, v in p.items() if _writable(v)} for p in full]
    params = {spec: p for spec, p in zip(names, writable, strict=True) if p}
    resolved = replace(
        settings,
        synthetic=synthetic,
        per_category=per_category,
        validation=validation,
        out=ev.run_dir,
        k=ev.k,
    )
    return Experiment(resolved, tuple(names), params, force)


def _writable(value: Any) -> bool:
    """Whether TOML can hold the value: not None, nor a list holding None (no null in TOML)."""
    try:
        toml_value(value)
    except TypeError:
        return False
    return True


def to_document(exp: Experiment) -> dict[str, Any]:
    """The TOML document of an experiment (None values left out; paths as strings)."""
    doc: dict[str, Any] = {s: {} for s in SECTIONS[:-1]}
    for (section, key), (name, _) in FIELDS.items():
        value = getattr(exp.settings, name)
        if value is None or (key == "seed" and section == "data" and exp.settings.mpd):
            continue
        doc[section][key] = str(value) if isinstance(value, Path) else value
    doc["run"]["force"] = exp.force
    if exp.models is not None:
        doc["models"] = [
            {"name": spec} | ({"params": p} if (p := exp.params.get(spec)) else {})
            for spec in exp.models
        ]
    return doc


def write_experiment(run_dir: Path, exp: Experiment) -> Path:
    """Write `RUN_DIR/experiment.toml` atomically; a file there that the harness did not write
    is refused, never overwritten."""
    path = Path(run_dir) / FILE_NAME
    if path.exists():
        with open(path, encoding="utf-8", errors="replace") as f:
            if not f.readline().startswith(HEADER):
                raise UsageError(
                    f"{path}: not written by mpd-harness (no {HEADER!r} line); move it away, "
                    "the run writes its resolved configuration there"
                )
    header = (
        f"{HEADER} (mpd-harness {__version__}): the resolved configuration of the last\n"
        "# `evaluate` into this folder. Rerun it: mpd-harness evaluate --config THIS_FILE "
        "[--out OTHER]\n\n"
    )
    with atomic_open(path, "w") as f:
        f.write(header + dumps(to_document(exp)))
    return path


def record(
    ev: Evaluation,
    settings: EvaluateSettings,
    specs: Sequence[str | Recommender],
    models: Sequence[tuple[str, Recommender]],
    force: bool,
) -> Path:
    """Resolve the run's configuration and write it to `RUN_DIR/experiment.toml`."""
    return write_experiment(ev.run_dir, resolve(settings, ev, specs, models, force))


# ---------------------------------------------------------------------------- a small TOML writer

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text of a document: str, int, float, bool, lists, nested tables, arrays of tables.

    None values are left out (TOML has no null). Scalars come first in each table, then its
    sub-tables (`[a.b]`) and arrays of tables (`[[a.c]]`), so the text reads top down.
    """
    lines: list[str] = []
    _table(lines, (), doc)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], prefix: tuple[str, ...], table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if value is not None and not isinstance(value, Mapping) and not _is_tables(value):
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value in table.items():
        name = ".".join(map(toml_key, (*prefix, key)))
        if isinstance(value, Mapping):
            lines += ["", f"[{name}]"]
            _table(lines, (*prefix, key), value)
        elif _is_tables(value):
            for item in value:
                lines += ["", f"[[{name}]]"]
                _table(lines, (*prefix, key), item)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def toml_key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else toml_value(key)


def toml_value(value: Any) -> str:
    """One TOML value; floats as `repr` (it round-trips), a mapping as an inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + "".join(_escape(c) for c in value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write a {type(value).__name__} to TOML: {value!r}")


def _escape(c: str) -> str:
    if c in ESCAPES:
        return ESCAPES[c]
    return f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c
