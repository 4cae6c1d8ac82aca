"""Aggregation, Borda ranking, and the `score` command on a tiny hand-made split."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from harness.challenge.metrics import METRICS
from harness.challenge.scoring import aggregate, borda, score, score_submission, score_table
from harness.challenge.submission import N_TRACKS, write_submission
from harness.cli import main
from harness.errors import HarnessError
from harness.progress import Recorder

# ---- aggregation ---------------------------------------------------------------------------


def _values(**columns: list[float]) -> dict[str, np.ndarray]:
    base = dict.fromkeys(METRICS, [0.0, 0.0, 0.0, 0.0])
    base.update(columns)
    return {m: np.asarray(v, dtype=np.float64) for m, v in base.items()}


def test_aggregate_overall_and_per_category() -> None:
    per = _values(r_precision=[0.5, 0.25, 1.0, 0.0], clicks=[0.0, 2.0, 4.0, 51.0])
    out = aggregate(per, np.array([1, 1, 10, 10]), np.zeros(4, dtype=bool))
    assert out["overall"]["r_precision"] == (0.5 + 0.25 + 1.0) / 4
    assert out["overall"]["clicks"] == (2 + 4 + 51) / 4
    assert (out["overall"]["n"], out["overall"]["missing"]) == (4, 0)
    assert list(out["categories"]) == ["1", "10"]  # numeric order, keys are strings
    assert out["categories"]["1"]["r_precision"] == 0.75 / 2
    assert out["categories"]["10"]["clicks"] == 55 / 2
    assert out["categories"]["10"]["n"] == 2
    assert set(out["overall"]) == {*METRICS, "n", "missing"}


def test_aggregate_forces_the_missing_score() -> None:
    """The organisers' helper scored a missing playlist clicks 0: here it is 0 / 0 / 51."""
    per = _values(r_precision=[1.0, 1.0, 0.5, 0.5], ndcg=[1.0] * 4, clicks=[0.0] * 4)
    missing = np.array([False, True, False, False])
    out = aggregate(per, np.array([2, 2, 3, 0]), missing)
    assert out["overall"]["r_precision"] == (1.0 + 0.5 + 0.5) / 4
    assert out["overall"]["ndcg"] == 3 / 4
    assert out["overall"]["clicks"] == 51 / 4
    assert out["overall"]["missing"] == 1
    assert out["categories"]["2"]["missing"] == 1 and out["categories"]["3"]["missing"] == 0
    assert "0" not in out["categories"]  # category 0 (unknown) counts overall only
    assert per["clicks"][1] == 0.0  # the caller's arrays are not modified


def test_aggregate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="lacks metric"):
        aggregate({"ndcg": np.zeros(2)}, np.ones(2), np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        aggregate(_values(), np.ones(3), np.zeros(3, dtype=bool))


# ---- Borda ---------------------------------------------------------------------------------


def _sys(r: float, n: float, c: float) -> dict[str, float]:
    return {"r_precision": r, "ndcg": n, "clicks": c}


def test_borda_simple() -> None:
    systems = {"a": _sys(0.3, 0.5, 1.0), "b": _sys(0.2, 0.4, 2.0), "c": _sys(0.1, 0.3, 3.0)}
    assert borda(systems) == [("a", 9, 1), ("b", 6, 2), ("c", 3, 3)]


def test_borda_clicks_lower_is_better() -> None:
    systems = {"a": _sys(0.3, 0.5, 9.0), "b": _sys(0.2, 0.4, 1.0)}
    # a: 2 + 2 + 1 = 5, b: 1 + 1 + 2 = 4
    assert borda(systems) == [("a", 5, 1), ("b", 4, 2)]


def test_borda_ties_broken_by_first_then_second_places() -> None:
    # places (r_precision, ndcg, clicks) and points (4, 3, 2, 1 for places 1..4):
    # a: 1, 4, 3 -> 7 (one first, no second)    b: 2, 2, 4 -> 7 (no first, two seconds)
    # c: 3, 3, 1 -> 8 (one first, no second)    d: 4, 1, 2 -> 8 (one first, one second)
    systems = {
        "a": _sys(0.4, 0.1, 3.0),
        "b": _sys(0.3, 0.3, 4.0),
        "c": _sys(0.2, 0.2, 1.0),
        "d": _sys(0.1, 0.4, 2.0),
    }
    assert borda(systems) == [("d", 8, 1), ("c", 8, 2), ("a", 7, 3), ("b", 7, 4)]


def test_borda_complete_tie_shares_the_rank() -> None:
    # a cycle: each system is first, second and third once -> 6 points, all tie-breaks equal.
    systems = {"x": _sys(0.3, 0.1, 2.0), "y": _sys(0.2, 0.3, 3.0), "z": _sys(0.1, 0.2, 1.0)}
    assert borda(systems) == [("x", 6, 1), ("y", 6, 1), ("z", 6, 1)]


def test_borda_equal_metric_shares_the_place() -> None:
    systems = {"a": _sys(0.2, 0.5, 1.0), "b": _sys(0.2, 0.4, 1.0), "c": _sys(0.1, 0.3, 2.0)}
    # r_precision and clicks: a and b share first (3 points each), c third (1 point).
    assert borda(systems) == [("a", 9, 1), ("b", 8, 2), ("c", 3, 3)]


def test_borda_ignores_other_keys_and_accepts_other_metrics() -> None:
    systems = {
        "a": {**_sys(0.1, 0.1, 9.0), "r_precision_track": 0.9, "n": 10},
        "b": {**_sys(0.2, 0.2, 1.0), "r_precision_track": 0.1, "n": 10},
    }
    assert borda(systems)[0][0] == "b"
    assert borda(systems, metrics=("r_precision_track",)) == [("a", 2, 1), ("b", 1, 2)]


# ---- a tiny split written by hand ----------------------------------------------------------


def uri(i: int) -> str:
    return f"spotify:track:{i:022d}"


def artist(t: int) -> str:
    return f"spotify:artist:{t % 50:022d}"


# pid -> (category, seed tracks, held-out tracks); track 31 is held out twice in pid 200.
SPLIT = {
    200: (1, [], [10, 11, 12, 31, 31, 13]),
    201: (2, [1], [20, 21, 22, 23]),
    202: (3, [2, 3, 4, 5, 6], [30, 31, 40, 41, 42, 43, 44, 45]),
}
N_CATALOGUE = 1000


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    d = tmp_path / "split"
    d.mkdir()
    cs = [  # categories 1, 2, 3: titled, first 0, 1, 5 tracks as seeds
        {
            "name": f"p{pid}",
            "pid": pid,
            "num_samples": len(seeds),
            "num_holdouts": len(held),
            "num_tracks": len(seeds) + len(held),
            "tracks": [{"pos": j, "track_uri": uri(t)} for j, t in enumerate(seeds)],
        }
        for pid, (_, seeds, held) in SPLIT.items()
    ]
    (d / "challenge_set.json").write_bytes(orjson.dumps({"version": "v1", "playlists": cs}))
    gt = [
        {
            "pid": pid,
            "category": cat,
            "holdouts": [
                {"pos": len(seeds) + j, "track_uri": uri(t), "artist_uri": artist(t)}
                for j, t in enumerate(held)
            ],
        }
        for pid, (cat, seeds, held) in SPLIT.items()
    ]
    (d / "ground_truth.json").write_bytes(orjson.dumps({"playlists": gt}))
    tracks = list(range(N_CATALOGUE))
    table = pa.table(
        {
            "track_uri": [uri(t) for t in tracks],
            "artist_uri": [artist(t) for t in tracks],
            "in_train": [True] * len(tracks),
        }
    )
    pq.write_table(table, d / "track_artists.parquet")
    return d


def _perfect_submission(tmp_path: Path) -> Path:
    sub = tmp_path / "perfect.csv"
    write_submission(sub, list(SPLIT), _perfect_rows(), "t", "e@x")
    return sub


def _perfect_rows() -> list[list[str]]:
    """Each playlist's distinct held-out tracks first, then other catalogue tracks."""
    rows = []
    for _, seeds, held in SPLIT.values():
        first = list(dict.fromkeys(held))
        pad = [t for t in range(100, N_CATALOGUE) if t not in seeds and t not in held]
        rows.append([uri(t) for t in (first + pad)[:N_TRACKS]])
    return rows


def test_perfect_submission_verifies_and_scores_perfectly(split_dir: Path, tmp_path: Path) -> None:
    sub = tmp_path / "perfect.csv.gz"
    write_submission(sub, list(SPLIT), _perfect_rows(), "t", "e@x")
    scored = score_submission(sub, split_dir)
    assert scored.report is not None and scored.report.ok
    overall = scored.result["overall"]
    assert overall["r_precision_track"] == 1.0
    assert overall["r_precision"] == 1.0
    assert overall["ndcg"] == pytest.approx(1.0, rel=1e-12)
    assert overall["ndcg_rules"] == pytest.approx(1.0, rel=1e-12)
    assert overall["clicks"] == 0.0
    assert (overall["n"], overall["missing"]) == (3, 0)
    assert list(scored.result["categories"]) == ["1", "2", "3"]


def test_score_hand_computed_submission(split_dir: Path, tmp_path: Path) -> None:
    """Known values on a crafted submission, through the file format and the vocabulary."""
    rows = _perfect_rows()
    # pid 200: |G| = 5 ({10, 11, 12, 31, 13}). Rank 1: track 10 (a hit); ranks 2, 3: tracks 61
    # and 62, by the artists of 11 and 12 (artist = t % 50); ranks 4..20: tracks 100.. by other
    # artists; ranks 21, 22: the hits 11 and 12 (outside R[1..5]); then more filler.
    filler = list(range(100, N_CATALOGUE))
    r200 = [10, 61, 62, *filler[:17], 11, 12, *filler[17:]]
    rows[0] = [uri(t) for t in r200[:N_TRACKS]]
    sub = tmp_path / "s.csv"
    write_submission(sub, list(SPLIT), rows, "t", "e@x")
    scored = score_submission(sub, split_dir)
    assert scored.per_playlist["r_precision_track"][0] == 1 / 5
    assert scored.per_playlist["r_precision"][0] == (1 + 0.25 + 0.25) / 5
    assert scored.per_playlist["clicks"][0] == 0.0
    assert scored.per_playlist["r_precision"][1] == 1.0
    assert scored.result["categories"]["1"]["r_precision"] == 1.5 / 5


def test_missing_playlist_with_no_verify(
    split_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _perfect_rows()
    sub = tmp_path / "partial.csv"
    write_submission(sub, [200, 202], [rows[0], rows[2]], "t", "e@x")
    with pytest.raises(HarnessError, match="does not verify .*--no-verify"):
        score_submission(sub, split_dir)
    argv = ["score", str(sub), "--split", str(split_dir), "--json"]
    assert main(argv) == 2  # refused: the verifier's error is printed
    assert "wrong number of playlists: 2 distinct pids" in capsys.readouterr().err
    assert main([*argv, "--no-verify"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert set(out) == {"overall", "categories", "metric_definitions"}
    assert set(out["overall"]) == {*METRICS, "n", "missing"}
    assert out["overall"]["missing"] == 1 and out["overall"]["n"] == 3
    assert out["categories"]["2"] == {
        "r_precision": 0.0,
        "r_precision_track": 0.0,
        "ndcg": 0.0,
        "ndcg_rules": 0.0,
        "clicks": 51.0,
        "n": 1,
        "missing": 1,
    }
    assert out["overall"]["clicks"] == 51 / 3
    assert out["overall"]["r_precision"] == 2 / 3


def test_score_table_renders(split_dir: Path, tmp_path: Path) -> None:
    sub = _perfect_submission(tmp_path)
    result = score_submission(sub, split_dir).result
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(score_table(result))
    text = buf.getvalue()
    assert "overall" in text and "r_precision_track" in text
    assert [line.split()[0] for line in text.splitlines() if "0.0000" in line] == [
        "overall",
        "1",
        "2",
        "3",
    ]
    assert "1.0000" in text and "0.0000" in text


def test_score_command_table(
    split_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = _perfect_submission(tmp_path)
    assert main(["score", str(sub), "--split", str(split_dir)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["overall", "3", "0", "1.0000", "1.0000", "1.0000", "1.0000", "0.0000"] in rows
    assert ["2", "1", "0", "1.0000", "1.0000", "1.0000", "1.0000", "0.0000"] in rows


def test_score_says_when_the_split_is_synthetic(
    split_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table's title and (beside the --json object, whose keys are fixed) a note on stderr."""
    sub = _perfect_submission(tmp_path)
    assert main(["score", str(sub), "--split", str(split_dir)]) == 0
    assert "SYNTHETIC" not in "".join(capsys.readouterr())  # no manifest: nothing claimed
    (split_dir / "manifest.json").write_bytes(orjson.dumps({"synthetic": True}))
    assert main(["score", str(sub), "--split", str(split_dir)]) == 0
    assert "(SYNTHETIC data, not the real MPD)" in " ".join(capsys.readouterr().out.split())
    assert main(["score", str(sub), "--split", str(split_dir), "--json"]) == 0
    out, err = capsys.readouterr()
    assert set(orjson.loads(out)) == {"overall", "categories", "metric_definitions"}
    assert "SYNTHETIC data" in err


def test_tables_keep_their_columns_when_piped() -> None:
    from harness.cli.console import PIPED_WIDTH, table_console

    assert table_console().width == PIPED_WIDTH  # pytest captures: not a terminal


def test_score_needs_the_split_files(split_dir: Path, tmp_path: Path) -> None:
    sub = _perfect_submission(tmp_path)
    (split_dir / "track_artists.parquet").unlink()
    with pytest.raises(HarnessError, match="track_artists.parquet: not found"):
        score_submission(sub, split_dir)


def test_no_verify_cuts_rows_at_500_and_unknown_uris_never_hit(
    split_dir: Path, tmp_path: Path
) -> None:
    rows = _perfect_rows()
    filler = [uri(t) for t in range(100, N_CATALOGUE)]
    # pid 201: an unknown URI at rank 1, its four held-out tracks at ranks 2..5.
    rows[1] = ["spotify:track:" + "Z" * 22, *[uri(t) for t in (20, 21, 22, 23)], *filler[:495]]
    # pid 202: 501 entries, its only shown hit at rank 501 (beyond the cut).
    rows[2] = filler[:500] + [uri(30)]
    lines = ["team_info,t,e@x"] + [
        f"{pid}," + ",".join(r) for pid, r in zip(SPLIT, rows, strict=True)
    ]
    sub = tmp_path / "s.csv"
    sub.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarnessError, match="501 tracks"):
        score_submission(sub, split_dir)
    per = score_submission(sub, split_dir, verify=False).per_playlist
    assert per["r_precision_track"][1] == 3 / 4  # R[1..4] holds 20, 21, 22
    assert per["clicks"][1] == 0.0
    assert per["r_precision_track"][2] == 0.0 and per["clicks"][2] == 51.0


def test_catalogue_with_repeated_rows_scores_the_same(split_dir: Path, tmp_path: Path) -> None:
    """The vocabulary's fast path assumes distinct catalogue rows; the fallback must agree."""
    rows = _perfect_rows()
    filler = list(range(100, N_CATALOGUE))
    rows[0] = [uri(t) for t in [10, 61, 62, *filler[:17], 11, 12, *filler[17:]][:N_TRACKS]]
    sub = tmp_path / "s.csv"
    write_submission(sub, list(SPLIT), rows, "t", "e@x")
    before = score_submission(sub, split_dir).result
    path = split_dir / "track_artists.parquet"
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table.slice(500), table, table.slice(0, 10)]), path)
    assert score_submission(sub, split_dir).result == before
    assert before["categories"]["1"]["r_precision"] == 1.5 / 5


def _unknown_uri(i: int) -> str:
    """A well-formed track URI in no split file: a warning of the verifier, never a hit."""
    return f"spotify:track:{'Z' * 21}{i}"


def test_score_returns_what_score_json_prints(
    split_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`score` is the library's `score --json`: the same dict, and the same notes (through the
    reporter) that the command writes on stderr, word for word and unwrapped."""
    rows = _perfect_rows()
    for i, row in enumerate(rows):
        row[-1] = _unknown_uri(i)  # three rows: the warning's line is longer than a console
    sub = tmp_path / "warn.csv"
    write_submission(sub, list(SPLIT), rows, "t", "e@x")
    (split_dir / "manifest.json").write_bytes(orjson.dumps({"synthetic": True}))
    recorder = Recorder()
    result = score(sub, split_dir, reporter=recorder)
    assert main(["score", str(sub), "--split", str(split_dir), "--json"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out) == result
    assert out == orjson.dumps(result).decode() + "\n"
    notes = recorder.texts("note")
    assert len(notes) == 2 and recorder.texts("warn") == []
    assert "3 recommendation(s), 3 distinct track URI(s), not in the training data" in notes[0]
    assert max(len(line) for line in notes[0].splitlines()) > 160
    assert notes[1] == f"note: {split_dir} was drawn from SYNTHETIC data, not the real MPD"
    assert err == "\n".join(notes) + "\n"
    assert result == score_submission(sub, split_dir).result


def test_score_warns_about_pids_not_in_the_split(
    split_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _perfect_rows()
    sub = tmp_path / "extra.csv"
    write_submission(sub, [*SPLIT, 999], [*rows, rows[0]], "t", "e@x")
    recorder = Recorder()
    result = score(sub, split_dir, verify=False, reporter=recorder)
    warning = "1 pid(s) of the submission are not in the split and were ignored (e.g. [999])"
    assert recorder.events == [("warn", warning)]
    assert result["overall"]["r_precision"] == 1.0
    assert main(["score", str(sub), "--split", str(split_dir), "--no-verify"]) == 0
    assert capsys.readouterr().err == f"warning: {warning}\n"
