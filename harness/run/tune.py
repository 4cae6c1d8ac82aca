"""`tune`: search a model's hyperparameters on the validation split, with Optuna and Ray.

`tune(settings, reporter, on_trial)` prepares the data and the validation split
(harness/run/tune_data.py), opens or resumes the study (harness/run/study.py), puts the
validation target into Ray's object store once, and keeps `workers` trials in flight as Ray
tasks (harness/run/trial.py) until the study holds `trials` COMPLETE trials. Each trial is
scored on the validation split only; the test split's ground truth is never loaded. The best
configuration is written to `DIR/best.toml` in the experiment-file format, so an explicit
`evaluate --config DIR/best.toml` is the only step that ever scores it on the test split.

Ray runs on this machine (`ray.init()`, as many CPUs as needed for `workers` concurrent trials)
unless `ray_address` names a running cluster; a Ray instance the caller started already is used
as it is. docs/tuning.md describes the whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, UsageError
from harness.progress import SILENT, Reporter
from harness.run import study as st
from harness.run.space import SearchSpace, load_space
from harness.run.trial import TrialOutcome, pack, packed_mb, run_trial, unpack
from harness.run.tune_settings import OnTrial, TrialRow, TuneResult, TuneSettings

__all__ = ["OnTrial", "TrialRow", "TuneResult", "TuneSettings", "trial_rows", "tune"]

if TYPE_CHECKING:
    import optuna

MAX_FAILURES = 5  # consecutive failed trials (no COMPLETE between) before tuning gives up
MAX_DUPLICATES = 50  # consecutive suggestions already run: the space is exhausted
THREAD_PARAMS = ("threads", "workers", "n_threads", "num_threads")


def tune(
    settings: TuneSettings, reporter: Reporter = SILENT, on_trial: OnTrial | None = None
) -> TuneResult:
    """Run (or resume) the study until it holds `settings.trials` COMPLETE trials."""
    from harness.challenge.metrics import BY_NAME
    from harness.run.evaluate import needs_validation
    from harness.run.factory import build_model, model_name
    from harness.run.tune_data import prepare_tuning
    from harness.run.tune_files import check_out, write_best, write_manifest

    s = settings
    if s.trials < 1:
        raise UsageError(f"--trials {s.trials}: must be at least 1")
    if s.metric not in BY_NAME:
        raise UsageError(f"--metric {s.metric!r}: choose one of {', '.join(BY_NAME)}")
    if s.workers is not None and s.workers < 1:
        raise UsageError(f"--workers {s.workers}: must be at least 1")
    name = model_name(s.model)
    space = load_space(s.model, s.space)  # checked against the model before any slow step
    if needs_validation(build_model(s.model, space.fixed())):
        raise UsageError(
            f"{s.model} learns from the validation split, which tune scores on: it cannot be "
            "tuned there"
        )
    check_out(s.out)
    t0 = time.perf_counter()
    prepared = prepare_tuning(s.data, s.out, reporter)
    target = prepared.target
    info = prepared.info | {"space": space.to_doc(), "space_source": space.source}
    config = {
        "model": s.model,
        "metric": s.metric,
        "space": space.to_doc(),
        "k": s.data.k,
        "data": info["data"].get("fingerprint"),
        "validation": info["validation"].get("fingerprint"),
        "seed": s.seed,
    }
    url = st.storage_url(s.storage, s.out)
    storage = st.open_storage(url, s.heartbeat_s)
    higher = BY_NAME[s.metric].higher_is_better
    prune = bool(getattr(_model_class(s.model), "checkpoints", False))
    study = st.open_study(storage, st.study_name(name, s.metric, config), config, higher, prune)
    failed = st.fail_stale(study, storage)
    if failed:
        reporter.note(f"tune: trial(s) {failed} of an interrupted run marked FAIL; run again")
    info["timings"] = {"prepare_s": round(time.perf_counter() - t0, 3)}
    started, workers = _start_ray(s, space)
    try:
        t1 = time.perf_counter()
        with st.quiet():
            _optimise(study, storage, s, space, target, workers, prune, url, on_trial, info)
        if st.counts(study).get("COMPLETE", 0) < s.trials:
            reporter.warn(
                f"tune: the search space ran out of new parameters ({MAX_DUPLICATES} duplicate "
                f"suggestions in a row) before {s.trials} COMPLETE trials"
            )
        info["timings"]["trials_s"] = round(time.perf_counter() - t1, 3)
    finally:
        if started:
            import ray

            ray.shutdown()
    rows = trial_rows(study)
    best = _best(rows, higher)
    best_params = {**space.fixed(), **(best.params if best else {})}
    result = TuneResult(
        study.study_name, _masked(url), s.metric, higher, rows, best, best_params, {}, workers, info
    )
    if best is not None:
        result.files["best"] = write_best(s, prepared, name, best_params, best)
    result.files["manifest"] = write_manifest(s, result)
    return result


def _model_class(spec: str) -> type:
    from harness.run.factory import model_class

    return model_class(spec)


# ---------------------------------------------------------------------------- Ray


def model_threads(spec: str, space: SearchSpace) -> int:
    """CPU threads one trial of the model uses: its `threads`/`workers` parameter (the space's
    fixed value, else its default; 0 meaning every core), else 1."""
    params = _model_class(spec)().get_params(deep=False) | space.fixed()
    for key in THREAD_PARAMS:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            searched = [d for d in space.searched if d.name == key]
            top = int(searched[0].high) if searched and searched[0].kind == "int" else value
            return top if top > 0 else os.cpu_count() or 1
    return 1


def _start_ray(s: TuneSettings, space: SearchSpace) -> tuple[bool, int]:
    """(whether this call started Ray, concurrent trials). A running Ray is used as it is."""
    from harness.run.cluster import start_ray, total_cpus

    threads = model_threads(s.model, space)
    started = start_ray(s.ray_address, (s.workers or 1) * threads)
    return started, s.workers or max(1, total_cpus() // threads)


def _remote_trial(
    spec: str,
    params: dict[str, Any],
    packed: dict[str, Any],
    metric: str,
    gate: Any,
    trial_id: int,
) -> dict[str, Any]:
    """The Ray task of one trial: `run_trial` on the shared target; failures and pruning come
    back as data (`error`, `pruned`), not as exceptions."""
    import traceback

    import optuna
    import ray

    target = unpack(packed)  # views of the object store's arrays: nothing large is copied
    steps: dict[int, float] = {}

    def report(step: int, value: float) -> None:
        steps[step] = value
        if gate is not None and ray.get(gate.report.remote(trial_id, step, value)):
            raise optuna.TrialPruned()

    try:
        outcome: TrialOutcome = run_trial(spec, params, target, metric, report)
    except optuna.TrialPruned:
        return {"pruned": max(steps), "steps": steps}
    except HarnessError as e:
        return {"error": str(e)}
    except Exception as e:  # a model's bug: the trial fails, the study goes on
        return {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    return outcome.to_json()


class PruneGate:
    """A Ray actor next to the study: workers report intermediate values, it asks the pruner."""

    def __init__(self, url: str, name: str) -> None:
        import optuna

        self.study = optuna.load_study(study_name=name, storage=url)

    def report(self, trial_id: int, step: int, value: float) -> bool:
        import optuna

        trial = optuna.trial.Trial(self.study, trial_id)
        trial.report(value, step)
        return bool(trial.should_prune())


# ---------------------------------------------------------------------------- the loop


@dataclass
class _Flight:
    trial: optuna.Trial
    params: dict[str, Any]
    started: float


def _optimise(
    study: optuna.Study,
    storage: Any,
    s: TuneSettings,
    space: SearchSpace,
    target: Any,
    workers: int,
    prune: bool,
    url: str,
    on_trial: OnTrial | None,
    info: dict[str, Any],
) -> None:
    """Ask, run as Ray tasks (at most `workers` at once), tell, until enough are COMPLETE."""
    import ray

    arrays = pack(target)
    packed = ray.put(arrays)  # once: every trial reads the same shared arrays
    info["object_store_mb"] = round(packed_mb(arrays), 1)
    del arrays
    threads = model_threads(s.model, space)
    task = ray.remote(_remote_trial).options(num_cpus=threads, max_retries=0)
    gate = _gate(url, study.study_name) if prune else None
    flights: dict[Any, _Flight] = {}
    failures = duplicates = 0
    notify = _notifier(study, s.trials, on_trial)
    notify()
    while True:
        complete = st.counts(study).get("COMPLETE", 0)
        while len(flights) < workers and complete + len(flights) < s.trials:
            trial = st.ask(study, s.seed)
            storage.record_heartbeat(trial._trial_id)  # first thing: a kill from here is resumed
            params = space.suggest(trial)
            twin = st.duplicate_of(study, trial, params)
            if twin is not None:
                trial.set_user_attr(st.DUPLICATE, twin)
                study.tell(trial, state=_state("FAIL"))
                duplicates += 1
                if duplicates > MAX_DUPLICATES:
                    break
                continue
            duplicates = 0
            full = {**space.fixed(), **params}
            ref = task.remote(s.model, full, packed, s.metric, gate, trial._trial_id)
            flights[ref] = _Flight(trial, full, time.perf_counter())
            notify()
        if not flights:
            break
        ready, _ = ray.wait(list(flights), num_returns=1, timeout=s.heartbeat_s)
        st.heartbeat(storage, [f.trial._trial_id for f in flights.values()])
        for ref in ready:
            flight = flights.pop(ref)
            ok = _tell(study, flight, ref)
            failures = 0 if ok else failures + 1
            notify()
        if failures >= MAX_FAILURES:
            raise HarnessError(
                f"tune: {failures} trials in a row failed; the last: {_last_error(study)}"
            )


def _gate(url: str, name: str) -> Any:
    """The pruning actor, placed on this node (an SQLite file in DIR is only reachable here)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    actor = ray.remote(PruneGate).options(num_cpus=0, scheduling_strategy=here)
    return actor.remote(url, name)


def _tell(study: optuna.Study, flight: _Flight, ref: Any) -> bool:
    """Record a finished task in the study; True when the trial completed."""
    import ray

    trial = flight.trial
    trial.set_user_attr("wall_s", round(time.perf_counter() - flight.started, 3))
    try:
        out = ray.get(ref)
    except Exception as e:  # the worker died (out of memory, killed): the trial failed
        out = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    if "error" in out:
        trial.set_user_attr("error", out["error"])
        study.tell(trial, state=_state("FAIL"))
        return False
    if "pruned" in out:
        trial.set_user_attr("pruned_at", out["pruned"])
        study.tell(trial, state=_state("PRUNED"))
        return True
    keys = ("values", "fit_s", "recommend_s", "peak_rss_mb", "rss_before_mb", "backfilled")
    for key in (*keys, "shared_mb", "steps"):
        trial.set_user_attr(key, out[key])
    study.tell(trial, out["values"][_metric_of(study)])
    return True


def _metric_of(study: optuna.Study) -> str:
    return str(study.user_attrs["config"]["metric"])


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def _last_error(study: optuna.Study) -> str:
    failed = [t for t in study.get_trials(deepcopy=False) if "error" in t.user_attrs]
    return str(failed[-1].user_attrs["error"]) if failed else "unknown"


def _notifier(study: optuna.Study, n: int, on_trial: OnTrial | None) -> Callable[[], None]:
    def notify() -> None:
        if on_trial is not None:
            rows = trial_rows(study)
            on_trial(rows, sum(r.state == "COMPLETE" for r in rows), n)

    return notify


# ---------------------------------------------------------------------------- reading the study


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    """Every trial of the study, in number order."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        seconds = None
        if t.datetime_start is not None and t.datetime_complete is not None:
            seconds = (t.datetime_complete - t.datetime_start).total_seconds()
        note = ""
        if st.DUPLICATE in a:
            note = f"not run: same parameters as trial {a[st.DUPLICATE]}"
        elif "error" in a:
            note = str(a["error"])
        elif "pruned_at" in a:
            note = f"pruned after step {a['pruned_at']}"
        elif "retry_history" in t.system_attrs:
            note = f"re-run of trial {t.system_attrs['failed_trial']}"
        rows.append(
            TrialRow(
                number=t.number,
                state=t.state.name,
                params=dict(t.params),
                value=t.value if t.state.name == "COMPLETE" else None,
                seconds=seconds,
                note=note,
                values=dict(a.get("values", {})),
                peak_rss_mb=a.get("peak_rss_mb"),
                shared_mb=a.get("shared_mb"),
            )
        )
    return rows


def _best(rows: list[TrialRow], higher: bool) -> TrialRow | None:
    """The best COMPLETE trial; ties go to the lower trial number."""
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    if not done:
        return None
    return min(done, key=lambda r: (-(r.value or 0.0) if higher else (r.value or 0.0), r.number))


def _masked(url: str) -> str:
    """The storage URL without its password (it goes to the manifest)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: never echo it
        return url.split("://", 1)[0] + "://…"
