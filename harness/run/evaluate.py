"""Evaluate models on a split: corpus → split → fit/recommend each model → run files.

For every model the run folder gets `RUN_DIR/<model>/recs.npz`, `metrics.parquet`,
`manifest.json` (written last: it marks the run complete) and `submissions/<run>/<model>.csv.gz`
(see harness/run/rundir.py). A model whose manifest matches (model, params, data, split, k) is
reused, not retrained, unless `force`.

The runner, not the models, checks every recommendation matrix and backfills empty (-1) slots
with the most popular training tracks (harness/run/checks.py). Seedless queries of models with
`cold_start == "title"` go to the shared title baseline, and so do the queries such a model
leaves wholly empty (no seed it knows).

A model with `needs_validation` fits on the training set with the validation split attached
(`TrainSet.validation`, drawn from the training playlists only) and its run key holds that
split's fingerprint; every other model fits on the training set without it, as before.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.atomic import read_json, write_json
from harness.errors import UsageError
from harness.progress import SILENT, Advance, Reporter
from harness.run import rundir
from harness.run.checks import backfill, check_recs
from harness.run.context import (
    DEFAULT_K,
    RUNS_ROOT,
    EvaluateSettings,
    Evaluation,
    prepare,
    run_name,
    start_run,
    timed,
)
from harness.run.manifest import (
    RssSampler,
    file_sha256,
    fingerprint,
    jsonable,
    machine,
    ru_maxrss_mb,
    versions,
)
from harness.run.rundir import (
    read_recs,
    reusable_run,
    seal,
    write_artifacts,
    write_metrics,
    write_recs,
)
from harness.run.submissions import first_line, write_and_verify_submission
from harness.types import IntArray, Queries, TrainSet

if TYPE_CHECKING:
    from models.base import Recommender

# queries per `recommend` call: small enough for a live progress bar, large enough to batch
CHUNK = 1000
RSS_NOTE = (
    "peak_rss_mb: highest resident memory of this process sampled (every 50 ms) during this "
    "model's fit and recommend stages; it includes the corpus and split already in memory "
    "(rss_before_mb). process_peak_rss_mb is getrusage ru_maxrss: the whole process's "
    "high-water mark so far, monotonic across models."
)


# ---------------------------------------------------------------------------- one model


def run_key(ev: Evaluation, name: str, model: Recommender) -> dict[str, Any]:
    """What a stored run of `model` must match to be reused (harness/run/rundir.py)."""
    from models import MODELS

    registered = name in MODELS and MODELS[name] is type(model)
    return rundir.run_key(
        name,
        jsonable(model.get_params(deep=False)),
        mode=ev.mode,
        k=ev.k,
        data=ev.data,
        split=split_info(ev, model),
        cls=None if registered else class_path(model),
    )


def needs_validation(model: Recommender) -> bool:
    """Whether `model` learns from held-out tracks of the validation split (a ClassVar of
    `models.base.Recommender`; duck-typed models without it do not)."""
    return bool(getattr(model, "needs_validation", False))


def train_for(ev: Evaluation, model: Recommender) -> TrainSet:
    """What `model` fits on: the training set, with the validation split only for a model that
    learns from held-out tracks; every other model sees the training set without it."""
    if not needs_validation(model):
        return replace(ev.train, validation=None)
    if ev.train.validation is None:
        raise UsageError(
            f"{class_path(model)} needs a validation split and this run has none "
            "(prepare it with needs_validation, or give --validation N)"
        )
    return ev.train


def split_info(ev: Evaluation, model: Recommender) -> dict[str, Any]:
    """The run's split, plus the validation split for a model that learns from it: its
    fingerprint is then part of the model's run key, so a new validation split refits it."""
    if not needs_validation(model) or ev.validation is None:
        return ev.split
    return ev.split | {"validation": ev.validation}


def class_path(model: Recommender) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def fit_with_progress(model: Recommender, train: TrainSet, name: str, advance: Advance) -> None:
    """`model.fit(train)`, its progress reports (epochs, blocks) drawn by the step's bar."""
    shown = 0

    def report(done: int, total: int, unit: str) -> None:
        nonlocal shown
        advance(done - shown, total=total, label=f"{name}: fit ({unit}s)")
        shown = done

    hook = getattr(model, "set_progress", None)  # duck-typed models may lack it
    if hook is not None:
        hook(report)
    try:
        model.fit(train)
    finally:
        if hook is not None:
            hook(None)


def recommend_all(
    ev: Evaluation, name: str, model: Recommender
) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_], float]:
    """Checked (n, k) recommendations for every query of the run, before backfill
    (`answer_queries` with the run's queries, title baseline and reporter)."""
    return answer_queries(
        model,
        ev.queries,
        ev.k,
        name=name,
        n_tracks=ev.train.n_tracks,
        title=ev.title_model,
        reporter=ev.reporter,
        track_uris=ev.corpus.track_uris,
    )


def answer_queries(
    model: Recommender,
    q: Queries,
    k: int,
    *,
    name: str,
    n_tracks: int,
    title: Callable[[], Recommender],
    reporter: Reporter = SILENT,
    track_uris: NDArray[np.object_] | None = None,
) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_], float]:
    """Checked (n, k) recommendations of a fitted `model` for queries `q`, before backfill.

    Models with `cold_start == "title"` hand two kinds of query to the title baseline `title()`
    (fitted on first call): seedless ones (routed before the model runs) and those the model
    left wholly empty, e.g. when no seed has a vector (answered after). Returns the matrix,
    both masks and the seconds spent inside `recommend` calls (checks excluded).
    """
    n = len(q)
    recs = np.full((n, k), -1, dtype=np.int32)  # (n, k)
    to_title = model.cold_start == "title"
    routed = (q.n_seeds == 0) if to_title else np.zeros(n, dtype=bool)
    own = np.flatnonzero(~routed)
    seconds = 0.0
    with reporter.step(f"{name}: recommend", total=n) as advance:

        def run(who: Recommender, label: str, idx: NDArray[np.intp]) -> None:
            nonlocal seconds
            sub = q.subset(idx)
            t0 = time.perf_counter()
            out = who.recommend(sub, k)
            seconds += time.perf_counter() - t0
            recs[idx] = check_recs(out, sub, n_tracks, k, label, track_uris)
            advance(len(idx))

        for s in range(0, len(own), CHUNK):
            run(model, name, own[s : s + CHUNK])
        if routed.any():
            run(title(), f"{name} (via title baseline)", np.flatnonzero(routed))
        empty = ~routed & (recs < 0).all(axis=1) if to_title else np.zeros(n, dtype=bool)
        if empty.any():
            label = f"{name} (unanswered, via title baseline)"
            run(title(), label, np.flatnonzero(empty))
    return recs, routed, empty, seconds


def score(ev: Evaluation, recs: IntArray) -> dict[str, NDArray[np.float64]]:
    """Per-playlist values of every metric (split mode)."""
    from harness.challenge.metrics import compute_metrics

    assert ev.gt_offsets is not None and ev.gt_tracks is not None
    artists = ev.corpus.track_artist
    return compute_metrics(recs, ev.gt_offsets, ev.gt_tracks, artists[ev.gt_tracks], artists[recs])


def _write_submission(ev: Evaluation, path: Path, pids: NDArray[np.int64], recs: IntArray) -> None:
    write_and_verify_submission(
        path,
        ev.run_dir,
        pids,
        ev.corpus.track_uris[recs],
        team=ev.team,
        email=ev.email,
        challenge_path=ev.challenge_path,
        known_uris=ev.corpus.track_index,
        team_format=ev.team_format,
    )


def _reuse(ev: Evaluation, name: str, stored: dict[str, Any]) -> dict[str, Any]:
    """A complete stored run; its submission is written again when missing, not its own, or
    headed by another team, email or --team-format than this run's."""
    from harness.challenge.submission import team_info_line

    model_dir, sub_path = ev.run_dir / name, ev.submissions_dir / f"{name}.csv.gz"
    header = team_info_line(ev.team, ev.email, ev.team_format)
    if ev.k == DEFAULT_K and (
        not sub_path.exists()
        or file_sha256(sub_path) != stored.get("submission_sha256")
        or first_line(sub_path) != header
    ):
        pids, recs, _ = read_recs(model_dir / "recs.npz")
        _write_submission(ev, sub_path, pids, recs)
        stored["submission_sha256"] = file_sha256(sub_path)
        write_json(model_dir / "manifest.json", stored)
    ev.reporter.note(f"{name}: reusing {model_dir} (use --force to refit)")
    return stored


def _refuse_external(model_dir: Path, name: str) -> None:
    """A model never overwrites an external submission stored under its name."""
    path = model_dir / "manifest.json"
    try:
        stored = read_json(path) if path.is_file() else {}
    except (OSError, ValueError):
        return  # an unreadable manifest is not an external run's: the model's run replaces it
    if isinstance(stored, dict) and rundir.is_external(stored):
        raise UsageError(
            f"{model_dir} holds the external submission {name!r}; run the model under another "
            "name or remove that folder"
        )


def evaluate_model(ev: Evaluation, name: str, model: Recommender, force: bool) -> dict[str, Any]:
    """Fit, recommend, check, backfill, score and write one model's run; reuse a complete one.

    `model` is built and checked once per run (harness/run/factory.py); it is fitted here.
    """
    train = train_for(ev, model)
    key = run_key(ev, name, model)
    model_dir, sub_path = ev.run_dir / name, ev.submissions_dir / f"{name}.csv.gz"
    stored, why = (None, None) if force else reusable_run(model_dir, key)
    if stored is not None:
        return _reuse(ev, name, stored)
    if why is not None:
        ev.reporter.note(f"{name}: not reusing {model_dir}: {why}; fitting again")
    _refuse_external(model_dir, name)
    # an interrupted recomputation must not leave the old manifest vouching for new files
    (model_dir / "manifest.json").unlink(missing_ok=True)
    with ev.reporter.step(f"{name}: fit") as advance, RssSampler() as fit:
        fit_with_progress(model, train, name, advance)
    with RssSampler() as rec:
        raw, routed, unanswered, rec_s = recommend_all(ev, name, model)
    stages: dict[str, float] = {}
    with timed(stages, "backfill_s"):
        recs, backfilled = backfill(raw, ev.queries, ev.ranking, ev.k)
    pids = ev.queries.pids
    model_dir.mkdir(parents=True, exist_ok=True)
    write_recs(model_dir / "recs.npz", pids, recs, backfilled)
    if ev.mode == "split":
        with timed(stages, "score_s"):
            values = score(ev, recs)
        write_metrics(model_dir / "metrics.parquet", pids, ev.queries.categories, values)
    hook = getattr(model, "artifacts", None)  # duck-typed models may lack it
    artifacts = write_artifacts(model_dir, name, hook() if hook is not None else {})
    if ev.k == DEFAULT_K:
        with timed(stages, "submission_s"):
            _write_submission(ev, sub_path, pids, recs)
    sub = os.path.relpath(sub_path.resolve(), model_dir.resolve()) if ev.k == DEFAULT_K else None
    manifest = _manifest(ev, name, model, key, fit, rec, rec_s, stages)
    manifest |= {
        "title_routed": int(routed.sum()),
        "title_unanswered": int(unanswered.sum()),
        "title_fit_s": round(ev.title_fit_s, 3) if (routed | unanswered).any() else None,
        "backfill": {
            "slots": int(backfilled.sum()),
            "queries": int((backfilled > 0).sum()),
            "max": int(backfilled.max(initial=0)),
        },
        "files": {
            "recs": "recs.npz",
            "metrics": "metrics.parquet" if ev.mode == "split" else None,
            "artifacts": artifacts,
        },
        "submission": sub,
        "submission_sha256": file_sha256(sub_path) if sub is not None else None,
    }
    manifest = seal(model_dir, manifest, key)  # key fields and file hashes: provably current
    write_json(model_dir / "manifest.json", manifest)  # last: marks the run complete
    return manifest


def _manifest(
    ev: Evaluation,
    name: str,
    model: Recommender,
    key: dict[str, Any],
    fit: RssSampler,
    rec: RssSampler,
    rec_s: float,
    stages: dict[str, float],
) -> dict[str, Any]:
    """What a model's manifest says of the model, the machine, the seeds, time and memory."""
    params = model.get_params(deep=False)
    split = split_info(ev, model)
    seeds = {
        "data": ev.data.get("seed"),
        "split": ev.split.get("seed"),
        "model": jsonable(params.get("seed", params.get("random_state"))),
    }
    if "validation" in split:
        seeds["validation"] = split["validation"]["seed"]
    return {
        "model": name,
        "class": class_path(model),
        "params": jsonable(params),
        "key": fingerprint(key),
        "mode": ev.mode,
        "k": ev.k,
        "seeds": seeds,
        "versions": versions(),
        "machine": machine(),
        "data": ev.data,
        "split": split,
        "fit_s": round(fit.seconds, 3),
        "recommend_s": round(rec_s, 3),
        "peak_rss_mb": round(max(fit.peak_mb, rec.peak_mb), 1),
        "fit_peak_rss_mb": round(fit.peak_mb, 1),
        "recommend_peak_rss_mb": round(rec.peak_mb, 1),
        "rss_before_mb": round(fit.start_mb, 1),
        "process_peak_rss_mb": round(ru_maxrss_mb(), 1),
        "rss_note": RSS_NOTE,
        "stages": stages,
        "fit_info": jsonable(getattr(model, "fit_info_", None)),
        # the effective value for the settings used, where the model knows it
        "deterministic": bool(getattr(model, "deterministic_", model.deterministic)),
        "determinism_note": model.determinism_note,
        "cold_start": model.cold_start,
    }


def run_models(
    ev: Evaluation,
    models: Sequence[tuple[str, Recommender]],
    force: bool = False,
    keep: Collection[str] = (),
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Evaluate each (name, model) in turn, yielding (name, manifest) as each one finishes, so
    a caller can show results as they come; each model's wall time goes to `ev.timings`. Every
    model but those named in `keep` (instances a caller gave and may inspect) is `release`d
    once its run is written."""
    for name, model in models:
        with timed(ev.timings, f"{name}_s"):
            manifest = evaluate_model(ev, name, model, force)
        if name not in keep:
            release(model)
        yield name, manifest


def release(model: Recommender) -> None:
    """Drop a model's learned state (the public attributes ending in `_`) once its run is
    written: its files hold what it answered, and the next model should not fit beside it.
    Kept to the end of the run, the fitted models of the 1M evaluate held about 6 GB (resident
    memory before each fit grew from 3.0 to 9.5 GB, bench/evaluate_1m.json)."""
    state = getattr(model, "__dict__", {})
    for attr in [a for a in state if a.endswith("_") and not a.startswith("_")]:
        delattr(model, attr)
    gc.collect()  # a model's own reference cycles (callbacks, gensim's) go now, not later


__all__ = [
    "DEFAULT_K",
    "RUNS_ROOT",
    "EvaluateSettings",
    "Evaluation",
    "answer_queries",
    "evaluate_model",
    "fit_with_progress",
    "needs_validation",
    "prepare",
    "recommend_all",
    "release",
    "run_models",
    "run_name",
    "start_run",
    "timed",
    "train_for",
]
