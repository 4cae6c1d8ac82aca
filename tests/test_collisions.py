"""Runs never trample each other: a run's folder of submissions belongs to one run folder
(`--name` picks another, `--submissions DIR` another root), and one evaluate at a time writes a
run folder (harness/run/lock.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from harness.cli import main
from harness.run.lock import HOLDER, RunLock


def _evaluate(mpd: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    argv = ["evaluate", "--mpd", str(mpd), "--out", str(out), "--models", "popular"]
    return [*argv, "--per-category", "1", "--cache-dir", str(cache), *extra]


def test_two_run_folders_of_one_name_do_not_share_submissions(
    tmp_path: Path,
    tiny_mpd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    assert main(_evaluate(tiny_mpd, tmp_path / "a" / "run", cache)) == 0
    first = (tmp_path / "submissions" / "run" / "popular.csv.gz").read_bytes()
    capsys.readouterr()
    assert main(_evaluate(tiny_mpd, tmp_path / "b" / "run", cache)) == 2
    err = capsys.readouterr().err
    assert str((tmp_path / "a" / "run").resolve()) in err and "--name" in err
    assert (tmp_path / "submissions" / "run" / "popular.csv.gz").read_bytes() == first
    assert main(_evaluate(tiny_mpd, tmp_path / "b" / "run", cache, "--name", "run-b")) == 0
    assert (tmp_path / "submissions" / "run-b" / "popular.csv.gz").is_file()
    run = orjson.loads((tmp_path / "b" / "run" / "run.json").read_bytes())
    assert run["submissions"]["name"] == "run-b"
    assert run["submissions"]["path"] == str((tmp_path / "submissions" / "run-b").resolve())
    assert run["submissions"]["relative_path"] == "../../submissions/run-b"


def test_submissions_dir_and_name_choose_the_home(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run in a temporary folder need not write into the submissions/ of where it ran."""
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--mpd", str(tiny_mpd), "--models", "popular", "--per-category", "1"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--name", "exp1"]
    assert main([*argv, "--submissions", str(tmp_path / "subs")]) == 0
    assert (tmp_path / "runs" / "exp1" / "run.json").is_file()  # --name names the run folder
    assert (tmp_path / "subs" / "exp1" / "popular.csv.gz").is_file()
    assert not (tmp_path / "submissions").exists()


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", ""])
def test_a_name_must_be_a_plain_folder_name(
    tmp_path: Path,
    tiny_mpd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = _evaluate(tiny_mpd, tmp_path / "run", tmp_path / "cache", "--name", name)
    assert main(argv) == 2
    assert "--name" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


HOLD = """
import sys, time
from pathlib import Path
from harness.run.lock import RunLock
lock = RunLock(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


def test_one_evaluate_at_a_time_per_run_folder(
    tmp_path: Path,
    tiny_mpd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # submissions/ lands here
    run = tmp_path / "run"
    assert main(_evaluate(tiny_mpd, run, tmp_path / "cache")) == 0
    assert not (run / HOLDER).exists()  # released at the end
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        capsys.readouterr()
        assert main(_evaluate(tiny_mpd, run, tmp_path / "cache")) == 2
        err = capsys.readouterr().err
        assert "another evaluate is writing this run folder" in err
        assert f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    assert main(_evaluate(tiny_mpd, run, tmp_path / "cache")) == 0  # the kernel released it


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run") as outer:
        with RunLock(tmp_path / "run"):
            assert (tmp_path / "run" / HOLDER).exists()
        assert (tmp_path / "run" / HOLDER).exists()  # the outer one still holds it
        assert not outer.released
    assert not (tmp_path / "run" / HOLDER).exists()
