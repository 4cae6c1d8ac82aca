"""The run folder: its files and how they are read and written.

    RUN_DIR/run.json                 mode, k, data and split of the run (what every model shares);
                                     "models": the names requested, where evaluate recorded them
    RUN_DIR/split/                   the split, when evaluate drew it
    RUN_DIR/<model>/manifest.json    key (what a reuse must match), key_fields and files_sha256
                                     (harness/run/provenance.py), params, versions, timings
    RUN_DIR/<model>/recs.npz         pids, recs int32 (n, k), backfilled (no pickle)
    RUN_DIR/<model>/metrics.parquet  pid, category and one column per metric
    RUN_DIR/<model>/<artifact>       what the model's `artifacts()` returns (`.parquet` tables,
                                     `.json` values, e.g. feature_importance.parquet), listed in
                                     the manifest's files.artifacts (not in files_sha256: no
                                     score is computed from them)
    RUN_DIR/<name>/                  an external submission, stored the same way with
                                     `"external": true` in its manifest (harness/run/external.py)
    RUN_DIR/leaderboard.{json,md,csv}

Evaluate writes it (harness/run/evaluate.py); leaderboard, report and generate read it through
the functions here, so the format lives in one module.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from harness.atomic import atomic_open, atomic_path, read_json, read_json_object, write_json
from harness.challenge.metrics import METRICS
from harness.errors import DataError, HarnessError, UsageError
from harness.run.checks import ModelOutputError
from harness.run.manifest import fingerprint, jsonable
from harness.run.provenance import file_digests, files_problem, key_problem
from harness.types import IntArray

METRIC_NAMES = METRICS
# Bump when the runner's treatment of a model's output changes (routing, checks, backfill), so
# that runs stored by an older runner are recomputed rather than reused.
RUNNER_VERSION = 2
EXTERNAL_VERSION = 1  # of external submissions' storage and scoring (harness/run/external.py)


def run_key(
    name: str,
    params: dict[str, Any],
    *,
    mode: str,
    k: int,
    data: Mapping[str, Any],
    split: Mapping[str, Any],
    cls: str | None = None,
) -> dict[str, Any]:
    """What a stored model run must match to be reused: runner version, model, params, mode, k,
    data and split. A model from outside the registry adds its class (`cls`), so that another
    class under the same name is never taken for it; one that learns from the validation split
    adds that split's fingerprint (`split["validation"]`), so that a new one refits it."""
    key = {
        "runner": RUNNER_VERSION,
        "model": name,
        "params": params,
        "mode": mode,
        "k": k,
        "data_fingerprint": data.get("fingerprint"),
        "split_fingerprint": split.get("fingerprint"),
    }
    if cls is not None:
        key["class"] = cls
    validation = split.get("validation")
    if validation is not None:
        key["validation_fingerprint"] = validation["fingerprint"]
    return key


def write_run(
    run_dir: Path,
    *,
    mode: str,
    k: int,
    data: Mapping[str, Any],
    split: Mapping[str, Any],
    models: list[str] | None = None,
    submissions: Mapping[str, Any] | None = None,
) -> None:
    """`RUN_DIR/run.json`: the mode, k, data and split every model of the run shares, the
    models the last evaluate set out to run (`models`, absent in runs of older versions) and
    where its submissions go (`submissions`: name, path, relative_path)."""
    doc: dict[str, Any] = {"mode": mode, "k": k, "data": data, "split": split}
    if models is not None:
        doc["models"] = models
    if submissions is not None:
        doc["submissions"] = dict(submissions)
    write_json(run_dir / "run.json", doc)


def complete_run(model_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored manifest when the run in `model_dir` is complete, matches `key` and is
    provably current (`reusable_run`)."""
    return reusable_run(model_dir, key)[0]


def reusable_run(model_dir: Path, key: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the stored manifest, None) when the run in `model_dir` may be reused for `key`; else
    (None, why) where why is None for nothing stored or other settings (a new run is normal
    then) and the reason when a stored run of these settings is not provably current."""
    path = model_dir / "manifest.json"
    if not path.exists():
        return None, None
    try:
        manifest = read_json(path)
    except (OSError, ValueError):
        return None, "its manifest.json is not valid JSON"
    if not isinstance(manifest, dict):
        return None, "its manifest.json is not a JSON object"
    if manifest.get("key") != fingerprint(key):
        return None, None
    why = why_not_current(model_dir, manifest)
    return (None, why) if why else (dict(manifest), None)


def stored_files(manifest: Mapping[str, Any]) -> list[str]:
    """The files of a run that its manifest vouches for (hashed in `files_sha256`)."""
    return ["recs.npz", "metrics.parquet"] if manifest.get("mode") == "split" else ["recs.npz"]


def claims(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest says of the fields its key was computed from, and the code's versions
    (a run stored by another runner or external-submission version is not current)."""
    data, split = manifest.get("data"), manifest.get("split")
    out = {
        "model": manifest.get("model"),
        "data_fingerprint": data.get("fingerprint") if isinstance(data, dict) else None,
        "split_fingerprint": split.get("fingerprint") if isinstance(split, dict) else None,
    }
    if is_external(manifest):
        source = manifest.get("source")
        out["sha256"] = source.get("sha256") if isinstance(source, dict) else None
        out["external"] = EXTERNAL_VERSION
        return out
    out |= {k: manifest.get(k) for k in ("params", "mode", "k", "class")}
    out["runner"] = RUNNER_VERSION
    return out


def why_not_current(model_dir: Path, manifest: Mapping[str, Any]) -> str | None:
    """Why a stored run is not provably what its manifest says (harness/run/provenance.py)."""
    return key_problem(manifest, claims(manifest)) or files_problem(
        model_dir, manifest, stored_files(manifest)
    )


def check_current(model_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Refuse (HarnessError, with the reason and the fix) a run that is not provably current:
    leaderboard and report rank only runs whose fingerprints and file hashes check out."""
    why = why_not_current(model_dir, manifest)
    if why is None:
        return
    name = manifest.get("model", model_dir.name)
    if is_external(manifest):
        fix = f"add it again with --submission {name}=PATH --force, or remove {model_dir}"
    else:
        fix = f"run evaluate on {model_dir.parent} again (it recomputes {name}), or remove it"
    raise HarnessError(f"{model_dir}: not provably current: {why}; {fix}")


def seal(model_dir: Path, manifest: dict[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    """`manifest` with `key_fields` and the SHA-256 of its files, ready to be written last."""
    return manifest | {
        "key_fields": dict(key),
        "files_sha256": file_digests(model_dir, stored_files(manifest)),
    }


def write_npz(path: Path, **arrays: NDArray[Any]) -> None:
    """`np.savez` without its wall-clock zip timestamps, so equal arrays give equal bytes."""
    with atomic_open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(arr), allow_pickle=False)


def write_recs(path: Path, pids: NDArray[np.int64], recs: IntArray, backfilled: IntArray) -> None:
    write_npz(path, pids=pids, recs=recs, backfilled=backfilled)


def read_recs(path: Path) -> tuple[NDArray[np.int64], IntArray, NDArray[np.int32]]:
    """(pids, recs, backfilled) of a run's recs.npz (no pickle); a damaged file is a DataError
    naming it."""
    try:
        with np.load(path, allow_pickle=False) as z:
            pids, recs, backfilled = z["pids"], z["recs"], z["backfilled"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable recs.npz ({_reason(e)}); {REDO}") from None
    if recs.ndim != 2 or pids.shape != (len(recs),) or backfilled.shape != (len(recs),):
        raise DataError(
            f"{path}: arrays of the wrong shape (pids {pids.shape}, recs {recs.shape}, "
            f"backfilled {backfilled.shape}); {REDO}"
        )
    return pids, recs, backfilled


REDO = "remove the model's folder (or run evaluate with --force) to compute it again"


def _reason(e: BaseException) -> str:
    """An exception in words, on one line, for messages that name the file themselves."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def write_metrics(
    path: Path,
    pids: NDArray[np.int64],
    categories: NDArray[np.integer],
    values: dict[str, NDArray[np.float64]],
) -> None:
    cols: dict[str, Any] = {"pid": pids.astype(np.int64), "category": categories.astype(np.int8)}
    cols.update({m: np.asarray(v, dtype=np.float64) for m, v in values.items()})
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(cols), tmp)


# a plain file name with the extension that says how it is written
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(parquet|json)")
RUNNER_FILES = ("recs.npz", "metrics.parquet", "manifest.json")


def write_artifacts(model_dir: Path, model: str, artifacts: Mapping[str, Any]) -> list[str]:
    """Write a model's `artifacts()` into its run folder; returns the file names, sorted.

    `name.parquet` takes a table (column name -> equal-length 1-D array or list), `name.json`
    any JSON-able value. A name that is not a plain file name of those kinds, or that is one of
    the runner's own files, is refused (ModelOutputError), before anything is written.
    """
    tables: dict[str, pa.Table] = {}
    for name, value in artifacts.items():
        if not isinstance(name, str) or not ARTIFACT_NAME.fullmatch(name) or name in RUNNER_FILES:
            raise ModelOutputError(
                f"model {model!r}: artifact name {name!r} must be a plain file name ending in "
                f".parquet or .json, other than {', '.join(RUNNER_FILES)}"
            )
        if name.endswith(".parquet"):
            tables[name] = _artifact_table(model, name, value)
    for name, value in artifacts.items():
        if name in tables:
            with atomic_path(model_dir / name) as tmp:
                pq.write_table(tables[name], tmp)
        else:
            write_json(model_dir / name, jsonable(value))
    return sorted(artifacts)


def _artifact_table(model: str, name: str, value: Any) -> pa.Table:
    """A Parquet artifact's table: a mapping of equal-length 1-D columns."""
    bad = f"model {model!r}: artifact {name!r} must map column names to equal-length 1-D arrays"
    if not isinstance(value, Mapping) or not value:
        raise ModelOutputError(bad)
    cols = {}
    for col, v in value.items():
        arr = np.asarray(v)
        if not isinstance(col, str) or arr.ndim != 1:
            raise ModelOutputError(bad)
        cols[col] = pa.array(arr.tolist() if arr.dtype.kind in "OU" else arr)
    if len({len(c) for c in cols.values()}) != 1:
        raise ModelOutputError(bad)
    return pa.table(cols)


def model_runs(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, manifest) of every complete model run (the split folder's manifest is not one)."""
    out = []
    for d in sorted(p for p in run_dir.iterdir() if (p / "manifest.json").is_file()):
        try:
            m = read_json_object(d / "manifest.json", "manifest")
        except ValueError as e:  # JSONFileError names the file
            fix = "run split again" if d.name == "split" else REDO
            raise DataError(f"{e}; {fix}") from None
        if "model" in m and "key" in m:
            out.append((d, m))
    return out


def read_metrics(path: Path) -> dict[str, NDArray[Any]]:
    """The columns of a metrics.parquet (pyarrow only: no model code is imported)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(path)
        return {c: t.column(c).to_numpy() for c in t.column_names}
    except (OSError, ValueError, pa.ArrowException) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DataError(f"{path}: not a readable Parquet file ({_reason(e)}); {REDO}") from None


def model_metrics(model_dir: Path) -> dict[str, NDArray[Any]]:
    """The per-playlist metrics of a complete model run, with every column checked present."""
    path = model_dir / "metrics.parquet"
    if not path.is_file():
        raise HarnessError(f"{path}: missing although {model_dir / 'manifest.json'} exists")
    cols = read_metrics(path)
    absent = [c for c in ("pid", "category", *METRIC_NAMES) if c not in cols]
    if absent:
        raise HarnessError(f"{path}: missing column(s) {', '.join(absent)}")
    return cols


def read_run(run_dir: Path, purpose: str) -> dict[str, Any]:
    """RUN_DIR/run.json of a run scored against a split (`purpose` names what needs it)."""
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        raise UsageError(f"{run_file}: not found; is {run_dir} a folder written by evaluate?")
    run = read_json_object(run_file, "run.json")
    for key in ("mode", "data", "split"):
        if key not in run:
            raise DataError(
                f"{run_file}: no {key!r} field; is {run_dir} a folder written by evaluate?"
            )
    if not isinstance(run["split"], dict) or not isinstance(run["data"], dict):
        raise DataError(f"{run_file}: 'data' and 'split' must be objects")
    if run.get("mode") != "split":
        raise UsageError(f"{run_dir}: a challenge-set run has no ground truth, so no {purpose}")
    return run


def located(path: Path, run_dir: Path) -> dict[str, str]:
    """How run.json records a path: absolute, and relative to the run folder (the fallback
    when the tree moved), so that the run folder describes itself from any working folder."""
    absolute = Path(os.path.abspath(path))
    return {"path": str(absolute), "relative_path": os.path.relpath(absolute, run_dir.resolve())}


def recorded_paths(run_dir: Path, entry: Mapping[str, Any]) -> list[Path]:
    """Where a path recorded in run.json (`data` or `split`) may be, most likely first: as
    stored (absolute since this version), relative to the run folder; for a run of an older
    version (a path relative to the folder evaluate ran in), also relative to each folder
    above the run folder."""
    text, rel = entry.get("path"), entry.get("relative_path")
    out = [Path(str(text))] if text else []
    if isinstance(rel, str):
        out.append(run_dir / rel)
    elif text and not Path(str(text)).is_absolute():
        out += [parent / str(text) for parent in Path(os.path.abspath(run_dir)).parents]
    return out


def resolve_data_path(run_dir: Path, data: Mapping[str, Any]) -> Path:
    """The data of a run, found from any working folder (`recorded_paths`)."""
    for candidate in recorded_paths(run_dir, data):
        if candidate.exists():
            return candidate
    raise HarnessError(
        f"data {data.get('path')} of run {run_dir} not found (looked at "
        f"{', '.join(str(p) for p in recorded_paths(run_dir, data)[:3])}); was it moved?"
    )


def resolve_split_dir(run_dir: Path, split: Mapping[str, Any]) -> Path:
    """The split folder of a run: as recorded (`recorded_paths`), else RUN_DIR/split.

    RUN_DIR/split is used only when its manifest carries the run's split fingerprint.
    """
    recorded = Path(str(split.get("path", "")))
    for candidate in recorded_paths(run_dir, split):
        if (candidate / "ground_truth.json").is_file():
            return candidate
    local = run_dir / "split"
    if (local / "manifest.json").is_file():
        fp = read_json_object(local / "manifest.json", "split manifest").get("fingerprint")
        if fp == split.get("fingerprint"):
            return local
    raise HarnessError(
        f"split folder {recorded} of run {run_dir} not found, nor {local} with the run's split "
        "fingerprint; was it moved?"
    )


def model_scores(model_dir: Path) -> dict[str, float]:
    """The mean of every metric over the test playlists of one model's run."""
    cols = read_metrics(model_dir / "metrics.parquet")
    return {name: float(cols[name].mean()) for name in METRICS if name in cols}


def is_external(manifest: Mapping[str, Any]) -> bool:
    """Whether a run's manifest is an external submission's (harness/run/external.py)."""
    return manifest.get("external") is True


def requested_models(run: Mapping[str, Any]) -> list[str] | None:
    """The model names `run.json` says were requested (None: not recorded, an older run)."""
    names = run.get("models")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return list(names)


def unfinished_models(run: Mapping[str, Any], finished: Iterable[str]) -> list[str]:
    """The requested models (in their order) without a complete run among `finished`; empty
    when run.json does not record what was requested."""
    done = set(finished)
    return [name for name in requested_models(run) or [] if name not in done]
