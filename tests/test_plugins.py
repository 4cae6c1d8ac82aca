"""Models of your own: by `module:Class` path, by entry point (group `mpd_harness.models`),
`mpd-harness models`, `mpd-harness check-model`, and docs/extending.md, whose code and commands
run here.

Plugins are real installed distributions: a `*.dist-info` folder (METADATA, entry_points.txt)
beside the plugin's module in a temporary folder on sys.path, which `importlib.metadata` reads
exactly as it reads a pip-installed package.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.run.contract import CHECKS
from harness.run.factory import build_models, model_name, select_models
from models import MODELS, available_models, get_model, model_sources

DOC = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def commands(block: str) -> list[list[str]]:
    """The `mpd-harness ...` lines of a bash block, as argv after the program name."""
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [argv[1:] for argv in lines if argv and argv[0] == "mpd-harness"]


def install(site: Path, dist: str, version: str, entry_points: dict[str, str]) -> None:
    """An installed distribution with entry points in `mpd_harness.models`, as pip leaves it."""
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[mpd_harness.models]\n{lines}")


def toml_module() -> Any:
    """tomllib (Python 3.11+), else tomli where installed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return pytest.importorskip("tomli")
    return tomllib


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder as the current one; sys.path and the plugin modules put back after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where distributions are installed."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


# ---------------------------------------------------------------- docs/extending.md


def test_the_doc_model_fits_in_30_lines() -> None:
    (model,) = blocks("python")
    assert len(model.strip().splitlines()) <= 30
    assert "class MyModel(Recommender)" in model


def test_the_doc_lists_every_check() -> None:
    listed = re.findall(r"^\| `(\w+)` \|", DOC.read_text(), flags=re.M)
    assert listed == [c.name for c in CHECKS]


def test_the_doc_step_by_step(
    tmp_path: Path, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Save the model, check it, run it by path; then package it and run it by name."""
    (model,) = blocks("python")
    check, evaluate, installed = blocks("bash")
    (tmp_path / "mymodel.py").write_text(model)

    # 2. check it, 3. run it by path (imported from the current folder, as the console script
    # would: its sys.path lacks the current folder)
    sys.path[:] = [p for p in sys.path if p not in ("", str(tmp_path))]
    for argv in commands(check) + commands(evaluate):
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert f"{len(CHECKS)} passed, 0 failed" in out
    board = orjson.loads((tmp_path / "runs/synthetic-tiny-s0/leaderboard.json").read_bytes())
    assert {m["name"] for m in board["models"]} == {"popular", "my_model"}
    assert (tmp_path / "submissions/synthetic-tiny-s0/my_model.csv.gz").exists()

    # 4. package it: the doc's pyproject.toml, installed; the module now lives in site-packages
    (toml,) = blocks("toml")
    project = toml_module().loads(toml)["project"]
    install(
        site, project["name"], project["version"], project["entry-points"]["mpd_harness.models"]
    )
    (tmp_path / "mymodel.py").rename(site / "mymodel.py")
    del sys.modules["mymodel"]
    importlib.invalidate_caches()
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in orjson.loads(capsys.readouterr().out)}
    assert listed["my_model"] == {
        "name": "my_model",
        "source": "entry point (mymodel 0.1.0)",
        "class": "mymodel:MyModel",
        "params": {"min_shared": 1},
        "cold_start": "title",
    }
    argvs = commands(installed)
    assert [a[0] for a in argvs] == ["models", "check-model", "evaluate"]
    argvs[-1] += ["--out", "runs/by-name"]
    for argv in argvs:
        assert main(argv) == 0, argv
    assert "entry point (mymodel 0.1.0)" in capsys.readouterr().out
    manifest = orjson.loads((tmp_path / "runs/by-name/my_model/manifest.json").read_bytes())
    assert manifest["params"] == {"min_shared": 2}
    assert sys.modules["mymodel"].__file__ == str(site / "mymodel.py")
    assert get_model("my_model", min_shared=3).min_shared == 3


# ---------------------------------------------------------------- entry points


def test_plugins_are_listed_without_being_imported(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "lazyplug.py").write_text("raise RuntimeError('imported!')\n")
    install(site, "lazyplug", "1.2", {"lazy": "lazyplug:Lazy"})
    assert available_models()[: len(MODELS)] == list(MODELS)
    assert "lazy" in available_models()
    assert model_sources()["lazy"][0].origin == "entry point (lazyplug 1.2)"
    assert select_models("popular", {}) == ["popular"]
    assert select_models("popular,lazy", {}) == ["popular", "lazy"]
    assert main(["evaluate", "--models", "nosuch"]) == 2
    assert f"available: {', '.join(MODELS)}, lazy" in capsys.readouterr().err
    assert "lazyplug" not in sys.modules

    # used: imported, and its failure is one line
    assert main(["check-model", "lazy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "model 'lazy' (entry point (lazyplug 1.2): lazyplug:Lazy): cannot import it" in err
    assert "RuntimeError: imported!" in err

    # `models` lists the others and says which one failed
    assert main(["models", "--json"]) == 1
    listed = {m["name"]: m for m in orjson.loads(capsys.readouterr().out)}
    assert listed["lazy"]["params"] is None and "imported!" in listed["lazy"]["error"]
    assert listed["knn"]["params"]["k_neighbors"] == 200
    assert "error" not in listed["knn"]


def test_a_plugin_named_like_a_built_in_is_an_error_naming_both(
    tmp_path: Path, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(site, "clashpkg", "0.1", {"knn": "clashmod:Knn"})
    assert main(["evaluate", "--synthetic", "tiny", "--models", "knn"]) == 2
    err = capsys.readouterr().err
    assert "model name 'knn' is claimed twice" in err
    assert "built-in: models.knn:KNNRecommender" in err
    assert "entry point (clashpkg 0.1): clashmod:Knn" in err
    assert not (tmp_path / "data").exists()  # refused before any slow step
    assert main(["models"]) == 2
    assert "claimed twice" in capsys.readouterr().err
    # a name not used is no error
    assert select_models("popular,title", {}) == ["popular", "title"]


def test_two_plugins_with_one_name_are_an_error_naming_both(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(site, "one", "1.0", {"twin": "one_mod:Twin"})
    install(site, "two", "2.0", {"twin": "two_mod:Twin"})
    assert main(["check-model", "twin"]) == 2
    err = capsys.readouterr().err
    assert "entry point (one 1.0): one_mod:Twin" in err
    assert "entry point (two 2.0): two_mod:Twin" in err
    with pytest.raises(UsageError, match="claimed twice"):
        get_model("twin")


PLUGIN = """
from models.popular import PopularRecommender


class Plug(PopularRecommender):
    name = "ignored: the entry point names it"

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift
"""


def test_names_paths_and_plugins_side_by_side(
    tmp_path: Path, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--models` and the API's `models=` take all three kinds at once."""
    import harness

    (site / "plugmod.py").write_text(PLUGIN)
    install(site, "plugdist", "3.0", {"plug": "plugmod:Plug"})
    (tmp_path / "pathmod.py").write_text(
        "from models.popular import PopularRecommender\n\n\n"
        "class ByPath(PopularRecommender):\n    pass\n"
    )
    assert [n for n, _ in build_models(["knn", "pathmod:ByPath", "plug"], {})] == [
        "knn",
        "by_path",
        "plug",
    ]
    argv = ["evaluate", "--synthetic", "tiny", "--models", "popular,pathmod:ByPath,plug"]
    assert main([*argv, "-p", "plug.shift=2", "--out", "runs/cli"]) == 0
    board = harness.evaluate(
        data="synthetic:tiny",
        models=["popular", "pathmod:ByPath", "plug"],
        params={"plug": {"shift": 2}},
        out="runs/api",
    )
    assert list(board.to_pandas()["name"].sort_values()) == ["by_path", "plug", "popular"]
    for run in ("cli", "api"):
        manifest = orjson.loads((tmp_path / f"runs/{run}/plug/manifest.json").read_bytes())
        assert manifest["params"] == {"shift": 2}
        assert (tmp_path / f"runs/{run}/by_path/recs.npz").exists()


# ---------------------------------------------------------------- paths and names

POPULAR_AGAIN = """
from models.popular import PopularRecommender


class Again(PopularRecommender):
    name = "popular"
"""


def test_a_path_may_not_take_another_models_name(tmp_path: Path) -> None:
    (tmp_path / "again.py").write_text(POPULAR_AGAIN)
    with pytest.raises(UsageError, match="named 'popular', like the model of built-in"):
        build_models(["again:Again"], {})
    assert model_name("models.popular:PopularRecommender") == "popular_recommender"


# ---------------------------------------------------------------- check-model

BAD_MODELS = """
import numpy as np

from models.popular import PopularRecommender


class SeedTrack(PopularRecommender):
    def recommend(self, queries, k=500):
        out = super().recommend(queries, k)
        for i in range(len(queries)):
            if len(queries.seeds(i)):
                out[i, 1:] = out[i, :-1]
                out[i, 0] = queries.seeds(i)[0]
        return out


class Short(PopularRecommender):
    def recommend(self, queries, k=500):
        return super().recommend(queries, k)[:, :499]
"""


def check_json(spec: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(["check-model", spec, "--json"])
    return rc, orjson.loads(capsys.readouterr().out)


def test_check_model_fails_on_a_seed_track(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.py").write_text(BAD_MODELS)
    assert main(["check-model", "bad:SeedTrack"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"FAIL\s+no_seeds", out)
    assert "row 0 (pid 1000): seed track 0 recommended at rank 1" in out
    assert out.rstrip().endswith("failed: no_seeds")
    rc, doc = check_json("bad:SeedTrack", capsys)
    assert rc == 1 and doc["ok"] is False and doc["model"] == "seed_track"
    assert [c["name"] for c in doc["checks"] if c["status"] == "fail"] == ["no_seeds"]


def test_check_model_fails_on_499_tracks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.py").write_text(BAD_MODELS)
    assert main(["check-model", "bad:Short"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"FAIL\s+exactly_k", out)
    assert "returned shape (9, 499), expected (9, 500)" in out
    rc, doc = check_json("bad:Short", capsys)
    assert rc == 1
    assert [c["name"] for c in doc["checks"] if c["status"] == "fail"] == ["exactly_k"]


def test_check_model_passes_a_built_in_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc = check_json("knn", capsys)
    assert rc == 0 and doc["ok"] is True
    assert doc["params"] == {"k_neighbors": 20}  # small settings for the tiny data
    assert [c["name"] for c in doc["checks"]] == [c.name for c in CHECKS]
    assert {c["status"] for c in doc["checks"]} == {"pass"}
    assert set(doc["checks"][0]) == {"name", "description", "status", "reason"}


def test_check_model_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-model", "knn", "-p", "k_neighbors=5", "-p", "knn.alpha=1", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["params"] == {"k_neighbors": 5, "alpha": 1.0}
    assert main(["check-model", "knn", "-p", "nope=1"]) == 2
    assert "has no parameter nope" in capsys.readouterr().err
    assert main(["check-model", "knn", "-p", "title.min_playlists=1"]) == 2
    assert "expected PARAM=VALUE" in capsys.readouterr().err
    assert main(["check-model", "nosuch"]) == 2
    assert "unknown model 'nosuch'; available: popular" in capsys.readouterr().err


# ---------------------------------------------------------------- models


def test_models_lists_every_built_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed][: len(MODELS)] == list(MODELS)
    for m in listed[: len(MODELS)]:
        assert set(m) == {"name", "source", "class", "params", "cold_start"}
        assert m["source"] == "built-in"
        assert get_model(m["name"]).get_params(deep=False) == m["params"]
        assert m["cold_start"] == MODELS[m["name"]].cold_start
    assert listed[2]["class"] == "models.knn:KNNRecommender"
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "k_neighbors=200" in table and "built-in" in table
