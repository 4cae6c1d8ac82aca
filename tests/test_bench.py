"""The benchmark driver (bench/run.py) at a toy size: every stage runs in its own process and
lands in results.json, the Markdown table and the plot; a re-run replaces only its own rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    results = tmp_path / "results.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "300", "--no-gpu"]
    cmd += ["--work", str(tmp_path / "work"), "--results", str(results), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return orjson.loads(results.read_bytes())


def test_bench_measures_every_stage_and_reruns_replace_their_rows(tmp_path: Path) -> None:
    doc = _bench(tmp_path, "--models", "popular", "--speed-sgns-epochs", "6", "--speed-cmc", "2")
    rows = {r["stage"]: r for r in doc["results"]}
    assert list(rows) == [
        "synth", "ingest", "reload", "split", "model:popular", "knn_speed", "sgns_speed"
    ]  # fmt: skip
    assert all("error" not in r and r["n"] == 300 for r in rows.values())
    assert all(r["wall_s"] > 0 and r["peak_rss_mb"] > 10 for r in rows.values())
    assert 0 <= rows["model:popular"]["r_precision"] <= 1 and rows["reload"]["occurrences"] > 0
    assert doc["data"].startswith("synthetic") and doc["machine"]["cores"] >= 1
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("Synthetic MPD") and "| model:popular | " in md
    speed = rows["knn_speed"]  # item_knn's fit against implicit's, three interleaved rounds
    assert len(speed["item_knn_fit_s"]) == len(speed["cosine_fit_s"]) == 3
    assert speed["ratio"] > 0 and "| knn_speed |" not in md
    assert "- 300 playlists: item_knn [" in md
    sg = rows["sgns_speed"]  # sgns (6 epochs) against gensim (5) at 1 and 2 threads
    assert (sg["sgns_epochs"], sg["w2v_epochs"], sg["candidate_min_count"]) == (6, 5, 2)
    for t in (1, 2):
        s_t, w_t = sg[f"sgns_t{t}"], sg[f"w2v_t{t}"]
        # each model's words/s counts its own epochs (fit_s is rounded to 0.01 s)
        assert abs(s_t["words_per_s"] * s_t["fit_s"] / (sg["occurrences"] * 6) - 1) < 0.05
        assert abs(w_t["words_per_s"] * w_t["fit_s"] / (sg["occurrences"] * 5) - 1) < 0.05
        assert 0 <= s_t["r_precision"] <= 1 and sg[f"speedup_t{t}"] > 0
        assert sg[f"fit_time_ratio_t{t}"] == round(w_t["fit_s"] / s_t["fit_s"], 3)
    line = "- 300 playlists, sgns 6 / gensim 5 epochs, candidate_min_count 2, 2 thread(s): sgns "
    assert "| sgns_speed |" not in md and line in md and "x; fit time " in md
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = _bench(tmp_path, "--stages", "reload")
    rows2 = {r["stage"]: r for r in again["results"]}
    assert sorted(rows2) == sorted(rows)  # one row per (stage, size), the others kept as they were
    assert {k: v for k, v in rows2.items() if k != "reload"} == {
        k: v for k, v in rows.items() if k != "reload"
    }


def test_sgns_cpu_row_stays_on_the_cpu_where_a_gpu_is_present() -> None:
    """On an H100 the "model:sgns" row once ran on CUDA too (device "auto"), so both rows timed
    the GPU; the CPU row now names its device."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from run import model_rows  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    gpu_rows = model_rows("sgns", 10_000, gpu=True)
    assert [r[-1] for r in gpu_rows] == ["device='cpu'", "device='cuda'"]
    assert model_rows("sgns", 10_000, gpu=False) == gpu_rows[:1]
    assert "epochs=5" in gpu_rows[0] and "epochs=3" in model_rows("w2v", 100_000, gpu=True)[0]
    assert model_rows("popular", 10_000, gpu=True) == [["--model", "popular"]]


def test_embedding_epochs_scores_on_validation_and_keeps_a_diverged_fit(tmp_path: Path) -> None:
    """bench/embedding_epochs.py --on validation fits on the training playlists less a
    validation split and scores that, also at other candidate_min_counts; a fit that diverges
    is a row with its error."""
    _bench(tmp_path, "--stages", "synth,ingest,split")
    out = tmp_path / "epochs.jsonl"
    cmd = [sys.executable, str(ROOT / "bench" / "embedding_epochs.py"), "--n", "300"]
    cmd += ["--work", str(tmp_path / "work"), "--models", "sgns", "--epochs", "1,2"]
    cmd += ["--on", "validation", "-p", "min_count=1", "--out", str(out), "--candidates", "0,3"]
    for alpha in ("0.025", "1e6"):
        proc = subprocess.run([*cmd, "-k", f"alpha={alpha}"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [(r["epochs"], r["knobs"]) for r in rows] == [
        (1, ["alpha=0.025"]), (2, ["alpha=0.025"]), (1, ["alpha=1e6"]), (2, ["alpha=1e6"])
    ]  # fmt: skip
    assert all(r["on"] == "validation" and 0 < r["knn_r_precision"] <= 1 for r in rows)
    assert all("--on validation" in r["command"] and r["machine"]["cores"] >= 1 for r in rows)
    assert all(0 <= r["r_precision"] <= 1 and "error" not in r for r in rows[:2])
    for r in rows[:2]:  # the same fit rescored: candidate_min_count 0 is the fit's own setting
        by = r["by_candidate_min_count"]
        assert sorted(by) == ["0", "3"] and by["0"]["r_precision"] == r["r_precision"]
    assert all(r["r_precision"] is None and "diverged" in r["error"] for r in rows[2:])


def test_model_compare_runs_both_checkouts_interleaved_and_checks_scores(tmp_path: Path) -> None:
    """bench/ingest_compare.py --model times one model's stage in two checkouts in turn (here
    this checkout twice) and says whether their scores are equal."""
    _bench(tmp_path, "--stages", "synth,ingest,split")
    out = tmp_path / "compare.json"
    cmd = [sys.executable, str(ROOT / "bench" / "ingest_compare.py"), "--old", str(ROOT)]
    cmd += ["--model", "rp3beta", "--n", "300", "--work", str(tmp_path / "work"), "--rounds", "2"]
    proc = subprocess.run([*cmd, "-p", "min_count=1", "--out", str(out)], capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = orjson.loads(out.read_bytes())
    assert [len(doc["runs"][s]) for s in ("old", "new")] == [2, 2] and doc["same_scores"]
    assert doc["runs"]["new"][0]["fit_s"] > 0 and 0 <= doc["runs"]["old"][1]["r_precision"] <= 1
    assert doc["new_over_old"] > 0 and doc["params"] == ["min_count=1"]
    assert doc["recommend_new_over_old"] > 0 and doc["median_recommend_s"]["old"] > 0
    assert doc["commits"]["old"] == doc["commits"]["new"] and doc["machine"]["cores"] >= 1


def _script(tmp_path: Path, script: str, *args: str) -> dict[str, Any]:
    """Run bench/SCRIPT on the toy bench corpus (made first) with --out; its results file."""
    _bench(tmp_path, "--stages", "synth,ingest,split")
    out = tmp_path / f"{script}.json"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / script),
        "--n",
        "300",
        "--work",
        str(tmp_path / "work"),
    ]
    proc = subprocess.run([*cmd, *args, "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc: dict[str, Any] = orjson.loads(out.read_bytes())
    return doc


def test_sgns_workers_times_one_worker_against_two_interleaved(tmp_path: Path) -> None:
    args = ("--epochs", "2", "--min-count", "1", "--rounds", "2")
    doc = _script(tmp_path, "sgns_workers.py", *args)
    assert [f["threads"] for f in doc["fits"]] == [1, 2, 1, 2]  # interleaved
    assert [f["deterministic"] for f in doc["fits"]] == [True, False, True, False]
    assert all(len(f["epoch_s"]) == 2 and 0 <= f["r_precision"] <= 1 for f in doc["fits"])
    assert doc["summary"]["1"]["fit_speedup"] == 1.0 and doc["summary"]["2"]["fit_speedup"] > 0
    assert "--epochs 2" in doc["command"] and doc["machine"]["cores"] >= 1


def test_rerank_cooc_times_both_paths_and_checks_they_agree(tmp_path: Path) -> None:
    doc = _script(
        tmp_path, "rerank_cooc.py", "--rounds", "2", "--queries", "20", "--candidates", "30"
    )
    assert doc["same_features"] and 0 < doc["queries"] <= 20
    assert doc["pairs"] > doc["queries"] * 20  # 30 candidates less each query's seeds
    assert [len(doc["seconds"][k]) for k in ("numpy", "kernel")] == [2, 2]
    assert doc["kernel_over_numpy"] > 0 and doc["machine"]["cores"] >= 1


def test_pyspy_summary_counts_each_function_once_per_stack(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text("main (a.py:1);f (a.py:5);f (a.py:7);g (b.py:2) 3\nmain (a.py:1);h (c.py:9) 1\n")
    out = tmp_path / "summary.json"
    cmd = [sys.executable, str(ROOT / "bench" / "pyspy_summary.py"), str(raw), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = orjson.loads(out.read_bytes())
    shares = doc["inclusive_share_top"]
    assert doc["samples"] == 4 and shares["main (a.py)"] == 1.0
    assert shares["f (a.py)"] == 0.75 and shares["h (c.py)"] == 0.25  # recursion counted once
    raw.write_text("no samples here\n")
    assert subprocess.run(cmd, capture_output=True).returncode != 0


def test_sgns_batch_times_the_step_at_each_batch_size(tmp_path: Path) -> None:
    args = ("--batch-tokens", "64,256", "--rounds", "2", "--min-count", "1")
    doc = _script(tmp_path, "sgns_batch.py", *args)
    assert list(doc["summary"]) == ["64", "256"]
    assert all(len(v) == 2 and min(v) > 0 for v in doc["rounds_us_per_token"].values())
    first, second = doc["summary"]["64"], doc["summary"]["256"]
    assert first["speed_vs_first_min"] == 1.0 and second["speed_vs_first_min"] > 0
    assert first["batches"] > second["batches"] >= 1  # smaller batches, more of them
    assert doc["tokens_timed"] > 0 and "--rounds 2" in doc["command"]


def test_fresh_clone_times_a_command_in_a_clone_of_head(tmp_path: Path) -> None:
    """bench/fresh_clone.py runs the command in a fresh clone of HEAD and keeps its evidence
    (here a tiny evaluate instead of `nox -s evaluate`, which would build a virtualenv)."""
    out = tmp_path / "fresh.json"
    job = "python -m harness evaluate --synthetic tiny --models popular --out runs/t"
    cmd = [sys.executable, str(ROOT / "bench" / "fresh_clone.py"), "--out", str(out)]
    cmd += ["--command", job, "--run", "runs/t", "--marker", "split:"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = orjson.loads(out.read_bytes())
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
    assert doc["commit"] == head.stdout.decode().strip() and doc["returncode"] == 0
    assert 0 < doc["install_s"] <= doc["wall_s"] and doc["job_s"] >= 0
    assert doc["timed"] == job and doc["pip_cache"] is False
    assert [m["name"] for m in doc["leaderboard"]["models"]] == ["popular"]
    assert doc["data"]["synthetic"] is True
