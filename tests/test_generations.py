"""Both submission generations: `--team-format 2018` writes the header the 2018 verifier needs,
and `verify --format 2018|aicrowd` applies exactly that generation's team_info rule."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from harness.challenge.submission import (
    official_2018_header,
    team_info_line,
    verify_submission,
    write_submission,
)
from harness.cli import main

PIDS = [100, 101]


def _uri(i: int) -> str:
    return f"spotify:track:{i:022d}"


def _challenge_set(tmp_path: Path) -> Path:
    seed = {"pos": 0, "track_uri": _uri(1)}
    playlists = [  # categories 1 and 2
        {"name": "a", "pid": 100, "num_tracks": 9, "num_samples": 0, "num_holdouts": 9},
        {"name": "b", "pid": 101, "num_tracks": 9, "num_samples": 1, "num_holdouts": 8},
    ]
    playlists[0]["tracks"], playlists[1]["tracks"] = [], [seed]
    path = tmp_path / "challenge_set.json"
    path.write_bytes(orjson.dumps({"date": "x", "version": "v1", "playlists": playlists}))
    return path


def _rows() -> list[list[str]]:
    return [[_uri(100 + 1000 * i + j) for j in range(500)] for i in range(len(PIDS))]


def _lines() -> list[str]:
    rows = [f"{pid}," + ",".join(row) for pid, row in zip(PIDS, _rows(), strict=True)]
    return ["team_info,my team,me@example.com", *rows]


def _write(tmp_path: Path, lines: list[str], name: str = "sub.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


# header -> (verifies under aicrowd, verifies under 2018). The 2018 verifier splits the stripped
# line on commas without stripping the fields and needs field 2 or 3 to be main or creative.
HEADERS = {
    "team_info,my team,me@example.com": (True, False),
    "team_info,main,my team,me@example.com": (True, True),
    "team_info,creative,my team,me@example.com": (True, True),
    "team_info,my team,main,me@example.com": (True, True),
    "team_info,main,my team": (True, True),
    "team_info, main, my team, me@example.com": (True, False),  # ' main' is not 'main'
    "team_info,Main,my team,me@example.com": (False, False),  # case matters in 2018
    "team_info,onlyteam": (False, False),
    "team_info,main": (False, False),  # the 2018 script fails on the missing team name
}


@pytest.mark.parametrize("header", HEADERS)
def test_each_generation_applies_its_own_header_rule(tmp_path: Path, header: str) -> None:
    sub = _write(tmp_path, [header, *_lines()[1:]])
    cs = _challenge_set(tmp_path)
    aicrowd, y2018 = HEADERS[header]
    assert verify_submission(sub, cs).ok is aicrowd
    report = verify_submission(sub, cs, fmt="2018")
    assert report.ok is y2018, str(report)
    assert (official_2018_header(header) is None) is y2018
    if not y2018:
        assert any("2018 verifier needs team_info,main" in e.message for e in report.errors)


def test_a_2018_header_is_a_warning_under_aicrowd(tmp_path: Path) -> None:
    sub = _write(tmp_path, ["team_info,main,my team,me@example.com", *_lines()[1:]])
    report = verify_submission(sub, _challenge_set(tmp_path))
    assert report.ok
    assert any("2018 form" in w.message for w in report.warnings)


def test_team_info_line_of_each_generation() -> None:
    assert team_info_line("t", "e@x") == "team_info,t,e@x"
    assert team_info_line("t", "e@x", "aicrowd") == "team_info,t,e@x"
    assert team_info_line("t", "e@x", "2018") == "team_info,main,t,e@x"
    with pytest.raises(ValueError, match="team_format"):
        team_info_line("t", "e@x", "2019")


@pytest.mark.parametrize("fmt", ["aicrowd", "2018"])
def test_written_file_verifies_under_its_generation_only(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "sub.csv.gz"
    write_submission(path, PIDS, _rows(), "my team", "me@example.com", team_format=fmt)
    cs = _challenge_set(tmp_path)
    assert verify_submission(path, cs, fmt=fmt).ok
    other = "aicrowd" if fmt == "2018" else "2018"
    assert verify_submission(path, cs, fmt=other).ok is (other == "aicrowd")
    first = gzip.decompress(path.read_bytes()).decode().splitlines()[0]
    assert first == team_info_line("my team", "me@example.com", fmt)


def test_verify_command_format_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cs = _challenge_set(tmp_path)
    sub = _write(tmp_path, _lines())
    argv = ["verify", str(sub), "--challenge-set", str(cs)]
    assert main(argv) == 0  # default: the current AIcrowd form
    assert main([*argv, "--format", "aicrowd"]) == 0
    capsys.readouterr()
    assert main([*argv, "--format", "2018"]) == 1
    out = capsys.readouterr().out
    assert "line 1: the 2018 verifier needs team_info,main" in out
    sub18 = _write(tmp_path, ["team_info,main,my team,me@x.org", *_lines()[1:]], "s18.csv")
    assert main(["verify", str(sub18), "--challenge-set", str(cs), "--format", "2018"]) == 0
    assert "(2018 rules)" in capsys.readouterr().out


def _evaluate(tmp: Path, mpd: Path, *extra: str) -> list[str]:
    return [
        "evaluate",
        "--mpd",
        str(mpd),
        "--out",
        str(tmp / "run"),
        "--cache-dir",
        str(tmp / "cache"),
        "--models",
        "popular",
        "--per-category",
        "1",
        *extra,
    ]


def test_evaluate_team_format_2018_writes_and_rewrites_the_header(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reused run's submission is rewritten when the header it needs changes."""
    monkeypatch.chdir(tmp_path)
    assert main(_evaluate(tmp_path, tiny_mpd, "--team-format", "2018")) == 0
    sub = tmp_path / "submissions" / "run" / "popular.csv.gz"
    head = gzip.decompress(sub.read_bytes()).decode().splitlines()[0]
    assert head == "team_info,main,mpd-harness,mpd-harness@example.com"
    cs = str(tmp_path / "run" / "split" / "challenge_set.json")
    assert main(["verify", str(sub), "--challenge-set", cs, "--format", "2018"]) == 0
    assert main(_evaluate(tmp_path, tiny_mpd)) == 0  # reused, but the header is aicrowd's again
    head = gzip.decompress(sub.read_bytes()).decode().splitlines()[0]
    assert head == "team_info,mpd-harness,mpd-harness@example.com"
    manifest = orjson.loads((tmp_path / "run" / "popular" / "manifest.json").read_bytes())
    assert manifest["submission_sha256"]
    toml = (tmp_path / "run" / "experiment.toml").read_text()
    assert 'format = "aicrowd"' in toml


def test_evaluate_refuses_a_team_name_with_a_comma_before_fitting(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_evaluate(tmp_path, tiny_mpd, "--team", "a,b")) == 2
    err = capsys.readouterr().err
    assert "--team/--email" in err and "commas" in err
    assert not (tmp_path / "run" / "popular").exists()
