"""Output targets (harness/outputs.py): a folder the harness wrote is written again, a new or
empty one is taken, and an earlier version's folders (no marker) are recognised by their files;
`report --force` replaces a file the harness did not write. The refusals are cases of
tests/test_bad_inputs.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.outputs import (
    MARKER,
    check_file_target,
    check_folder_target,
    html_is_ours,
    marked_kind,
)


def test_check_folder_target_rules(tmp_path: Path) -> None:
    check_folder_target(tmp_path / "new", "run")
    (tmp_path / "empty").mkdir()
    check_folder_target(tmp_path / "empty", "run")
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / MARKER).write_bytes(orjson.dumps({"kind": "run"}))
    (ours / "anything").write_text("x")
    check_folder_target(ours, "run")
    with pytest.raises(UsageError, match="holds a run that mpd-harness wrote, not a split"):
        check_folder_target(ours, "split")
    old = tmp_path / "old"
    old.mkdir()
    (old / "run.json").write_text("{}")
    check_folder_target(old, "run", legacy=lambda p: (p / "run.json").exists())
    with pytest.raises(UsageError, match="not a run that mpd-harness wrote"):
        check_folder_target(old, "run")


def test_report_replaces_its_own_file_and_others_only_with_force(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    argv = ["evaluate", "--mpd", str(tiny_mpd), "--out", str(run), "--models", "popular"]
    assert main([*argv, "--per-category", "1", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert main(["report", str(run)]) == 0
    assert html_is_ours(run / "report.html")
    assert main(["report", str(run)]) == 0  # its own earlier report: replaced
    mine = tmp_path / "mine.html"
    mine.write_text("<html>mine</html>")
    assert main(["report", str(run), "--out", str(mine)]) == 2
    assert mine.read_text() == "<html>mine</html>"
    assert main(["report", str(run), "--out", str(mine), "--force"]) == 0
    assert html_is_ours(mine)
    # the run folder carries the marker, so evaluate writes into it again
    assert marked_kind(run) == "run" and marked_kind(run / "split") == "split"
    assert main([*argv, "--per-category", "1", "--cache-dir", str(tmp_path / "cache")]) == 0


def test_folders_of_an_earlier_version_are_still_written(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run folder and a split without the marker (made before it existed) are recognised by
    run.json and the split's manifest.json."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    argv = ["evaluate", "--mpd", str(tiny_mpd), "--out", str(run), "--models", "popular"]
    argv += ["--per-category", "1", "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    (run / MARKER).unlink()
    (run / "split" / MARKER).unlink()
    assert main(argv) == 0
    split = tmp_path / "split"
    shutil.copytree(run / "split", split)
    (split / MARKER).unlink(missing_ok=True)
    cmd = ["split", str(tiny_mpd), "--out", str(split), "--per-category", "1"]
    assert main([*cmd, "--cache-dir", str(tmp_path / "cache")]) == 0


def test_synth_writes_again_into_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "mpd"
    argv = ["synth", "--playlists", "100", "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    assert marked_kind(out) == "synthetic"
    assert main([*argv, "--seed", "3"]) == 0
    (out / MARKER).unlink()  # an earlier version's folder: synthetic.json says it is synth's
    assert main(argv) == 0


def test_check_file_target(tmp_path: Path) -> None:
    other = tmp_path / "x.npz"
    other.write_bytes(b"data")
    with pytest.raises(UsageError, match="not written by mpd-harness"):
        check_file_target(other, flag="--out", ours=html_is_ours)
    check_file_target(other, flag="--out", ours=html_is_ours, force=True)
    with pytest.raises(UsageError, match="a folder"):
        check_file_target(tmp_path, flag="--out", ours=html_is_ours, force=True)
