"""A run folder describes itself: run.json records its paths absolute and relative to the run
folder, so leaderboard, report and generate work from any working folder, also after the whole
tree moved; a run of an older version (paths relative to where evaluate ran) is still found."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from harness.cli import main


@pytest.fixture
def tree(tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """project/ with mpd/ and runs/x, made by `evaluate` run inside project/ with relative
    paths."""
    project = tmp_path / "project"
    shutil.copytree(tiny_mpd, project / "mpd")
    monkeypatch.chdir(project)
    argv = ["evaluate", "--mpd", "mpd", "--out", "runs/x", "--models", "popular"]
    assert main([*argv, "--per-category", "1", "--cache-dir", str(tmp_path / "cache")]) == 0
    return project


def _everything_works(run: Path, tmp: Path) -> None:
    assert main(["leaderboard", str(run), "--no-write"]) == 0
    assert main(["report", str(run), "--out", str(tmp / "r.html")]) == 0
    cmd = ["generate", "--model", "popular", "--run", str(run), "--title", "rock", "--length", "2"]
    assert main([*cmd, "--cache-dir", str(tmp / "cache")]) == 0


def test_paths_are_recorded_absolute_and_relative(tree: Path) -> None:
    run = orjson.loads((tree / "runs" / "x" / "run.json").read_bytes())
    assert run["data"]["path"] == str(tree / "mpd") and run["data"]["relative_path"] == "../../mpd"
    assert run["split"]["path"] == str(tree / "runs" / "x" / "split")
    assert run["split"]["relative_path"] == "split"


def test_a_run_works_from_another_folder_and_after_the_tree_moved(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _everything_works(tree / "runs" / "x", tmp_path)
    moved = tree.rename(tmp_path / "moved")  # the absolute paths in run.json now lead nowhere
    _everything_works(moved / "runs" / "x", tmp_path)


def test_a_run_of_an_older_version_is_found_from_above(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json of an older version: paths relative to where evaluate ran (the project)."""
    path = tree / "runs" / "x" / "run.json"
    doc = orjson.loads(path.read_bytes())
    for entry, old in (("data", "mpd"), ("split", "runs/x/split")):
        doc[entry]["path"] = old
        del doc[entry]["relative_path"]
    path.write_bytes(orjson.dumps(doc))
    monkeypatch.chdir(tmp_path)
    _everything_works(tree / "runs" / "x", tmp_path)
