"""The Optuna study behind `tune`: its database, its name, its sampler, and resuming it.

The study lives in Optuna's RDB storage (SQLAlchemy): an SQLite file `DIR/study.db` by default,
any SQLAlchemy URL otherwise (PostgreSQL for a cluster). Its name holds the model, the metric
and a hash of everything that makes trials comparable (search space, data and validation
fingerprints, k, sampler seed), so rerunning the same command loads the same study and a
changed command starts a new one beside it.

Resuming: the driver records a heartbeat for every trial it has in flight. A trial whose
heartbeat stopped (its driver was killed) is marked FAIL once the grace period has passed, and
Optuna's `RetryHeartbeatStaleTrialCallback` queues its parameters again (a WAITING trial, which
the next `ask` returns). Trials are counted by state, so the COMPLETE ones of earlier runs count
towards `--trials` and a killed one is neither lost nor counted twice.

Sampling: TPE, reseeded for each trial from (seed, trial number). A trial's suggestion
therefore depends on the seed, its number and the trials finished when it was asked, not on how
many were asked before in this process: a resumed study draws what an uninterrupted one would
have drawn for the same history.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError
from harness.run.manifest import fingerprint, jsonable

if TYPE_CHECKING:
    import optuna

DB_FILE = "study.db"
N_STARTUP_TRIALS = 10  # TPE's random start (Optuna's default), before it models the history
DUPLICATE = "duplicate_of"  # user attribute of a trial not run: its parameters were run already


def storage_url(storage: str | None, out: Path) -> str:
    """The SQLAlchemy URL of the study: `storage` as given, else SQLite in `out`."""
    if storage:
        return storage
    return f"sqlite:///{(Path(out) / DB_FILE).resolve()}"


@contextmanager
def quiet() -> Iterator[None]:
    """Silence Optuna's warnings about heartbeats outside `Study.optimize` (the driver records
    them itself) and about experimental features (heartbeats, retrying stale trials)."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        yield


def open_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage with heartbeats, a grace of three beats, and retried stale trials."""
    import optuna

    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # the driver and the pruning actor write to one SQLite file: wait for its lock
        engine = {"connect_args": {"timeout": 60}}
    with quiet():
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=heartbeat_s,
                grace_period=3 * heartbeat_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(),
            )
        except (ImportError, ModuleNotFoundError) as e:
            raise UsageError(
                f"--storage {url}: its database driver is not installed ({e})"
            ) from None
        except Exception as e:  # SQLAlchemy's many errors: a bad URL, no server, no access
            raise UsageError(f"--storage {url}: cannot open ({type(e).__name__}: {e})") from None


def study_name(model: str, metric: str, config: Mapping[str, Any]) -> str:
    """`knn-r_precision-1a2b3c4d`: one study per comparable configuration."""
    return f"{model}-{metric}-{fingerprint(config)[:8]}"


def open_study(
    storage: optuna.storages.RDBStorage,
    name: str,
    config: Mapping[str, Any],
    higher_is_better: bool,
    prune: bool,
) -> optuna.Study:
    """Create the study, or load it when it exists (its stored configuration must match)."""
    import optuna

    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=4) if prune else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize" if higher_is_better else "minimize",
        load_if_exists=True,
        sampler=make_sampler(0, 0),
        pruner=pruner,
    )
    stored = study.user_attrs.get("config")
    if stored is None:
        study.set_user_attr("config", jsonable(config))
    elif stored != jsonable(config):
        raise UsageError(f"study {name!r} in the storage was made with another configuration")
    return study


def make_sampler(seed: int, number: int) -> optuna.samplers.TPESampler:
    """TPE seeded from (seed, trial number)."""
    import numpy as np
    import optuna

    derived = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=derived, n_startup_trials=N_STARTUP_TRIALS)


def ask(study: optuna.Study, seed: int) -> optuna.Trial:
    """A new trial (a queued one first), its sampler seeded by the number it will get."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    waiting = [t.number for t in trials if t.state == TrialState.WAITING]
    number = min(waiting) if waiting else len(trials)  # `ask` pops the oldest queued trial
    study.sampler = make_sampler(seed, number)
    return study.ask()


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials per state name (`COMPLETE`, `RUNNING`, `FAIL`, ...)."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def duplicate_of(study: optuna.Study, trial: optuna.Trial, params: Mapping[str, Any]) -> int | None:
    """The number of a COMPLETE or RUNNING trial with the same parameters, if any."""
    from optuna.trial import TrialState

    want = jsonable(dict(params))
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
        if t.number != trial.number and jsonable(t.params) == want:
            return t.number
    return None


def heartbeat(storage: optuna.storages.RDBStorage, trial_ids: list[int]) -> None:
    for trial_id in trial_ids:
        storage.record_heartbeat(trial_id)


def fail_stale(study: optuna.Study, storage: optuna.storages.RDBStorage) -> list[int]:
    """Mark trials left RUNNING by a killed driver FAIL (and queue their parameters again).

    Waits one grace period (three heartbeats) for their heartbeats to go stale; trials whose
    heartbeat stays fresh belong to a live driver and are left alone. Returns the failed trials' numbers.
    """
    import optuna
    from optuna.trial import TrialState

    def running() -> list[int]:
        return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]

    before = running()
    # a trial killed before its first heartbeat has none and would never go stale: start the
    # clock on every running trial now (a live driver's next beat keeps its own trials fresh)
    heartbeat(
        storage,
        [t._trial_id for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))],
    )
    grace = 3 * (storage.get_heartbeat_interval() or 0)
    deadline = time.monotonic() + grace + 1
    with quiet():
        while True:
            optuna.storages.fail_stale_trials(study)
            if not running() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    still = set(running())
    return [n for n in before if n not in still]
