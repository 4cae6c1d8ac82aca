"""No silent skips: an entry named like a slice that cannot be read is an error (a warning with
--lenient); `evaluate --lenient` exists and matches `split --lenient`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest

from harness.cli import main

SLICE = Path(__file__).parent / "fixtures" / "mpd.slice.0-2.json"


def _with_odd_entry(tmp: Path, kind: str) -> Path:
    mpd = tmp / "mpd"
    mpd.mkdir()
    shutil.copy(SLICE, mpd / SLICE.name)
    odd = mpd / "mpd.slice.3-5.json"
    if kind == "folder":
        odd.mkdir()
    elif kind == "loop":
        os.symlink(odd, odd)
    else:
        os.symlink(tmp / "nowhere.json", odd)
    return mpd


@pytest.mark.parametrize(
    "kind, words", [("folder", "is a folder"), ("loop", "looping symlink"), ("dangling", "broken")]
)
def test_an_unreadable_slice_name_is_an_error_or_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, words: str
) -> None:
    mpd = _with_odd_entry(tmp_path, kind)
    argv = ["stats", str(mpd), "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "mpd.slice.3-5.json: named like a slice but" in err and words in err
    assert "--lenient" in err
    assert main([*argv, "--lenient"]) == 0
    out = capsys.readouterr()
    assert "warning:" in out.err and "mpd.slice.3-5.json" in out.err and words in out.err


def _one_bad_playlist(tmp: Path, mpd: Path) -> Path:
    """The tiny MPD with one playlist's num_tracks wrong."""
    bad = tmp / "bad"
    shutil.copytree(mpd, bad)
    (first,) = sorted(bad.glob("mpd.slice.*.json"))[:1]
    doc = orjson.loads(first.read_bytes())
    doc["playlists"][3]["num_tracks"] += 1
    first.write_bytes(orjson.dumps(doc))
    return bad


def test_evaluate_lenient_matches_split_lenient(
    tmp_path: Path,
    tiny_mpd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A corpus with one bad playlist: refused by both without --lenient (naming the pid), and
    with it the split `split --lenient` wrote is the one `evaluate --lenient` uses."""
    monkeypatch.chdir(tmp_path)
    bad = _one_bad_playlist(tmp_path, tiny_mpd)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    split = ["split", str(bad), "--out", str(tmp_path / "split"), "--per-category", "1", *cache]
    ev = ["evaluate", "--mpd", str(bad), "--split", str(tmp_path / "split"), "--models", "popular"]
    ev += ["--per-category", "1", "--out", str(tmp_path / "run"), *cache]
    assert main(split) == 2
    assert main(ev) == 2
    err = capsys.readouterr().err
    assert err.count("num_tracks") == 2 and "pid 3" in err
    assert main([*split, "--lenient"]) == 0
    assert main([*ev, "--lenient"]) == 0
    err = capsys.readouterr().err
    assert "split: reusing" in err and "skipped" in err
    run = orjson.loads((tmp_path / "run" / "run.json").read_bytes())
    assert run["data"]["lenient"] is True and run["data"]["skipped"] == 1
    toml = (tmp_path / "run" / "experiment.toml").read_text()
    assert "lenient = true" in toml
