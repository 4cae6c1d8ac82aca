"""Progress you can trust: model fits report (done, total, unit) as they go, the runner turns
that into the step's count and ETA, and run.json names the models a run set out to fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.atomic import read_json
from harness.cli import main
from harness.progress import Recorder
from harness.run.evaluate import fit_with_progress
from harness.types import TrainSet
from models import get_model

# small settings for a tiny corpus, so each model fits in a second
SETTINGS: dict[str, tuple[dict[str, Any], str, int | None]] = {
    "w2v": ({"epochs": 3, "dim": 8, "min_count": 1, "workers": 1}, "epoch", 3),
    "sgns": ({"epochs": 3, "dim": 8, "min_count": 1, "device": "cpu"}, "epoch", 3),
    "item_knn": ({"work_budget": 50}, "block", None),  # a small budget: several blocks
}


def tiny_train(n_playlists: int = 60, n_tracks: int = 40, seed: int = 0) -> TrainSet:
    rng = np.random.default_rng(seed)
    rows = [
        rng.choice(n_tracks, size=rng.integers(3, 12), replace=False) for _ in range(n_playlists)
    ]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    return TrainSet(
        offsets=offsets,
        track_ids=np.concatenate(rows).astype(np.int32),
        titles=np.array(["mix"] * n_playlists, dtype=object),
        n_tracks=n_tracks,
        track_artist=(np.arange(n_tracks) % 7).astype(np.int32),
        track_album=(np.arange(n_tracks) % 11).astype(np.int32),
    )


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_fits_report_every_unit_up_to_the_total(name: str) -> None:
    params, unit, expected_total = SETTINGS[name]
    seen: list[tuple[int, int, str]] = []
    model = get_model(name, **params).set_progress(lambda d, t, u: seen.append((d, t, u)))
    model.fit(tiny_train())
    assert seen, f"{name} reported no progress"
    done, totals, units = zip(*seen, strict=True)
    assert set(units) == {unit}
    assert len(set(totals)) == 1 and (expected_total is None or totals[0] == expected_total)
    assert list(done) == list(range(1, totals[0] + 1))  # every unit once, in order, to the end
    if name == "item_knn":
        assert totals[0] > 1


def test_progress_is_not_a_hyperparameter() -> None:
    model = get_model("sgns").set_progress(print)
    assert "progress" not in " ".join(model.get_params())


def test_the_runner_forwards_counts_to_the_reporter() -> None:
    calls: list[tuple[int, int | None, str | None]] = []

    def advance(n: int = 1, *, total: int | None = None, label: str | None = None) -> None:
        calls.append((n, total, label))

    model = get_model("sgns", **SETTINGS["sgns"][0])
    fit_with_progress(model, tiny_train(), "sgns", advance)
    assert calls == [(1, 3, "sgns: fit (epochs)")] * 3  # one step forward per epoch
    assert getattr(model, "_progress_fn", None) is None  # the hook is removed after the fit


def test_run_json_names_the_models_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--synthetic", "tiny", "--models", "popular,title", "--k", "10"]) == 0
    run = read_json(tmp_path / "runs/synthetic-tiny-s0/run.json")
    assert run["models"] == ["popular", "title"]


def test_recorder_sees_the_fit_step() -> None:
    log = Recorder()
    with log.step("knn: fit") as advance:
        advance(1, total=4, label="knn: fit (blocks)")
    assert log.texts("step") == ["knn: fit"]
    assert log.texts("progress") == ["knn: fit (blocks): total 4"]
