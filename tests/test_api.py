"""The public Python API (harness.load, make_split, evaluate, score) and docs/api.md, whose code
blocks run here in order, in a fresh folder; and the evaluate flags that seed data and split
apart."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import harness
from harness.atomic import read_json
from harness.cli import main
from harness.errors import UsageError
from harness.run.factory import build_models, model_name, snake_case
from models.popular import PopularRecommender

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def doc_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run docs/api.md's blocks in one namespace (as a reader would, top to bottom)."""
    import os

    folder = tmp_path_factory.mktemp("api")
    here = os.getcwd()
    os.chdir(folder)
    namespace: dict[str, Any] = {"__name__": "api_doc"}
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            for block in python_blocks(DOC.read_text()):
                exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        os.chdir(here)
    namespace["_folder"] = folder
    namespace["_stdout"] = out.getvalue()
    return namespace


def test_the_doc_has_the_four_calls() -> None:
    code = "\n".join(python_blocks(DOC.read_text()))
    for call in ("harness.load(", "harness.make_split(", "harness.evaluate(", "harness.score("):
        assert call in code


def test_doc_load_and_split(doc_run: dict[str, Any]) -> None:
    corpus, split = doc_run["corpus"], doc_run["split"]
    assert corpus.n_playlists == 2000
    assert len(split.test_idx) == 10 * (2000 // 200)
    again = harness.make_split(corpus, seed=0)
    assert again.fingerprint == split.fingerprint  # a pure function of (corpus, seed, settings)
    assert harness.make_split(corpus, seed=1).fingerprint != split.fingerprint


def test_doc_evaluate_runs_a_user_model_beside_registered_ones(doc_run: dict[str, Any]) -> None:
    board, table = doc_run["board"], doc_run["table"]
    assert sorted(table["name"]) == ["knn", "most_played_artist", "popular"]
    assert len(table) == len(board.models) == 3
    row = table.set_index("name").loc["most_played_artist"]
    assert row["r_precision_lo"] <= row["r_precision"] <= row["r_precision_hi"]
    run = doc_run["_folder"] / "runs" / "x"
    manifest = read_json(run / "most_played_artist" / "manifest.json")
    assert manifest["params"] == {"per_artist": 50}
    assert manifest["class"].endswith("MostPlayedArtist")
    assert (doc_run["_folder"] / "submissions" / "x" / "most_played_artist.csv.gz").is_file()
    assert read_json(run / "leaderboard.json")["models"] == board.models


def test_doc_score_equals_the_score_command(
    doc_run: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = doc_run["_folder"]
    monkeypatch.chdir(folder)
    capsys.readouterr()
    assert main(["score", doc_run["submission"], "--split", "runs/x/split", "--json"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == doc_run["scores"]
    assert set(doc_run["scores"]["categories"]) == {str(c) for c in range(1, 11)}


def test_doc_reporter_sees_the_reuse(doc_run: dict[str, Any]) -> None:
    notes = doc_run["log"].texts("note")
    assert any(n.startswith("popular: reusing") for n in notes), notes


def test_models_by_path_and_instance_are_named_and_checked() -> None:
    assert snake_case("KNNRecommender") == "knn_recommender"
    assert snake_case("MyRec") == "my_rec"
    assert model_name("knn") == "knn"
    assert model_name("models.popular:PopularRecommender") == "popular_recommender"
    assert model_name(PopularRecommender()) == "popular_recommender"
    built = build_models(["popular", "models.popular:PopularRecommender"], {})
    assert [n for n, _ in built] == ["popular", "popular_recommender"]
    with pytest.raises(UsageError, match="two models are named"):
        build_models([PopularRecommender(), "models.popular:PopularRecommender"], {})
    with pytest.raises(UsageError, match="cannot import"):
        build_models(["models.nosuch:Thing"], {})
    with pytest.raises(UsageError, match="unknown model"):
        build_models(["nosuch"], {})


def test_a_bad_hyperparameter_fails_before_any_data_is_read(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="k_neighbors"):
        harness.evaluate(
            data=tmp_path / "nothing-here",
            models=["knn"],
            params={"knn": {"k_neighbors": "many"}},
            out=tmp_path / "run",
        )
    assert not (tmp_path / "run").exists()


def test_split_seed_varies_the_split_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    common = ["evaluate", "--synthetic", "tiny", "--models", "popular", "--k", "20"]
    assert main([*common, "--seed", "0"]) == 0
    assert main([*common, "--split-seed", "1"]) == 0
    assert main([*common, "--seed", "1", "--data-seed", "0"]) == 0
    base = read_json(tmp_path / "runs/synthetic-tiny-s0/run.json")
    other = read_json(tmp_path / "runs/synthetic-tiny-s0-split1/run.json")
    assert other["data"]["fingerprint"] == base["data"]["fingerprint"]  # same data
    assert other["split"]["fingerprint"] != base["split"]["fingerprint"]  # another split
    assert (base["split"]["seed"], other["split"]["seed"]) == (0, 1)
    manifest = read_json(tmp_path / "runs/synthetic-tiny-s0-split1/popular/manifest.json")
    assert manifest["seeds"]["data"] == 0 and manifest["seeds"]["split"] == 1
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "synthetic-tiny-s0",
        "synthetic-tiny-s0-split1",
    ]  # --seed 1 --data-seed 0 is the same run as --split-seed 1: reused


def test_data_seed_varies_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    corpus0 = harness.load("synthetic:tiny", seed=0)
    corpus1 = harness.load("synthetic:tiny", seed=1)
    assert corpus0.source["fingerprint"] != corpus1.source["fingerprint"]
    assert not np.array_equal(corpus0.offsets, corpus1.offsets)  # other playlist lengths


def test_import_harness_loads_no_model_library() -> None:
    code = (
        "import sys, harness; harness.__version__;"
        "heavy = [m for m in ('sklearn', 'torch', 'gensim', 'harness.api') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_each_model_is_released_once_its_run_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run holds one fitted model at a time: when the next model fits, the one the harness
    built before it has no learned state left (attributes ending in `_`); an instance the
    caller gave stays fitted."""
    monkeypatch.chdir(tmp_path)

    class PopB(PopularRecommender):
        name = "pop_b"

    fitted: list[PopularRecommender] = []
    state_of_first: list[list[str]] = []
    fit = PopularRecommender.fit

    def spy(self: PopularRecommender, train: Any) -> PopularRecommender:
        if fitted:
            state_of_first.append(learned(fitted[0]))
        fitted.append(self)
        return fit(self, train)

    monkeypatch.setattr(PopularRecommender, "fit", spy)
    given = PopB()
    board = harness.evaluate("synthetic:tiny", models=["popular", given], k=20)
    assert len(fitted) == 2 and fitted[1] is given
    assert state_of_first == [[]]  # built by the harness: released before pop_b fits
    assert learned(given) and learned(fitted[0]) == []  # the caller's instance stays fitted
    assert sorted(m["name"] for m in board.models) == ["pop_b", "popular"]
    for name in ("popular", "pop_b"):
        assert (tmp_path / f"runs/synthetic-tiny-s0/{name}/recs.npz").exists()


def learned(model: object) -> list[str]:
    return [a for a in vars(model) if a.endswith("_") and not a.startswith("_")]
