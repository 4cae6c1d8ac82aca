"""Confidence table of a run: each metric's mean, 95% bootstrap CI and paired test vs the best.

`confidence_from_values` is pure (per-playlist columns in, dict out); `confidence_table` reads them
from a run folder first. For every model, overall and per challenge category, each metric's mean
with a 95% percentile-bootstrap CI, and a two-sided Wilcoxon signed-rank test against the best
model of that slice and metric over the same playlists (paired by pid), Holm-corrected across the
models of that slice and metric (`harness.report.significance`). The leaderboard stores the overall
cells under "ci"; the HTML report shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.challenge.metrics import HIGHER_IS_BETTER, METRICS
from harness.errors import HarnessError
from harness.progress import SILENT, Reporter
from harness.report.significance import bootstrap_ci, compare_to_best
from harness.run.rundir import check_current, model_metrics, model_runs, read_run

CONFIDENCE = 0.95
N_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
ALPHA = 0.05
METHOD_NOTE = (
    f"Intervals: {CONFIDENCE:.0%} percentile bootstrap of the mean ({N_RESAMPLES} resamples of the "
    f"test playlists, seed {BOOTSTRAP_SEED}). Tests: each model against the best one of the same "
    "metric (and category), two-sided Wilcoxon signed-rank over the same playlists paired by pid; "
    f"p-values Holm-corrected across the models compared; 'differs' when p_holm < {ALPHA}."
)

FloatArray = NDArray[np.float64]
Columns = dict[str, NDArray[Any]]  # "pid", "category" and one (n,) column per metric


def _summary(
    per_model: Mapping[str, FloatArray], metric: str, mask: NDArray[np.bool_]
) -> dict[str, dict[str, Any]]:
    """{model: {mean, lo, hi, n, best, p, p_holm, significant}} for one metric on one slice."""
    values = {m: v[mask] for m, v in per_model.items()}
    tests = compare_to_best(values, higher_is_better=HIGHER_IS_BETTER[metric])
    out: dict[str, dict[str, Any]] = {}
    for m, v in values.items():
        lo, hi = bootstrap_ci(
            v, confidence=CONFIDENCE, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED
        )
        out[m] = {"mean": float(np.mean(v)), "lo": lo, "hi": hi, "n": int(len(v)), **tests[m]}
    return out


def confidence_from_values(
    per_model: Mapping[str, Mapping[str, NDArray[Any]]],
    metrics: Sequence[str] = METRICS,
    *,
    reporter: Reporter = SILENT,
) -> dict[str, Any]:
    """The confidence table from per-playlist columns already in memory.

    per_model: model -> {"pid": (n,), "category": (n,), metric: (n,) ...}. Rows are paired by
    pid (any row order); every model must hold the same pids.

    Returns ``{"method": {...}, "models": {model: {"overall": {metric: cell},
    "categories": {"1": {metric: cell}, ...}}}}`` with cell = ``{"mean", "lo", "hi", "n",
    "best", "p", "p_holm", "significant"}``; `best` names the best model of that slice and metric.
    Models keep the order of `per_model`.
    """
    if not per_model:
        return {"method": _method(), "models": {}}
    aligned = _align(per_model)
    cats = _common_categories(aligned)
    slices: list[tuple[str | None, NDArray[np.bool_]]] = [(None, np.ones(len(cats), dtype=bool))]
    slices += [(str(c), cats == c) for c in np.unique(cats) if 1 <= c <= 10]
    models: dict[str, Any] = {m: {"overall": {}, "categories": {}} for m in aligned}
    with reporter.step("confidence intervals and paired tests", total=len(metrics)) as advance:
        for metric in metrics:
            cols = {m: np.asarray(v[metric], dtype=np.float64) for m, v in aligned.items()}
            for cat, mask in slices:
                for m, cell in _summary(cols, metric, mask).items():
                    if cat is None:
                        models[m]["overall"][metric] = cell
                    else:
                        models[m]["categories"].setdefault(cat, {})[metric] = cell
            advance(1)
    return {"method": _method(), "models": models}


def _common_categories(aligned: Mapping[str, Columns]) -> NDArray[np.int64]:
    """(n,) category of each pid (pid order), which every model must agree on."""
    first_name, first = next(iter(aligned.items()))
    cats = np.asarray(first["category"]).astype(np.int64)
    for name, cols in aligned.items():
        other = np.asarray(cols["category"]).astype(np.int64)
        if not np.array_equal(other, cats):
            pid = first["pid"][np.flatnonzero(other != cats)[0]]
            raise HarnessError(
                f"models {name!r} and {first_name!r} disagree on the category of pid {pid}"
            )
    return cats


def _method() -> dict[str, Any]:
    return {
        "confidence": CONFIDENCE,
        "n_resamples": N_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "interval": "percentile bootstrap of the mean",
        "test": "Wilcoxon signed-rank, two-sided, paired by pid, vs the best model",
        "correction": "Holm across the models compared (per metric and slice)",
        "alpha": ALPHA,
        "note": METHOD_NOTE,
    }


def _align(per_model: Mapping[str, Mapping[str, NDArray[Any]]]) -> dict[str, Columns]:
    """Every model's columns sorted by pid; raise unless all models hold the same pids."""
    out: dict[str, Columns] = {}
    ref_name, ref_pids = "", np.zeros(0, dtype=np.int64)
    for name, cols in per_model.items():
        pids = np.asarray(cols["pid"], dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        sorted_pids = pids[order]
        if len(sorted_pids) > 1 and (sorted_pids[1:] == sorted_pids[:-1]).any():
            dup = sorted_pids[1:][sorted_pids[1:] == sorted_pids[:-1]][0]
            raise HarnessError(f"model {name!r}: pid {dup} appears twice in its metrics")
        if not out:
            ref_name, ref_pids = name, sorted_pids
        elif not np.array_equal(sorted_pids, ref_pids):
            extra = np.setdiff1d(sorted_pids, ref_pids)
            lack = np.setdiff1d(ref_pids, sorted_pids)
            what = f"pid {extra[0]} not in" if len(extra) else f"pid {lack[0]} missing, it is in"
            raise HarnessError(
                f"models {name!r} and {ref_name!r} were scored on different playlists "
                f"({what} {ref_name!r}); paired tests need the same playlists"
            )
        out[name] = {k: np.asarray(v)[order] for k, v in cols.items()}
    return out


def load_run_metrics(
    run_dir: str | Path, models: Iterable[str] | None = None
) -> dict[str, Columns]:
    """Per-playlist metrics of each model run in `run_dir` made on the run's data and split.

    `models`: only these (e.g. the leaderboard's), in this order; all matching runs by default.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir, "statistics")
    data_fp = run.get("data", {}).get("fingerprint")
    split_fp = run.get("split", {}).get("fingerprint")
    found: dict[str, Columns] = {}
    for d, m in model_runs(run_dir):
        check_current(d, m)
        same = (
            m.get("mode") == "split"
            and m.get("data", {}).get("fingerprint") == data_fp
            and m.get("split", {}).get("fingerprint") == split_fp
        )
        if not same:
            continue
        found[str(m["model"])] = model_metrics(d)
    if models is None:
        return found
    wanted = list(models)
    lacking = [m for m in wanted if m not in found]
    if lacking:
        raise HarnessError(
            f"{run_dir}: no complete run on this data and split for {', '.join(lacking)}"
        )
    return {m: found[m] for m in wanted}


def confidence_table(
    run_dir: str | Path, models: Iterable[str] | None = None, *, reporter: Reporter = SILENT
) -> dict[str, Any]:
    """CIs and significance vs the best model for every model run of `run_dir` (files only).

    See `confidence_from_values` for the layout. Reads `run.json` and each model's
    `manifest.json` + `metrics.parquet`; models made on other data or another split are left out,
    as in the leaderboard.
    """
    return confidence_from_values(load_run_metrics(run_dir, models), reporter=reporter)
