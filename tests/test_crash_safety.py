"""Crash safety: a process killed (SIGKILL) or interrupted (Ctrl-C) leaves nothing that looks done.

Each test runs `mpd-harness ...` in a subprocess that stops itself at a named point
(tests/stop_at.py patches the product's functions to stop there), then checks that no cache,
split, run or submission exists that loads or verifies as complete, and that the next run
(in-process) redoes the work correctly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from harness.challenge.split import load_split
from harness.challenge.submission import verify_submission
from harness.cli import main
from harness.data.ingest import load_corpus
from harness.data.synthetic import write_synthetic

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
STOP_AT = Path(__file__).resolve().parent / "stop_at.py"


@dataclass(frozen=True)
class World:
    """A tiny synthetic MPD with its corpus cache and a split, shared by the tests."""

    mpd: Path
    slice_name: str
    cache: Path
    split: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    mpd, cache, split = root / "mpd", root / "cache", root / "split"
    (slice_path,) = write_synthetic(mpd, 300, seed=3, workers=1)
    argv = [
        "split",
        str(mpd),
        "--out",
        str(split),
        "--per-category",
        "1",
        "--cache-dir",
        str(cache),
    ]
    assert main(argv) == 0
    return World(mpd, Path(slice_path).name, cache, split)


def _run_stopped(
    argv: list[str], cwd: Path, *, kill_at: str = "", interrupt_at: str = ""
) -> subprocess.CompletedProcess[str]:
    """`mpd-harness ARGV` in a child that stops itself at a point (tests/stop_at.py)."""
    how, point = ("kill", kill_at) if kill_at else ("interrupt", interrupt_at)
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(STOP_AT), how, point, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group: the interrupt signals the group
        # a shell's background job ignores SIGINT, and children inherit that: restore the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _killed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


def _evaluate_argv(world: World, run: Path) -> list[str]:
    return [
        "evaluate",
        "--mpd",
        str(world.mpd),
        "--split",
        str(world.split),
        "--out",
        str(run),
        "--models",
        "popular",
        "--cache-dir",
        str(world.cache),
    ]


def _complete_caches(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/meta.json"))


def test_kill_during_ingest_leaves_no_cache(world: World, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = _run_stopped(
        ["stats", str(world.mpd), "--cache-dir", str(cache)],
        tmp_path,
        kill_at=f"ingest:{world.slice_name}",
    )
    _killed(proc)
    assert _complete_caches(cache) == []
    corpus = load_corpus(world.mpd, cache_dir=cache)  # redoes the ingest
    assert len(_complete_caches(cache)) == 1
    again = load_corpus(world.mpd, cache_dir=cache)  # and now reads the cache
    assert again.n_playlists == corpus.n_playlists == 300
    assert (again.track_ids == corpus.track_ids).all()


def test_kill_while_writing_the_split_leaves_no_split(world: World, tmp_path: Path) -> None:
    out = tmp_path / "split"
    argv = ["split", str(world.mpd), "--out", str(out), "--per-category", "1"]
    proc = _run_stopped([*argv, "--cache-dir", str(world.cache)], tmp_path, kill_at="replace:split")
    _killed(proc)
    assert not out.exists()
    assert [p.name for p in tmp_path.glob(".split.tmp-*")] != []  # what a SIGKILL leaves
    assert main([*argv, "--cache-dir", str(world.cache)]) == 0
    assert list(tmp_path.glob(".split.*")) == []  # the next write removed it
    corpus = load_corpus(world.mpd, cache_dir=world.cache)
    split = load_split(out, corpus)
    assert len(split.test_idx) == 10
    assert (out / "challenge_set.json").read_bytes() == (
        world.split / "challenge_set.json"
    ).read_bytes()


@pytest.mark.parametrize("point", ["replace:recs.npz", "replace:popular.csv.gz"])
def test_kill_while_writing_a_run_leaves_no_complete_run(
    world: World,
    point: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Killed right after training (writing recs) or while writing the submission."""
    run = tmp_path / "run"
    _killed(_run_stopped(_evaluate_argv(world, run), tmp_path, kill_at=point))
    assert not (run / "popular" / "manifest.json").exists()
    assert not list(tmp_path.glob("submissions/*/popular.csv.gz"))
    if point == "replace:recs.npz":
        assert not (run / "popular" / "recs.npz").exists()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(_evaluate_argv(world, run)) == 0
    out = "".join(capsys.readouterr())
    assert "popular: reusing" not in out  # the killed run was redone, not taken as complete
    assert (run / "popular" / "manifest.json").exists()
    (sub,) = tmp_path.glob("submissions/*/popular.csv.gz")
    assert verify_submission(sub, world.split / "challenge_set.json").ok


def test_ctrl_c_gives_a_short_message_and_keeps_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    proc = _run_stopped(_evaluate_argv(world, run), tmp_path, interrupt_at="replace:recs.npz")
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "interrupted" in proc.stderr
    assert len(proc.stderr.strip().splitlines()[-1]) < 120
    assert not (run / "popular" / "manifest.json").exists()
    assert not (run / "popular" / "recs.npz").exists()
    assert [p.name for p in (run / "popular").glob("*")] == []  # temporaries removed on the way out
    monkeypatch.chdir(tmp_path)
    assert main(_evaluate_argv(world, run)) == 0
    assert (run / "popular" / "manifest.json").exists()


def test_ctrl_c_during_a_parallel_ingest_shows_no_worker_traceback(
    world: World, tmp_path: Path
) -> None:
    """Ctrl-C reaches the parser processes too; they must leave it to the parent."""
    mpd, cache = tmp_path / "mpd", tmp_path / "cache"
    mpd.mkdir()
    doc = orjson.loads((world.mpd / world.slice_name).read_bytes())
    n = len(doc["playlists"])
    names = []
    for k in range(10):  # ten slices: two worker processes, busy when the interrupt comes
        for i, p in enumerate(doc["playlists"]):
            p["pid"] = i + n * k
        names.append(f"mpd.slice.{n * k}-{n * k + n - 1}.json")
        (mpd / names[-1]).write_bytes(orjson.dumps(doc))
    proc = _run_stopped(
        ["stats", str(mpd), "--cache-dir", str(cache)], tmp_path, interrupt_at=f"ingest:{names[1]}"
    )
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "mpd-harness stats: interrupted; no partial output was kept"
    ]
    assert _complete_caches(cache) == []
    assert load_corpus(mpd, cache_dir=cache).n_playlists == 10 * n


def test_kill_during_synth_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "mpd"
    argv = ["synth", "--playlists", "1500", "--workers", "1", "--out", str(out)]
    _killed(_run_stopped(argv, tmp_path, kill_at="replace:mpd.slice.1000-1499.json"))
    assert not out.exists()  # not a folder of the first slice that reads as a smaller MPD
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir() if p.name != ".mpd-harness") == [
        "mpd.slice.0-999.json",
        "mpd.slice.1000-1499.json",
        "synthetic.json",
    ]
