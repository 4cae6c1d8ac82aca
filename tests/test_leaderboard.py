"""The leaderboard: built from hand-written run files only, rendered to plain text and files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import seal_by_hand
from rich.console import Console

from harness.atomic import read_json, write_json
from harness.challenge.metrics import METRICS, RANKED
from harness.progress import Recorder
from harness.report.leaderboard import (
    LEGEND,
    Leaderboard,
    build,
    caption,
    render,
    to_csv,
    to_markdown,
    write,
)
from harness.run.rundir import write_metrics

SPLIT = {"path": "runs/x/split", "seed": 7, "fingerprint": "S1", "n_queries": 20}
DATA = {"name": "synthetic-tiny-s0", "fingerprint": "D1", "synthetic": True, "n_playlists": 2000}
CATS = np.repeat(np.arange(1, 11), 2).astype(np.int8)  # two playlists per category
PIDS = np.arange(500, 520, dtype=np.int64)


def write_model(
    run: Path,
    name: str,
    r_prec: float,
    ndcg: float,
    clicks: float,
    *,
    split_fp: str = "S1",
    cold_start: str = "model",
) -> None:
    d = run / name
    d.mkdir(parents=True)
    n = len(PIDS)
    values = {
        "r_precision": np.full(n, r_prec),
        "r_precision_track": np.full(n, r_prec / 2),
        "ndcg": np.full(n, ndcg),
        "ndcg_rules": np.full(n, ndcg / 2),
        "clicks": np.full(n, clicks),
    }
    values["r_precision"][CATS == 1] = 0.0  # category 1 differs from the rest
    write_metrics(d / "metrics.parquet", PIDS, CATS, values)
    manifest: dict[str, Any] = {
        "model": name,
        "key": f"key-{name}",
        "params": {"alpha": 1},
        "mode": "split",
        "data": DATA,
        "split": {**SPLIT, "fingerprint": split_fp},
        "fit_s": 1.5,
        "recommend_s": 0.25,
        "peak_rss_mb": 321.0,
        "cold_start": cold_start,
        "backfill": {"slots": 4, "queries": 1, "max": 4},
        "submission": f"../../../submissions/x/{name}.csv.gz",
    }
    seal_by_hand(d, manifest)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    r = tmp_path / "runs" / "x"
    r.mkdir(parents=True)
    write_json(r / "run.json", {"mode": "split", "k": 500, "data": DATA, "split": SPLIT})
    write_model(r, "good", 0.5, 0.6, 2.0, cold_start="title")
    write_model(r, "poor", 0.25, 0.3, 9.0)
    write_model(r, "mixed", 0.25, 0.7, 1.0)
    write_model(r, "stale", 0.9, 0.9, 0.0, split_fp="OTHER")
    (r / "unfinished").mkdir()  # no manifest: killed mid-run, ignored
    (r / "unfinished" / "recs.npz").write_bytes(b"")
    return r


def test_build_uses_only_matching_complete_runs(run: Path) -> None:
    board = build(run)
    names = [m["name"] for m in board.models]
    assert set(names) == {"good", "poor", "mixed"}
    assert board.skipped == ["stale (another split)"]
    assert set(board.to_json()) == {"data", "split", "models", "metric_definitions"}
    definitions = board.to_json()["metric_definitions"]
    assert definitions["r_precision"]["label"] == "R-precision (with artist credit)"
    assert definitions["r_precision_track"]["label"] == "R-precision (official script)"
    assert "0.25" in definitions["r_precision"]["definition"]
    assert board.to_json()["split"]["path"] == "runs/x/split"
    assert board.to_json()["split"]["seed"] == 7
    good = next(m for m in board.models if m["name"] == "good")
    assert set(good) == {
        "name",
        "params",
        "overall",
        "categories",
        "fit_s",
        "recommend_s",
        "peak_rss_mb",
        "submission",
        "ci",
    }
    assert good["ci"]["r_precision"]["lo"] <= good["overall"]["r_precision"]
    assert good["ci"]["r_precision"]["hi"] >= good["overall"]["r_precision"]
    # 18 of 20 playlists at 0.5, category 1 at 0
    assert good["overall"]["r_precision"] == pytest.approx(0.45)
    assert good["overall"]["ndcg"] == pytest.approx(0.6)
    assert good["overall"]["n"] == 20 and good["overall"]["missing"] == 0
    assert good["categories"]["1"]["r_precision"] == 0.0
    assert good["categories"]["2"]["r_precision"] == pytest.approx(0.5)
    assert good["submission"] == str(Path("../../submissions/x/good.csv.gz"))
    # Borda over (R-prec, NDCG, clicks), 3 systems: good 3+1+2=6, mixed 1.5..., poor last
    assert names[-1] == "poor"
    assert board.borda["poor"][1] == 3
    assert board.cold_start == {"good": "title", "poor": "model", "mixed": "model"}


def test_render_plain_text(run: Path) -> None:
    board = build(run)
    buf = io.StringIO()
    console = Console(file=buf, width=200, color_system=None)
    for table in render(board):
        console.print(table)
    text = " ".join(buf.getvalue().split())  # the caption wraps to the table's width
    for expected in (
        "R-precision",
        "NDCG",
        "clicks",
        "Borda",
        "good",
        "poor",
        "mixed",
        "0.4500",
        "9.000",
        "321",
        "title baseline",  # the legend
        "own",
        "1: title only",
        "4: first 5, no title",
        "10: title + random 100",
        "synthetic",
        "split seed 7",
        "20 test playlists",
    ):
        assert expected in text, expected
    assert "stale" in text  # named as left out, not ranked
    assert "unfinished" not in text


def test_caption_says_real_mpd_when_not_synthetic(run: Path) -> None:
    board = build(run)
    board.data = {**board.data, "synthetic": False, "name": "mpd", "n_playlists": 1_000_000}
    cap = caption(board)
    assert "synthetic" not in cap and "MPD mpd (1,000,000 playlists)" in cap
    assert "coverage" not in cap
    board.split = {**board.split, "coverage": "best-effort", "not_in_train": 1234}
    assert "1,234 test tracks absent from training (coverage best-effort)" in caption(board)


def test_markdown_and_csv_mark_the_best(run: Path) -> None:
    board = build(run)
    md = to_markdown(board)
    assert "| **0.4500** |" in md  # best R-precision
    assert "**1.000**" in md  # lowest clicks is best
    assert "**0.7000**" in md  # best NDCG
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    assert [r["model"] for r in rows] == [m["name"] for m in board.models]
    poor = next(r for r in rows if r["model"] == "poor")
    assert float(poor["clicks"]) == 9.0 and poor["borda_rank"] == "3"
    assert float(poor["r_precision_cat1"]) == 0.0 and poor["cold_start"] == "model"
    assert {r["synthetic"] for r in rows} == {"true"}  # DATA is synthetic
    board.data = {**board.data, "synthetic": False}
    assert {r["synthetic"] for r in csv.DictReader(io.StringIO(to_csv(board)))} == {"false"}


def test_write_and_command(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    write(build(run), run)
    first = (run / "leaderboard.json").read_bytes()
    assert read_json(run / "leaderboard.json")["data"]["name"] == "synthetic-tiny-s0"
    (run / "leaderboard.json").unlink()
    assert main(["leaderboard", str(run)]) == 0
    assert (run / "leaderboard.json").read_bytes() == first  # re-rendered identically
    assert (run / "leaderboard.md").is_file() and (run / "leaderboard.csv").is_file()
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # the title wraps to the table's width
    assert "good" in out and "R-precision (with artist credit) per challenge category" in flat


def test_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["leaderboard", str(tmp_path)]) != 0
    assert "run.json" in capsys.readouterr().err
    write_json(tmp_path / "run.json", {"mode": "challenge", "data": DATA, "split": SPLIT})
    assert main(["leaderboard", str(tmp_path)]) != 0
    assert "no ground truth" in capsys.readouterr().err


def test_to_pandas_one_row_per_model(run: Path) -> None:
    board = build(run)
    df = board.to_pandas()
    assert list(df["name"]) == [m["name"] for m in board.models]  # best Borda rank first
    assert list(df.columns[:3]) == ["name", "borda_rank", "borda_points"]
    for metric in METRICS:
        assert {metric, f"{metric}_lo", f"{metric}_hi"} <= set(df.columns)
    good = df.set_index("name").loc["good"]
    entry = next(m for m in board.models if m["name"] == "good")
    assert good["r_precision"] == pytest.approx(0.45)
    assert good["clicks"] == pytest.approx(2.0)
    assert good["r_precision_lo"] == entry["ci"]["r_precision"]["lo"]
    assert good["ndcg_hi"] == entry["ci"]["ndcg"]["hi"]
    assert good["r_precision_lo"] <= good["r_precision"] <= good["r_precision_hi"]
    assert good["fit_s"] == 1.5 and good["recommend_s"] == 0.25 and good["peak_rss_mb"] == 321.0
    assert good["n"] == 20 and good["missing"] == 0
    assert good["cold_start"] == "title" and good["backfilled"] == 4
    assert (good["borda_points"], good["borda_rank"]) == board.borda["good"]
    assert df["synthetic"].tolist() == [True, True, True]
    assert df.set_index("name").loc["poor", "borda_rank"] == 3


def test_to_pandas_of_an_empty_board() -> None:
    df = Leaderboard(data={}, split={}, models=[]).to_pandas()
    assert len(df) == 0 and "name" in df.columns and "fit_s" in df.columns


def test_build_reports_its_slow_step(run: Path) -> None:
    recorder = Recorder()
    board = build(run, reporter=recorder)
    assert recorder.texts("step") == ["confidence intervals and paired tests"]
    # the whole table (overall and per category) is kept for the HTML report
    assert list(board.confidence["models"]) == [m["name"] for m in board.models]
    assert set(board.confidence["models"]["good"]["categories"]) == {str(c) for c in range(1, 11)}


def test_labels_and_ranked_metrics_come_from_the_registry(run: Path) -> None:
    board = build(run)
    header = to_markdown(board).splitlines()[4]
    assert header.startswith("| Borda | model | " + " | ".join(m.label for m in RANKED) + " |")
    assert (
        "Borda: rank (points) over R-precision (with artist credit), NDCG and clicks "
        "(lower is better)" in LEGEND
    )
