"""Experiment files (harness/run/experiment.py, `evaluate --config`) and docs/experiments.md,
whose example runs here: the TOML writer round-trips, every bad file is one line naming the
file and key, flags override only when given, and a run's `experiment.toml` reproduces it."""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harness
from harness.cli import build_parser, main
from harness.cli.evaluate import experiment_from, settings_from
from harness.errors import UsageError
from harness.run.evaluate import EvaluateSettings
from harness.run.experiment import (
    HEADER,
    Experiment,
    dumps,
    from_document,
    override,
    read_experiment,
    to_document,
    write_experiment,
)
from harness.types import IntArray, Queries, TrainSet
from models.base import Recommender
from models.knn import KNNRecommender

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser is the tomli package
    tomllib = pytest.importorskip("tomli")

DOC = Path(__file__).resolve().parent.parent / "docs" / "experiments.md"
MODELS = ("popular", "knn", "title")


def toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, flags=re.S)


def write(folder: Path, text: str, name: str = "exp.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- the writer


def test_dumps_round_trips_every_value_type() -> None:
    doc: dict[str, Any] = {
        "top": 1,
        "s": 'quote " back \\ tab \t nl \n cr \r del \x7f nul \x00 é ü 日本 🎵',
        "ints": [0, -1, 2**63 - 1, -(2**63)],
        "floats": [0.1, -0.0, 1e-05, 1e300, 5e-324, 1.0, 123456789.123456789],
        "bools": [True, False],
        "nested": [[1, 2], ["a"], [], [{"x": 1}]],
        "inline": {"a b": "quoted key", "": "empty key", "ü": 1},
        "section": {
            "k": "v",
            "sub": {"deep": {"deeper": 2.5}},
            "rows": [{"n": 1}, {"n": 2, "t": {"u": "v"}}],
        },
        "models": [{"name": "knn", "params": {"k_neighbors": 100}}, {"name": "popular"}],
    }
    assert tomllib.loads(dumps(doc)) == doc


def test_dumps_floats_round_trip_exactly() -> None:
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500)).tolist()
    values += [float("inf"), float("-inf"), 0.1 + 0.2, 2.0**-1074]
    back = tomllib.loads(dumps({"v": values}))["v"]
    assert [v.hex() for v in back] == [v.hex() for v in values]
    assert math.isnan(tomllib.loads(dumps({"v": float("nan")}))["v"])


def test_dumps_leaves_none_out_and_refuses_other_types() -> None:
    assert tomllib.loads(dumps({"a": None, "t": {"b": None, "c": 1}})) == {"t": {"c": 1}}
    with pytest.raises(TypeError, match="cannot write a set"):
        dumps({"a": {1, 2}})
    with pytest.raises(TypeError, match="NoneType"):
        dumps({"a": [1, None]})  # no null in an array: dropping it would change the list


def test_an_experiment_round_trips_through_its_file() -> None:
    exp = Experiment(
        EvaluateSettings(
            synthetic="tiny",
            data_seed=3,
            split_seed=4,
            per_category=7,
            coverage="none",
            split=Path("sp"),
            out=Path("runs/x"),
            cache_dir=Path("c"),
            team="t",
            email="e@x",
            k=20,
        ),
        models=("knn", "popular"),
        params={"knn": {"alpha": 0.25, "k_neighbors": 9, "weighting": "bm25"}},
        force=True,
    )
    text = dumps(to_document(exp))
    assert from_document(tomllib.loads(text)) == exp


def test_an_mpd_experiment_writes_no_data_seed() -> None:
    exp = Experiment(EvaluateSettings(mpd=Path("my mpd/data"), split_seed=5))
    doc = tomllib.loads(dumps(to_document(exp)))
    assert doc["data"] == {"mpd": "my mpd/data"}  # the seed seeds synthetic data only
    assert doc["split"]["seed"] == 5 and "per_category" not in doc["split"]  # None: left out
    assert from_document(doc) == exp


# ---------------------------------------------------------------------------- bad files

BAD = [
    ('[split]\nseed = "x"\n', '[split] seed: expected an integer, got "x"'),
    ("[split]\nseed = true\n", "[split] seed: expected an integer, got true"),
    ("[run]\nforce = 1\n", "[run] force: expected true or false, got 1"),
    ('[data]\nmpd = ""\n', '[data] mpd: expected a string, got ""'),
    (
        "[foo]\nx = 1\n",
        "unknown section [foo]; sections: [data], [split], [run], [team], [[models]]",
    ),
    ("k = 3\n", "unknown key k; sections: [data], [split], [run], [team], [[models]]"),
    ("[run]\nkk = 3\n", "[run] kk: unknown key; [run] takes out, k, name, submissions, force"),
    ('data = "tiny"\n', 'data: expected a [data] table, got "tiny"'),
    (
        '[data]\nsynthetic = "huge"\n',
        '[data] synthetic: expected one of tiny, default, large, full, got "huge"',
    ),
    ('[data]\nmpd = "x"\nsynthetic = "tiny"\n', "[data]: give synthetic or mpd, not both"),
    ('[data]\nmpd = "x"\nseed = 1\n', "[data] seed: seeds synthetic data only"),
    ('[split]\ncoverage = "some"\n', "[split] coverage: expected one of"),
    ('[[models]]\nname = "nosuch"\n', "[[models]] nosuch: unknown model 'nosuch'"),
    ('[[models]]\nname = "x.y:Z"\n', "[[models]] x.y:Z: model 'x.y:Z': cannot import Z"),
    ("[[models]]\nparams = {}\n", "[[models]] #1 name: expected a registered name"),
    ('[[models]]\nname = "knn"\nfoo = 1\n', "[[models]] #1 foo: unknown key"),
    (
        '[[models]]\nname = "knn"\n[[models]]\nname = "knn"\n',
        "[[models]] #2: model 'knn' is listed twice",
    ),
    ('[models]\nname = "knn"\n', 'models: expected [[models]] tables, got { name = "knn" }'),
    ("models = []\n", "[[models]]: none listed"),
    (
        '[[models]]\nname = "knn"\nparams = { k_neighbors = "x" }\n',
        '[[models]] knn params.k_neighbors: expected an integer like the default 200, got "x"',
    ),
    (
        '[[models]]\nname = "knn"\nparams = { bogus = 1 }\n',
        "[[models]] knn params.bogus: unknown parameter; its parameters: alpha, k_neighbors",
    ),
    (
        '[[models]]\nname = "knn"\nparams = { k_neighbors = 0 }\n',
        "[[models]] knn: k_neighbors must be >= 1, got 0",
    ),
    ('[[models]]\nname = "knn"\nparams = 3\n', "[[models]] knn params: expected a table, got 3"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as e:
        read_experiment(path)
    assert str(e.value).startswith(f"{path}: {message}")
    assert "\n" not in str(e.value)


def test_a_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[split]\nseed = 1\nper_category = \n")
    with pytest.raises(UsageError, match=re.escape(f"{path}: line 3, column 16: ")):
        read_experiment(path)
    path = write(tmp_path, "[split]\nseed = 1\nseed = 2\n")  # TOML forbids a key twice
    with pytest.raises(UsageError, match=re.escape(f"{path}: line 3, column")):
        read_experiment(path)


def test_the_command_prints_the_error_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '[split]\nseed = "x"\n')
    assert main(["evaluate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f'mpd-harness evaluate: error: {path}: [split] seed: expected an integer, got "x"\n'
    )
    assert main(["evaluate", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: no such file" in capsys.readouterr().err


# ---------------------------------------------------------------------------- flags over the file

FILE = """
[data]
synthetic = "tiny"
seed = 2
[split]
seed = 3
per_category = 5
coverage = "none"
[run]
out = "runs/f"
k = 20
force = true
[team]
name = "t"
email = "e@x"
[[models]]
name = "knn"
params = { k_neighbors = 100 }
[[models]]
name = "popular"
"""


def from_flags(*argv: str) -> Experiment:
    return experiment_from(build_parser().parse_args(["evaluate", *argv]))


def test_flags_left_out_keep_the_files_values(tmp_path: Path) -> None:
    exp = from_flags("--config", str(write(tmp_path, FILE)))
    assert exp.settings == EvaluateSettings(
        synthetic="tiny",
        data_seed=2,
        split_seed=3,
        per_category=5,
        coverage="none",
        out=Path("runs/f"),
        team="t",
        email="e@x",
        k=20,
    )
    assert exp.models == ("knn", "popular")
    assert exp.params == {"knn": {"k_neighbors": 100}}
    assert exp.force is True


def test_flags_given_override_the_file(tmp_path: Path) -> None:
    config = ["--config", str(write(tmp_path, FILE))]
    exp = from_flags(*config, "--split-seed", "1", "--k", "30", "--coverage", "official")
    assert (exp.settings.split_seed, exp.settings.k, exp.settings.coverage) == (1, 30, "official")
    assert (exp.settings.data_seed, exp.settings.team) == (2, "t")
    exp = from_flags(*config, "--seed", "7", "--data-seed", "8", "--team", "u", "--out", "o")
    assert (exp.settings.data_seed, exp.settings.split_seed) == (8, 7)
    assert (exp.settings.team, exp.settings.out) == ("u", Path("o"))
    exp = from_flags(*config, "--mpd", "some/mpd")
    assert (exp.settings.mpd, exp.settings.synthetic) == (Path("some/mpd"), None)
    assert from_flags(*config, "--force").force is True


def test_no_file_no_flags_gives_todays_defaults() -> None:
    args = build_parser().parse_args(["evaluate"])
    assert settings_from(args) == EvaluateSettings()
    assert settings_from(args).coverage == "best-effort" and settings_from(args).k == 500
    exp = experiment_from(args)
    assert (exp.models, exp.params, exp.force) == (None, {}, False)


def test_p_extends_and_models_replaces(tmp_path: Path) -> None:
    config = ["--config", str(write(tmp_path, FILE))]
    exp = from_flags(*config, "-p", "knn.alpha=0.3", "-p", "knn.k_neighbors=7")
    assert exp.params["knn"] == {"k_neighbors": 7, "alpha": 0.3}
    exp = from_flags(*config, "--models", "title,knn", "-p", "title.min_playlists=2")
    assert exp.models == ("title", "knn")
    assert exp.params == {"knn": {"k_neighbors": 100}, "title": {"min_playlists": 2}}
    # a model given by path takes -p by its model name too
    path_file = '[[models]]\nname = "models.knn:KNNRecommender"\nparams = { alpha = 0.1 }\n'
    exp = from_flags("--config", str(write(tmp_path, path_file)), "-p", "knn_recommender.alpha=0.2")
    assert exp.params == {"models.knn:KNNRecommender": {"alpha": 0.2}}


def test_p_for_a_model_not_run_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, FILE)
    assert main(["evaluate", "--config", str(path), "-p", "title.min_playlists=2"]) == 2
    assert "-p names model 'title' which is not being run" in capsys.readouterr().err


# ---------------------------------------------------------------------------- runs


class Empty(Recommender):
    """Recommends nothing (the runner backfills); a parameter TOML cannot hold."""

    def __init__(self, size: int = 2, holes: list[int | None] | None = None) -> None:
        self.size = size
        self.holes = [1, None] if holes is None else holes

    def _fit(self, train: TrainSet) -> Empty:
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return np.full((len(queries), k), -1, dtype=np.int32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working folder for the runs below: the tiny synthetic MPD is generated once."""
    return tmp_path_factory.mktemp("experiments")


@pytest.fixture(scope="module")
def doc_run(folder: Path) -> Path:
    """The example of docs/experiments.md, run as a reader would; its run folder."""
    import os

    here = os.getcwd()
    os.chdir(folder)
    try:
        example = write(folder, toml_blocks(DOC.read_text())[0], "exp1.toml")
        assert main(["evaluate", "--config", str(example)]) == 0
    finally:
        os.chdir(here)
    return folder / "runs" / "exp1"


def test_the_doc_example_runs(doc_run: Path, folder: Path) -> None:
    assert sorted(p.name for p in doc_run.iterdir() if (p / "recs.npz").is_file()) == sorted(MODELS)
    first = (folder / "submissions" / "exp1" / "knn.csv.gz").read_bytes()
    assert gzip.decompress(first).decode().splitlines()[0] == "team_info,my-team,me@example.com"


def test_the_run_writes_its_resolved_configuration(doc_run: Path) -> None:
    text = (doc_run / "experiment.toml").read_text()
    assert text.startswith(HEADER)
    exp = read_experiment(doc_run / "experiment.toml")
    assert exp.models == MODELS
    assert exp.settings == EvaluateSettings(
        synthetic="tiny",
        per_category=10,
        out=Path("runs/exp1"),
        team="my-team",
        email="me@example.com",
    )
    knn = KNNRecommender(k_neighbors=100).get_params(deep=False)
    assert exp.params["knn"] == knn  # the full get_params, defaults included
    assert set(knn) > {"k_neighbors", "alpha"}
    assert exp.params["title"] == {"min_playlists": 1} and "popular" not in exp.params
    assert exp.force is False
    doc = tomllib.loads(text)
    assert doc["run"] == {"out": "runs/exp1", "k": 500, "force": False}
    assert doc["split"] == {"seed": 0, "per_category": 10, "coverage": "best-effort"}


def test_the_resolved_file_reproduces_the_run_byte_for_byte(
    doc_run: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(folder)
    config = str(doc_run / "experiment.toml")
    before = (doc_run / "experiment.toml").read_text()
    assert main(["evaluate", "--config", config, "--out", "runs/again"]) == 0
    again = folder / "runs" / "again"
    for name in MODELS:
        assert (again / name / "recs.npz").read_bytes() == (
            doc_run / name / "recs.npz"
        ).read_bytes()
        mine, theirs = (folder / "submissions" / d / f"{name}.csv.gz" for d in ("again", "exp1"))
        assert mine.read_bytes() == theirs.read_bytes()
    assert (again / "experiment.toml").read_text() == before.replace("runs/exp1", "runs/again")
    # into its own folder, every model's run is reused: the resolved params are the run keys
    capsys.readouterr()
    assert main(["evaluate", "--config", config]) == 0
    err = capsys.readouterr().err
    assert all(f"{name}: reusing runs/exp1/{name}" in err for name in MODELS), err
    assert (doc_run / "experiment.toml").read_text() == before


def test_the_api_writes_it_too_and_an_instance_reruns_by_path(
    doc_run: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    models = [KNNRecommender(k_neighbors=30), Empty()]
    harness.evaluate(data="synthetic:tiny", models=models, out="runs/api", k=20)
    exp = read_experiment(folder / "runs/api/experiment.toml")
    empty = f"{__name__}:Empty"
    assert exp.models == ("models.knn:KNNRecommender", empty)
    assert exp.params["models.knn:KNNRecommender"]["k_neighbors"] == 30
    assert exp.params[empty] == {"size": 2}  # `holes` ([1, None]) has no TOML form: left out
    exp = override(exp, models=["models.knn:KNNRecommender"])
    assert exp.settings.k == 20
    again = write(folder, dumps(to_document(exp)), "api.toml")
    assert main(["evaluate", "--config", str(again), "--out", "runs/api2"]) == 0
    recs = [folder / f"runs/{d}/knn_recommender/recs.npz" for d in ("api", "api2")]
    assert recs[0].read_bytes() == recs[1].read_bytes()


def test_a_foreign_experiment_file_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "experiment.toml"
    mine.write_text("[run]\nk = 3\n")
    with pytest.raises(UsageError, match="not written by mpd-harness"):
        write_experiment(tmp_path, Experiment())
    assert mine.read_text() == "[run]\nk = 3\n"
    mine.unlink()
    write_experiment(tmp_path, Experiment())
    write_experiment(tmp_path, Experiment(force=True))  # its own file: rewritten
    assert read_experiment(mine).force is True
