"""The parts of `tune` that need no Ray: search spaces, the study (storage, sampler, resuming,
duplicates), the trial target's trip through the object store's format, the trials table."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from rich.console import Console

from harness.cli.tune import progress_line, trials_table
from harness.errors import UsageError
from harness.report.tuning import trials_table as trials_rows
from harness.report.tuning import write_history_plot, write_trials_csv
from harness.run import study as st
from harness.run.space import DEFAULT_SPACES, load_space, parse_space
from harness.run.trial import Target, pack, unpack
from harness.run.tune import TrialRow, model_threads
from harness.types import Queries, TrainSet, Validation

optuna.logging.set_verbosity(optuna.logging.WARNING)
# the tests drive heartbeats by hand, as the tune driver does, outside Study.optimize
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")


# ---------------------------------------------------------------------------- spaces


@pytest.mark.parametrize("model", sorted(DEFAULT_SPACES))
def test_every_default_space_fits_its_model(model: str) -> None:
    space = load_space(model, None)
    assert space.searched and space.source == "default"
    assert space.to_doc() == DEFAULT_SPACES[model]


def test_a_model_without_a_space_needs_a_file() -> None:
    with pytest.raises(UsageError, match="popular.*no default search space.*--space"):
        load_space("popular", None)


def test_a_space_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(
        "work_budget = 1000000\n\n[k_neighbors]\nint = [5, 50]\nstep = 5\n\n"
        '[weighting]\nchoices = ["idf", "bm25"]\n'
    )
    space = load_space("knn", path)
    assert [d.name for d in space.searched] == ["k_neighbors", "weighting"]
    assert space.fixed() == {"work_budget": 1000000}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = space.suggest(study.ask())
        assert params["k_neighbors"] % 5 == 0 and 5 <= params["k_neighbors"] <= 50
        assert params["weighting"] in ("idf", "bm25") and params["work_budget"] == 1000000


@pytest.mark.parametrize(
    "text, message",
    [
        ("[k]\nint = [1, 2]\n", "k: knn has no such parameter; its parameters: alpha"),
        ("[alpha]\nint = [1, 2]\nfloat = [0.0, 1.0]\n", "2 of int, float, choices"),
        ("[alpha]\nfloat = [2.0, 1.0]\n", "low 2.0 is above high 1.0"),
        ("[alpha]\nfloat = [0.0, 1.0]\nlog = true\n", "log needs a positive low end"),
        ("[k_neighbors]\nint = [1.5, 3]\n", "expected [low, high] of ints"),
        ('[weighting]\nchoices = ["idf", "tf"]\n', "weighting = 'tf': knn: weighting must be"),
        ("[k_neighbors]\nint = [0, 10]\n", "k_neighbors = 0: knn: k_neighbors must be >= 1"),
        ("weighting = 3\n[alpha]\nfloat = [0.0, 1.0]\n", "weighting: 3 does not fit the default"),
        ("[alpha]\nfloat = [0.0, 1.0]\nstride = 2\n", "unknown key 'stride'"),
    ],
)
def test_a_bad_space_is_one_line_naming_file_and_parameter(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as e:
        load_space("knn", path)
    assert str(path) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_a_space_of_fixed_values_only_searches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text("alpha = 0.5\n")
    with pytest.raises(UsageError, match="nothing to search"):
        load_space("knn", path)


def test_threads_of_a_trial_come_from_the_model() -> None:
    assert model_threads("title", load_space("title", None)) == 1  # no threads parameter
    assert model_threads("knn", load_space("knn", None)) == (os.cpu_count() or 1)  # 0: all
    assert model_threads("knn", parse_space("knn", {"threads": 1}, "x")) == 1
    sgns = parse_space("sgns", {"threads": 2, "dim": {"choices": [8, 16]}}, "x")
    assert model_threads("sgns", sgns) == 2


# ---------------------------------------------------------------------------- the study


def test_storage_defaults_to_sqlite_in_the_folder(tmp_path: Path) -> None:
    assert st.storage_url(None, tmp_path) == f"sqlite:///{(tmp_path / 'study.db').resolve()}"
    assert st.storage_url("postgresql://u@h/db", tmp_path) == "postgresql://u@h/db"


def test_a_bad_storage_url_is_one_line() -> None:
    with pytest.raises(UsageError, match="--storage nosuch://x: cannot open|driver"):
        st.open_storage("nosuch://x", 10)


def test_the_sampler_depends_on_seed_and_trial_number_only() -> None:
    def draw(seed: int, number: int) -> float:
        study = optuna.create_study(sampler=st.make_sampler(seed, number))
        return study.ask().suggest_float("x", 0.0, 1.0)

    assert draw(0, 3) == draw(0, 3)
    assert len({draw(0, 3), draw(0, 4), draw(1, 3)}) == 3


def _study(tmp_path: Path, heartbeat: int = 1) -> tuple[optuna.Study, object]:
    storage = st.open_storage(st.storage_url(None, tmp_path), heartbeat)
    config = {"model": "knn", "space": {"x": {"float": [0.0, 1.0]}}}
    study = st.open_study(storage, st.study_name("knn", "r_precision", config), config, True, False)
    return study, storage


def test_a_study_is_found_again_by_its_configuration(tmp_path: Path) -> None:
    study, _ = _study(tmp_path)
    study.tell(study.ask(), 0.5)
    again, _ = _study(tmp_path)
    assert again.study_name == study.study_name and len(again.trials) == 1
    other = st.study_name("knn", "ndcg", {"model": "knn"})
    assert other != study.study_name and other.startswith("knn-ndcg-")


def test_a_killed_trial_is_failed_and_queued_again(tmp_path: Path) -> None:
    study, storage = _study(tmp_path)
    done = st.ask(study, 0)
    done.suggest_float("x", 0.0, 1.0)
    study.tell(done, 0.1)
    killed = st.ask(study, 0)
    x = killed.suggest_float("x", 0.0, 1.0)
    storage.record_heartbeat(killed._trial_id)  # then its driver dies: no more heartbeats
    time.sleep(1)
    again, storage2 = _study(tmp_path)  # a new driver
    assert st.fail_stale(again, storage2) == [killed.number]
    states = [t.state.name for t in again.get_trials()]
    assert states == ["COMPLETE", "FAIL", "WAITING"]
    retry = st.ask(again, 0)
    assert retry.number == 2 and retry.suggest_float("x", 0.0, 1.0) == x


def test_a_live_drivers_trial_is_left_running(tmp_path: Path) -> None:
    import threading

    study, storage = _study(tmp_path, heartbeat=1)
    trial = st.ask(study, 0)
    trial.suggest_float("x", 0.0, 1.0)
    stop = threading.Event()

    def beat() -> None:  # the other driver, alive: its heartbeat stays fresh
        while not stop.wait(0.3):
            storage.record_heartbeat(trial._trial_id)

    storage.record_heartbeat(trial._trial_id)
    other = threading.Thread(target=beat)
    other.start()
    try:
        assert st.fail_stale(study, storage) == []  # waited a grace period, then left it
    finally:
        stop.set()
        other.join()
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]


def test_duplicates_are_found_among_complete_and_running_trials(tmp_path: Path) -> None:
    study, _ = _study(tmp_path)
    first = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    study.tell(first, 0.3)
    twin = study.ask()
    twin.suggest_float("x", first.params["x"], first.params["x"])
    assert st.duplicate_of(study, twin, {"x": first.params["x"]}) == first.number
    assert st.duplicate_of(study, twin, {"x": 0.123456}) is None


# ---------------------------------------------------------------------------- the target


def test_a_target_survives_the_object_store_format() -> None:
    train = TrainSet(
        offsets=np.array([0, 2, 5], dtype=np.int64),
        track_ids=np.array([1, 2, 0, 3, 4], dtype=np.int32),
        titles=np.array(["rock", "chill"], dtype=object),
        n_tracks=6,
        track_artist=np.arange(6, dtype=np.int32),
        track_album=np.arange(6, dtype=np.int32),
    )
    queries = Queries(
        pids=np.array([7, 8], dtype=np.int64),
        seed_offsets=np.array([0, 0, 1], dtype=np.int64),
        seed_ids=np.array([2], dtype=np.int32),
        seed_pos=np.array([0], dtype=np.int32),
        titles=np.array(["rock", None], dtype=object),
        categories=np.array([1, 4], dtype=np.int8),
    )
    gt = (np.array([0, 1, 2], dtype=np.int64), np.array([5, 1], np.int32))
    validation = Validation(np.array([0, 1], dtype=np.int64), queries, *gt, fingerprint="v")
    target = Target(train, validation, 3, "k")
    packed = pack(target)
    assert all(
        isinstance(v, np.ndarray) and v.dtype != object
        for k, v in packed.items()
        if k not in ("n_tracks", "k", "key", "v_fingerprint")
    )
    back = unpack(packed)
    assert back.train.titles.tolist() == ["rock", "chill"]
    q = back.validation.queries
    assert q.titles.tolist() == ["rock", None] and back.validation.fingerprint == "v"
    assert q.seed_ids is packed["q_seed_ids"]  # views, not copies
    assert back.validation.holdout_ids.tolist() == [5, 1]
    assert (back.k, back.key, back.train.n_tracks) == (3, "k", 6)


# ---------------------------------------------------------------------------- the table and files

ROWS = [
    TrialRow(
        0, "COMPLETE", {"alpha": 0.5, "k_neighbors": 10}, 0.1, 1.25, values={"r_precision": 0.1}
    ),
    TrialRow(1, "FAIL", {"alpha": 0.7, "k_neighbors": 20}, None, 0.5, note="UsageError: boom"),
    TrialRow(
        2, "COMPLETE", {"alpha": 0.9, "k_neighbors": 30}, 0.2, 2.0, values={"r_precision": 0.2}
    ),
    TrialRow(3, "RUNNING", {"alpha": 0.1, "k_neighbors": 40}, None, None),
]


def test_the_trials_table_shows_params_value_time_state() -> None:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(trials_table(ROWS, "r_precision", synthetic=True))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for cell in ("alpha", "k_neighbors", "0.2000", "2.0", "FAIL", "UsageError: boom", "SYNTHETIC"):
        assert cell in text
    assert (
        progress_line(ROWS, 2, 5, "r_precision") == "2/5 complete, 1 running, best 0.2000 (trial 2)"
    )


def test_trials_csv_and_history_plot(tmp_path: Path) -> None:
    import pandas as pd

    write_trials_csv(ROWS, tmp_path / "trials.csv")
    frame = pd.read_csv(tmp_path / "trials.csv")
    assert frame["number"].tolist() == [0, 1, 2, 3]
    assert frame["param.k_neighbors"].tolist() == [10, 20, 30, 40]
    assert frame["state"].tolist() == ["COMPLETE", "FAIL", "COMPLETE", "RUNNING"]
    assert list(trials_rows(ROWS)[0])[:4] == ["number", "state", "value", "r_precision"]
    write_history_plot(ROWS, tmp_path / "h.png", "r_precision", synthetic=True)
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
