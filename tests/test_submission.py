"""Submission files: writing, reading, and every check of the verifier (table-driven)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from harness.challenge.submission import (
    N_TRACKS,
    TeamInfo,
    read_submission,
    verify_submission,
    write_submission,
)
from harness.cli import main
from harness.errors import DataError

PIDS = [100, 101, 102]
SEEDS = {100: [], 101: [1], 102: [2, 3, 4, 5, 6]}  # track numbers


def uri(i: int) -> str:
    return f"spotify:track:{i:022d}"


def _challenge_set(tmp_path: Path) -> Path:
    playlists = [  # categories 1, 2 and 3: a title and the first 0, 1 and 5 tracks as seeds
        {
            "name": "p",
            "pid": pid,
            "num_tracks": len(seeds) + 10,
            "num_samples": len(seeds),
            "num_holdouts": 10,
            "tracks": [{"pos": j, "track_uri": uri(t)} for j, t in enumerate(seeds)],
        }
        for pid, seeds in SEEDS.items()
    ]
    path = tmp_path / "challenge_set.json"
    path.write_bytes(orjson.dumps({"date": "x", "version": "v1", "playlists": playlists}))
    return path


def _rows() -> list[list[str]]:
    """Valid recommendations: 500 distinct non-seed URIs per playlist (tracks 100..)."""
    return [[uri(100 + 1000 * i + j) for j in range(N_TRACKS)] for i in range(len(PIDS))]


def _lines() -> list[str]:
    return ["team_info,my team,me@example.com"] + [
        f"{pid}," + ",".join(row) for pid, row in zip(PIDS, _rows(), strict=True)
    ]


def _write(tmp_path: Path, lines: list[str], name: str = "sub.csv") -> Path:
    path = tmp_path / name
    text = "\n".join(lines) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _replace_track(line: str, index: int, value: str | None) -> str:
    fields = line.split(",")
    if value is None:
        del fields[1 + index]
    else:
        fields[1 + index] = value
    return ",".join(fields)


# ---- writing and reading -------------------------------------------------------------------


def test_written_submission_verifies_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sub.csv.gz"
    write_submission(path, PIDS, _rows(), "my team", "me@example.com")
    report = verify_submission(path, _challenge_set(tmp_path))
    assert report.ok, str(report)
    assert report.n_playlists == 3
    team, recs, lines = read_submission(path)
    assert team == TeamInfo("my team", "me@example.com", None)
    assert recs == dict(zip(PIDS, _rows(), strict=True))
    assert lines == {100: 2, 101: 3, 102: 4}
    assert gzip.decompress(path.read_bytes()).decode().startswith("team_info,my team,")


def test_written_gzip_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    write_submission(a, PIDS, _rows(), "t", "e@x")
    write_submission(b, PIDS, _rows(), "t", "e@x")
    assert a.read_bytes() == b.read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_write_refuses_bad_rows(tmp_path: Path) -> None:
    rows = _rows()
    rows[1] = rows[1][:-1]
    with pytest.raises(ValueError, match="pid 101: 499 track URIs"):
        write_submission(tmp_path / "s.csv", PIDS, rows, "t", "e@x")
    rows = _rows()
    rows[2][-1] = rows[2][0]
    with pytest.raises(ValueError, match="pid 102: 500 track URIs \\(499 distinct\\)"):
        write_submission(tmp_path / "s.csv", PIDS, rows, "t", "e@x")
    with pytest.raises(ValueError, match="team"):
        write_submission(tmp_path / "s.csv", PIDS, _rows(), "a,b", "e@x")
    assert not (tmp_path / "s.csv").exists()  # atomic: nothing half-written


def test_read_refuses_ambiguous_files(tmp_path: Path) -> None:
    lines = _lines()
    with pytest.raises(DataError, match=r"sub.csv:3: pid 'x' is not an integer"):
        read_submission(_write(tmp_path, [lines[0], lines[1], "x" + lines[2][3:]]))
    with pytest.raises(DataError, match=r":3: pid 100 already given on line 2"):
        read_submission(_write(tmp_path, [lines[0], lines[1], lines[1]]))


# ---- accepted variants ---------------------------------------------------------------------

VARIANTS: dict[str, Callable[[list[str]], list[str]]] = {
    "plain": lambda ls: ls,
    "2018 header main": lambda ls: ["team_info,main,my team,me@example.com", *ls[1:]],
    "2018 header creative": lambda ls: ["team_info, creative , team , e@x", *ls[1:]],
    "comments and blank lines": lambda ls: ["# made by hand", "", ls[0], "", "# x", *ls[1:], ""],
    "spaces around commas": lambda ls: [" , ".join(line.split(",")) for line in ls],
    "windows line ends": lambda ls: [line + "\r" for line in ls],
    "byte order mark": lambda ls: ["\ufeff" + ls[0], *ls[1:]],
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", ["sub.csv", "sub.csv.gz"])
def test_accepted_variants(tmp_path: Path, variant: str, name: str) -> None:
    path = _write(tmp_path, VARIANTS[variant](_lines()), name)
    report = verify_submission(path, _challenge_set(tmp_path))
    assert report.ok, str(report)
    _, recs, _ = read_submission(path)
    assert recs[101] == _rows()[1]


def test_2018_header_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, VARIANTS["2018 header main"](_lines()))
    assert read_submission(path)[0] == TeamInfo("my team", "me@example.com", "main")


HEADERS = {
    "team_info,my team,main,me@x.org": TeamInfo("my team", "me@x.org", "main"),  # track third
    "team_info,creative,my team": TeamInfo("my team", "", "creative"),  # 2018, no email
    "team_info,my team,main": TeamInfo("my team", "", "main"),
    "team_info,main,me@x.org": TeamInfo("main", "me@x.org", None),  # a team called main
    "team_info,Main,me@x.org": TeamInfo("Main", "me@x.org", None),
}


@pytest.mark.parametrize("header", HEADERS)
def test_team_info_forms_the_2018_verifier_accepted(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, [header, *_lines()[1:]])
    report = verify_submission(path, _challenge_set(tmp_path))
    assert report.ok, str(report)
    assert report.team_info == HEADERS[header]
    no_email = [w for w in report.warnings if "no contact email" in w.message]
    assert bool(no_email) == (HEADERS[header].email == "")


def test_track_ids_need_22_characters_not_base62(tmp_path: Path) -> None:
    """The official is_track_uri checks three ':' fields and a 22-character id: a '-' in the
    id is valid there (a warning here: no real Spotify id has one)."""
    odd = "spotify:track:" + "A" * 21 + "-"
    path = _write(tmp_path, [_lines()[0], _replace_track(_lines()[1], 5, odd), *_lines()[2:]])
    report = verify_submission(path, _challenge_set(tmp_path))
    assert report.ok, str(report)
    assert [w.message for w in report.warnings] == [
        f"track ids that are not base-62 (never in the MPD): {odd!r}"
    ]


def test_playlist_count_counts_every_integer_pid_like_the_official(tmp_path: Path) -> None:
    """found_pids there holds every integer pid, in the challenge set or not."""
    lines = _lines()
    extra = "999" + lines[1][3:]
    report = verify_submission(_write(tmp_path, [*lines, extra]), _challenge_set(tmp_path))
    messages = [str(e) for e in report.errors]
    assert "line 5: pid 999 is not in the challenge set" in messages
    assert "wrong number of playlists: 4 distinct pids in the file, the challenge set has 3" in (
        messages
    )
    swapped = [lines[0], lines[1], lines[2], extra]  # 3 distinct pids, one of them unknown
    report = verify_submission(_write(tmp_path, swapped), _challenge_set(tmp_path))
    messages = [str(e) for e in report.errors]
    assert not [m for m in messages if "wrong number of playlists" in m]
    assert "line 4: pid 999 is not in the challenge set" in messages
    assert "1 challenge playlist(s) without a line; missing pids: '102'" in messages


# ---- every failure and its message ---------------------------------------------------------

# name -> (mutation of the valid lines, line number of the error or None, message fragment)
FAILURES: dict[str, tuple[Callable[[list[str]], list[str]], int | None, str]] = {
    "team_info missing": (lambda ls: ls[1:], 1, "team_info line missing before the first data"),
    "team_info malformed": (
        lambda ls: ["team_info,only a name", *ls[1:]],
        1,
        "team_info must read team_info,<team name>,<contact email>",
    ),
    "team_info after data": (lambda ls: [*ls, ls[0]], 5, "a second team_info line"),
    "pid not an integer": (
        lambda ls: [ls[0], "1o1" + ls[2][3:], ls[1], ls[3]],
        2,
        "pid '1o1' is not an integer",
    ),
    "pid not in the challenge set": (
        lambda ls: [ls[0], ls[1], "999" + ls[2][3:], ls[3]],
        3,
        "pid 999 is not in the challenge set",
    ),
    "too few tracks": (
        lambda ls: [ls[0], ls[1], _replace_track(ls[2], 499, None), ls[3]],
        3,
        "pid 101: 499 tracks, need 500",
    ),
    "too many tracks": (
        lambda ls: [ls[0], ls[1], ls[2] + "," + uri(99999), ls[3]],
        3,
        "pid 101: 501 tracks, need 500",
    ),
    "not unique": (
        lambda ls: [ls[0], ls[1], _replace_track(ls[2], 7, uri(1100)), ls[3]],
        3,
        "pid 101: 499 distinct tracks, need 500; repeated: 'spotify:track:0000000000000000001100'",
    ),
    "seed track present": (
        lambda ls: [ls[0], ls[1], ls[2], _replace_track(ls[3], 10, uri(4))],
        4,
        "pid 102: 1 seed track(s) of this playlist recommended: 'spotify:track:00000000000000000",
    ),
    "malformed uri": (
        lambda ls: [ls[0], _replace_track(ls[1], 3, "spotify:track:tooshort"), ls[2], ls[3]],
        2,
        "pid 100: 1 malformed track URI(s), not spotify:track:<22 characters>: "
        "'spotify:track:tooshort'",
    ),
    "artist uri instead of track": (
        lambda ls: [ls[0], _replace_track(ls[1], 0, "spotify:artist:" + "a" * 22), *ls[2:]],
        2,
        "malformed track URI",
    ),
    "wrong number of playlists": (
        lambda ls: ls[:3],
        None,
        "wrong number of playlists: 2 distinct pids in the file, the challenge set has 3",
    ),
    "a challenge pid missing": (
        lambda ls: ls[:3],
        None,
        "1 challenge playlist(s) without a line; missing pids: '102'",
    ),
    "a pid of 22 characters with a colon": (
        lambda ls: [ls[0], _replace_track(ls[1], 3, "spotify:track:" + "a" * 21 + ":"), *ls[2:]],
        2,
        "1 malformed track URI(s)",
    ),
    "duplicate pid line": (lambda ls: [*ls, ls[2]], 5, "pid 101 already given on line 3"),
    "not utf-8": (lambda ls: [*ls, "\udcff"], 5, "not UTF-8 text"),
    "empty file": (lambda ls: [], None, "team_info line missing (the file has no content)"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_each_failure_is_reported(tmp_path: Path, case: str) -> None:
    mutate, line, fragment = FAILURES[case]
    text = "\n".join(mutate(_lines())) + "\n"
    path = tmp_path / "sub.csv"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    report = verify_submission(path, _challenge_set(tmp_path))
    assert not report.ok
    matching = [e for e in report.errors if fragment in e.message]
    assert matching, str(report)
    assert matching[0].line == line
    assert fragment in str(report)


def test_valid_file_has_no_error_at_all(tmp_path: Path) -> None:
    report = verify_submission(_write(tmp_path, _lines()), _challenge_set(tmp_path))
    assert report.errors == [] and report.warnings == []
    assert str(report).endswith(": OK")


def test_all_errors_are_reported_and_the_list_is_capped(tmp_path: Path) -> None:
    lines = _lines()
    bad = [lines[0]] + [f"{900 + i}," + ",".join([uri(7)] * 3) for i in range(30)]
    report = verify_submission(_write(tmp_path, bad), _challenge_set(tmp_path))
    # per line: pid not in the set, 3 tracks, 1 distinct; then the playlist count and the
    # missing challenge pids
    assert len(report.errors) == 30 * 3 + 2
    text = report.format(max_shown=5)
    assert "92 errors" in text
    assert "... and 87 more errors" in text
    assert len(text.splitlines()) == 1 + 5 + 1


def test_unknown_uris_are_a_warning(tmp_path: Path) -> None:
    known = {u for row in _rows() for u in row}
    known.discard(uri(100))
    known.discard(uri(1100))
    report = verify_submission(_write(tmp_path, _lines()), _challenge_set(tmp_path), known)
    assert report.ok
    assert len(report.warnings) == 1
    message = str(report.warnings[0])
    assert message.startswith("2 recommendation(s), 2 distinct track URI(s), not in the MPD")
    assert f"line 2: {uri(100)}" in message and f"line 3: {uri(1100)}" in message


# ---- command -------------------------------------------------------------------------------


def test_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cs = _challenge_set(tmp_path)
    good = _write(tmp_path, _lines(), "good.csv")
    assert main(["verify", str(good), "--challenge-set", str(cs)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {good}: 3 playlists, team 'my team'")
    bad = _write(tmp_path, _lines()[:3], "bad.csv")
    assert main(["verify", str(bad), "--challenge-set", str(cs)]) == 1
    out = capsys.readouterr().out
    assert "2 errors" in out and "wrong number of playlists: 2 distinct pids" in out


def test_verify_command_known_tracks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    known = sorted({u for row in _rows() for u in row} - {uri(100)})
    table = pa.table(
        {"track_uri": known, "artist_uri": ["spotify:artist:" + "a" * 22] * len(known)}
    )
    pq.write_table(table, tmp_path / "track_artists.parquet")
    sub = _write(tmp_path, _lines())
    argv = ["verify", str(sub), "--challenge-set", str(_challenge_set(tmp_path))]
    assert main([*argv, "--known-tracks", str(tmp_path / "track_artists.parquet")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "1 recommendation(s), 1 distinct track URI(s), not in the training data" in out


def test_verify_command_known_tracks_from_the_mpd(
    tmp_path: Path, slice_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--known-tracks also takes the MPD itself (here the fixture slice, none of whose tracks
    the submission recommends)."""
    sub = _write(tmp_path, _lines())
    argv = ["verify", str(sub), "--challenge-set", str(_challenge_set(tmp_path))]
    known = ["--known-tracks", str(slice_path), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, *known]) == 0
    out = capsys.readouterr().out
    assert "1500 recommendation(s), 1500 distinct track URI(s), not in the MPD" in out


def test_verify_command_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cs = _challenge_set(tmp_path)
    assert main(["verify", str(tmp_path / "nope.csv"), "--challenge-set", str(cs)]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err


def test_line_without_tracks(tmp_path: Path) -> None:
    lines = _lines()
    report = verify_submission(_write(tmp_path, [*lines[:3], "102"]), _challenge_set(tmp_path))
    assert [str(e) for e in report.errors] == ["line 4: pid 102: 0 tracks, need 500"]


def test_unknown_uris_counted_per_recommendation_and_distinct(tmp_path: Path) -> None:
    rows = _rows()
    stranger = uri(777_777)
    rows[0][-1] = rows[1][-1] = stranger
    lines = ["team_info,t,e@x"] + [f"{p}," + ",".join(r) for p, r in zip(PIDS, rows, strict=True)]
    known = {u for row in rows for u in row} - {stranger}
    report = verify_submission(_write(tmp_path, lines), _challenge_set(tmp_path), known)
    assert report.ok
    assert str(report.warnings[0]).startswith("2 recommendation(s), 1 distinct track URI(s)")
