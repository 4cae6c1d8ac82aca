"""The run folder: its files and how they are read and written.

    RUN_DIR/run.json                 mode, k, data and split of the run (what every model shares);
                                     "models": the names requested, where evaluate recorded them
    RUN_DIR/split/                   the split, when evaluate drew it
    RUN_DIR/<model>/manifest.json    key (what a reuse must match), params, versions, timings
    RUN_DIR/<model>/recs.npz         pids, recs int32 (n, k), backfilled (no pickle)
    RUN_DIR/<model>/metrics.parquet  pid, category and one column per metric
    RUN_DIR/<name>/                  an external submission, stored the same way with
                                     `"external": true` in its manifest (harness/run/external.py)
    RUN_DIR/leaderboard.{json,md,csv}

Evaluate writes it (harness/run/evaluate.py); leaderboard, report and generate read it through
the functions here, so the format lives in one module.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from harness.atomic import atomic_open, atomic_path, read_json, write_json
from harness.challenge.metrics import METRICS
from harness.errors import HarnessError, UsageError
from harness.run.manifest import fingerprint
from harness.types import IntArray

METRIC_NAMES = METRICS
# Bump when the runner's treatment of a model's output changes (routing, checks, backfill), so
# that runs stored by an older runner are recomputed rather than reused.
RUNNER_VERSION = 2


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
) -> None:
    """`RUN_DIR/run.json`: the mode, k, data and split every model of the run shares, and the
    models the last evaluate set out to run (`models`, absent in runs of older versions)."""
    doc = {"mode": mode, "k": k, "data": data, "split": split}
    if models is not None:
        doc["models"] = models
    write_json(run_dir / "run.json", doc)


def complete_run(model_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored manifest when the run in `model_dir` is complete and matches `key`."""
    path = model_dir / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = read_json(path)
    except (OSError, ValueError):
        return None
    if manifest.get("key") != fingerprint(key) or not (model_dir / "recs.npz").exists():
        return None
    if manifest.get("mode") == "split" and not (model_dir / "metrics.parquet").exists():
        return None
    return dict(manifest)


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
    """(pids, recs, backfilled) of a run's recs.npz (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return z["pids"], z["recs"], z["backfilled"]


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


def model_runs(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, manifest) of every complete model run (the split folder's manifest is not one)."""
    out = []
    for d in sorted(p for p in run_dir.iterdir() if (p / "manifest.json").is_file()):
        m = read_json(d / "manifest.json")
        if isinstance(m, dict) and "model" in m and "key" in m:
            out.append((d, m))
    return out


def read_metrics(path: Path) -> dict[str, NDArray[Any]]:
    """The columns of a metrics.parquet (pyarrow only: no model code is imported)."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    return {c: t.column(c).to_numpy() for c in t.column_names}


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
    run: dict[str, Any] = read_json(run_file)
    if run.get("mode") != "split":
        raise UsageError(f"{run_dir}: a challenge-set run has no ground truth, so no {purpose}")
    return run


def resolve_split_dir(run_dir: Path, split: Mapping[str, Any]) -> Path:
    """The split folder of a run: as recorded (relative to where evaluate ran), else RUN_DIR/split.

    RUN_DIR/split is used only when its manifest carries the run's split fingerprint.
    """
    recorded = Path(str(split.get("path", "")))
    if (recorded / "ground_truth.json").is_file():
        return recorded
    local = run_dir / "split"
    if (local / "manifest.json").is_file():
        fp = read_json(local / "manifest.json").get("fingerprint")
        if fp == split.get("fingerprint"):
            return local
    raise HarnessError(
        f"split folder {recorded} of run {run_dir} not found (paths in run.json are relative to "
        "the folder evaluate ran in; run from there)"
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
