"""`tune` end to end on a real local Ray (`num_cpus=2`) and a real SQLite study, on the tiny
synthetic preset: trials scored on the validation split with the test answers removed, a
`best.toml` that `evaluate --config` repeats exactly, a run killed mid-trial and resumed, and
one worker against two.

One Ray instance serves the whole module (starting one takes seconds); a driver killed in a
subprocess joins it by address, as `--ray-address` joins a cluster.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # Ray starts once per module; trials fit real models

from harness.cli import main  # noqa: E402
from harness.run.context import EvaluateSettings  # noqa: E402
from harness.run.sources import resolve_data  # noqa: E402
from harness.run.tune import TrialRow, TuneResult, TuneSettings, tune  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "tests")])  # tune_slow_model for workers
SPACE = """\
[k_neighbors]
int = [5, 200]
log = true

[alpha]
float = [0.0, 1.5]

[weighting]
choices = ["none", "idf", "bm25"]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working folder holding the tiny synthetic MPD, its corpus cache and a space file."""
    here = Path.cwd()
    d = tmp_path_factory.mktemp("tune")
    os.chdir(d)
    try:
        (d / "space.toml").write_text(SPACE)
        (d / "slow.toml").write_text(SPACE + "\n[delay]\nchoices = [1.5]\n")
        yield d
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def ray_address(folder: Path) -> Iterator[str]:
    import logging

    # the raylet (and so every worker, whichever job it serves) finds the harness and
    # tune_slow_model, as a cluster's nodes must (docs/tuning.md)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = PYTHONPATH
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
        object_store_memory=200 * 2**20,
        runtime_env={"env_vars": {"PYTHONHASHSEED": "0"}},
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def settings(out: str, split: Path | None = None, **kw: Any) -> TuneSettings:
    data = EvaluateSettings(synthetic="tiny", split=split)
    return TuneSettings("knn", 4, Path(out), data, space=Path("space.toml"), **kw)


def complete(result: TuneResult) -> list[TrialRow]:
    return [r for r in result.rows if r.state == "COMPLETE"]


def test_tunes_on_validation_with_the_test_answers_removed(folder: Path, ray_address: str) -> None:
    resolve_data(None, "tiny", 0)  # data/synthetic/tiny-s0, as `--synthetic tiny` makes it
    assert main(["split", "data/synthetic/tiny-s0", "--out", "sp", "--validation", "10"]) == 0
    assert (folder / "sp" / "validation" / "ground_truth.json").is_file()
    (folder / "sp" / "ground_truth.json").unlink()  # the test answers: gone
    result = tune(settings("t1", split=Path("sp"), workers=2))
    assert result.n_complete == 4 and len(result.rows) == 4
    assert not (folder / "sp" / "ground_truth.json").exists()
    values = [r.value for r in complete(result)]
    assert len(set(values)) > 1 and all(0 < v < 1 for v in values)  # real, varied scores
    assert result.best is not None and result.best.value == max(values)
    # best.toml repeats the best trial's validation score through evaluate (still no answers)
    out = folder / "again"
    argv = ["evaluate", "--config", "t1/best.toml", "--score-on", "validation", "--out", str(out)]
    assert main(argv) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    (row,) = board["models"]
    assert row["overall"]["r_precision"] == result.best.value
    assert row["params"] | result.best.params == row["params"]
    manifest = json.loads((folder / "t1" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["trial_states"] == {"COMPLETE": 4}
    assert manifest["best"]["trial"] == result.best.number
    assert manifest["worker_peak_rss_mb"] > 0


def _states(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return [s for (s,) in con.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.Error:
        return []


def test_a_killed_run_resumes_to_the_requested_count_without_duplicates(
    folder: Path, ray_address: str
) -> None:
    argv = [sys.executable, "-m", "harness", "tune", "--model", "tune_slow_model:SlowKNN"]
    argv += ["--space", "slow.toml", "--trials", "4", "--workers", "1", "--synthetic", "tiny"]
    argv += ["--out", "t2", "--ray-address", ray_address]
    env = os.environ | {"PYTHONPATH": PYTHONPATH, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    db = folder / "t2" / "study.db"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            states = _states(db)
            if "COMPLETE" in states and states[-1] == "RUNNING":
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and nothing else: its own session
        proc.wait()
    killed = _states(db)
    assert killed.count("RUNNING") == 1 and killed.count("COMPLETE") < 4
    slow = replace(settings("t2", heartbeat_s=1, workers=1), model="tune_slow_model:SlowKNN")
    result = tune(replace(slow, space=Path("slow.toml")))
    done = complete(result)
    assert len(done) == 4
    assert len({json.dumps(r.params, sort_keys=True) for r in done}) == 4  # no duplicate
    fails = [r for r in result.rows if r.state == "FAIL"]
    assert len(fails) == 1, (killed, [(r.number, r.state, r.note) for r in result.rows])
    failed = fails[0]
    rerun = [r for r in done if r.note == f"re-run of trial {failed.number}"]
    # killed before or after its parameters were drawn: those it had, it runs with again
    assert len(rerun) == 1 and failed.params.items() <= rerun[0].params.items()


def test_one_worker_and_two_find_the_same_best(folder: Path, ray_address: str) -> None:
    one = tune(settings("t3a", workers=1))
    two = tune(settings("t3b", workers=2))
    by_number = lambda res: {r.number: r.params for r in complete(res)}  # noqa: E731
    # 4 trials < TPE's 10 random start-up trials: each trial's draw depends on its number only
    assert by_number(one) == by_number(two)
    assert one.best_params == two.best_params and one.best and two.best
    assert one.best.value == two.best.value


def test_evaluate_does_not_start_ray(folder: Path) -> None:
    code = (
        "import sys; from harness.cli import main; "
        "rc = main(['evaluate', '--synthetic', 'tiny', '--models', 'popular', '--out', 'ev']); "
        "assert rc == 0, rc; assert 'ray' not in sys.modules and 'optuna' not in sys.modules, "
        "sorted(m for m in sys.modules if m in ('ray', 'optuna'))"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_model_with_checkpoints_reports_and_can_be_stopped(folder: Path) -> None:
    from harness.run.trial import run_trial
    from harness.run.tune_data import prepare_tuning

    target = prepare_tuning(EvaluateSettings(synthetic="tiny"), Path("t4")).target
    params = {"epochs": 4, "min_count": 2, "dim": 16}
    seen: list[tuple[int, float]] = []
    outcome = run_trial("w2v", params, target, "r_precision", lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == [1, 2, 3]  # every quarter of the epochs; the 4th is the end
    assert outcome.steps == dict(seen) and all(0 <= v < 1 for _, v in seen)

    class Stop(Exception):
        pass

    def stop(step: int, value: float) -> None:
        raise Stop(step)

    with pytest.raises(Stop):
        run_trial("w2v", params, target, "r_precision", stop)


def test_pruning_reaches_the_study_through_the_gate(folder: Path, ray_address: str) -> None:
    import optuna

    (folder / "w2v.toml").write_text(
        "epochs = 2\nmin_count = 2\n\n[dim]\nchoices = [8, 16]\n\n[ns_exponent]\nfloat = [-1.0, 1.0]\n"
    )
    s = replace(settings("t5", workers=2), model="w2v", space=Path("w2v.toml"), trials=2)
    result = tune(s)
    assert result.n_complete == 2
    url = f"sqlite:///{folder}/t5/study.db"
    study = optuna.load_study(study_name=result.study_name, storage=url)
    # each trial reported its epoch-1 validation score through the actor, as its run recorded it
    for t in study.get_trials():
        assert t.intermediate_values == {1: t.user_attrs["steps"]["1"]}
        assert 0 < t.intermediate_values[1] < 1


def test_split_seeds_fan_out_and_summarise(folder: Path, ray_address: str) -> None:
    argv = ["evaluate", "--synthetic", "tiny", "--models", "popular,knn", "--out", "seeds"]
    assert main([*argv, "--split-seeds", "0,1"]) == 0
    doc = json.loads((folder / "seeds" / "seeds.json").read_text())
    assert doc["seeds"] == [0, 1] and doc["synthetic"] is True
    boards = {
        s: json.loads((Path(d) / "leaderboard.json").read_text())
        for s, d in doc["run_dirs"].items()
    }
    assert [b["split"]["seed"] for b in boards.values()] == [0, 1]
    assert boards["0"]["split"]["fingerprint"] != boards["1"]["split"]["fingerprint"]
    for row in doc["models"]:
        per_seed = [
            next(m for m in b["models"] if m["name"] == row["name"])["overall"]["r_precision"]
            for b in boards.values()
        ]
        r = row["metrics"]["r_precision"]
        assert r["per_seed"] == {"0": per_seed[0], "1": per_seed[1]}
        assert r["mean"] == pytest.approx(sum(per_seed) / 2)
        assert r["std"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2**0.5)
    assert [m["name"] for m in doc["models"]] == ["knn", "popular"]  # best mean first
    assert "± " in (folder / "seeds" / "seeds.md").read_text()


def test_an_exhausted_space_ends_with_a_warning_not_a_duplicate(
    folder: Path, ray_address: str
) -> None:
    from harness.progress import Recorder

    (folder / "one.toml").write_text('[weighting]\nchoices = ["idf"]\n')
    recorder = Recorder()
    s = replace(settings("t6", workers=1), space=Path("one.toml"), trials=2)
    result = tune(s, recorder)
    assert result.n_complete == 1  # one configuration exists; it ran once
    assert "ran out of new parameters" in " ".join(recorder.texts("warn"))
    assert all("not run: same parameters as trial" in r.note for r in result.rows[1:])
