"""The files `tune` writes into its folder: `best.toml` (an experiment file) and `manifest.json`.

`DIR` carries the `.mpd-harness` marker of kind "tune" (harness/outputs.py): `tune --out` takes a
new or empty folder or one it wrote, never another. `DIR/manifest.json` is written when a run
starts (status "running") and again at its end. The trials table and the
history plot are the report's (harness/report/tuning.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import atomic_open, read_json, write_json
from harness.errors import UsageError
from harness.run.experiment import HEADER, Experiment, dumps, to_document
from harness.run.manifest import jsonable, machine, versions
from harness.version import __version__

if TYPE_CHECKING:
    from harness.run.tune_data import Prepared
    from harness.run.tune_settings import TrialRow, TuneResult, TuneSettings

TOOL = "mpd-harness tune"
EVALUATE_DIR = "evaluate"  # best.toml's run folder, under DIR: the final evaluate's


def check_out(out: Path) -> None:
    """Refuse a folder that is not new, empty or a tuning folder the harness wrote (its
    `.mpd-harness` marker says "tune"; harness/outputs.py), then mark it as one."""
    from harness.outputs import check_folder_target, mark

    out = Path(out)
    check_folder_target(out, "tune", legacy=_ours, hint="choose a new or empty folder")
    mark(out, "tune")
    if not (out / "manifest.json").exists():
        write_json(
            out / "manifest.json", {"tool": TOOL, "version": __version__, "status": "running"}
        )


def _ours(out: Path) -> bool:
    """A tuning folder written before the marker existed: its manifest says so."""
    try:
        return bool(read_json(out / "manifest.json").get("tool") == TOOL)
    except (OSError, ValueError, AttributeError):
        return False


def best_experiment(prepared: Prepared, spec: str, params: dict[str, Any], out: Path) -> Experiment:
    """The experiment of the best configuration: the tuned model alone, every parameter written
    (defaults included, as `RUN_DIR/experiment.toml` does), the split tune used, run folder
    `DIR/evaluate`."""
    from dataclasses import replace

    from harness.run.experiment import _writable
    from harness.run.factory import build_model

    full = jsonable(build_model(spec, params).get_params(deep=False))
    writable = {k: v for k, v in full.items() if _writable(v)}
    settings = replace(prepared.settings, out=Path(out) / EVALUATE_DIR)
    return Experiment(settings, (spec,), {spec: writable} if writable else {}, False)


def write_best(
    s: TuneSettings, prepared: Prepared, name: str, params: dict[str, Any], best: TrialRow
) -> Path:
    """`DIR/best.toml`: usable as `evaluate --config`. A file the harness did not write there
    is refused."""
    path = Path(s.out) / "best.toml"
    if path.exists():
        with open(path, encoding="utf-8", errors="replace") as f:
            if not f.readline().startswith(HEADER):
                raise UsageError(f"{path}: not written by mpd-harness; move it away")
    exp = best_experiment(prepared, s.model, params, s.out)
    value = f"{best.value:.6f}" if best.value is not None else "?"
    header = (
        f"{HEADER} (mpd-harness {__version__}): the best configuration of `tune --model "
        f"{name}`,\n# trial {best.number}, validation {s.metric} {value}. Score it on the test "
        f"split:\n#   mpd-harness evaluate --config {path}\n# and repeat its validation score:\n"
        f"#   mpd-harness evaluate --config {path} --score-on validation --out OTHER_DIR\n\n"
    )
    with atomic_open(path, "w") as f:
        f.write(header + dumps(to_document(exp)))
    return path


def write_manifest(s: TuneSettings, result: TuneResult) -> Path:
    """`DIR/manifest.json`: settings, study, best trial, per-state counts, memory, versions."""
    path = Path(s.out) / "manifest.json"
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    peaks = [r.peak_rss_mb for r in result.rows if r.peak_rss_mb is not None]
    shared = [r.shared_mb for r in result.rows if r.shared_mb is not None]
    best = result.best
    doc = {
        "tool": TOOL,
        "version": __version__,
        "status": "complete" if result.n_complete >= s.trials else "incomplete",
        "model": s.model,
        "metric": s.metric,
        "higher_is_better": result.higher_is_better,
        "trials_requested": s.trials,
        "trial_states": counts,
        "study": {"name": result.study_name, "storage": result.storage},
        "sampler": {"name": "TPESampler", "seed": s.seed, "reseeded": "per trial number"},
        "workers": result.workers,
        "ray_address": s.ray_address,
        "best": None
        if best is None
        else {
            "trial": best.number,
            "value": best.value,
            "values": best.values,
            "params": result.best_params,
        },
        "worker_peak_rss_mb": max(peaks) if peaks else None,
        "worker_shared_mb": max(shared) if shared else None,
        "memory_note": (
            "worker_peak_rss_mb: highest resident memory of a trial's worker process, sampled; "
            "it includes worker_shared_mb of file-backed and shared pages (shared libraries and "
            "the object store's arrays, object_store_mb, held once per machine)"
        ),
        "scored_on": "validation",
        **jsonable(result.info),
        "files": {k: str(v) for k, v in result.files.items()},
        "versions": versions(),
        "machine": machine(),
    }
    write_json(path, doc)
    return path
