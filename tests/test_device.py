"""`evaluate --device` and bench/gpu_evaluate.py, on the CPU (a CUDA machine runs the same)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from harness.errors import UsageError
from harness.run.factory import with_device

ROOT = Path(__file__).resolve().parent.parent


def test_device_goes_to_the_models_that_take_one() -> None:
    params = with_device(["popular", "sgns", "als", "knn"], {"knn": {"k_neighbors": 50}}, "auto")
    assert params == {
        "knn": {"k_neighbors": 50},
        "sgns": {"device": "auto"},
        "als": {"device": "auto"},
    }


def test_an_explicit_model_device_wins_and_none_changes_nothing() -> None:
    given = {"sgns": {"device": "cpu"}}
    assert with_device(["sgns", "als"], given, "cuda") == {
        "sgns": {"device": "cpu"},
        "als": {"device": "cuda"},
    }
    assert with_device(["sgns"], given, None) is given
    with pytest.raises(UsageError, match="--device 'gpu'"):
        with_device(["sgns"], {}, "gpu")


def test_gpu_evaluate_runs_at_toy_size_on_the_cpu(tmp_path: Path) -> None:
    """The prepared GPU script end to end on the tiny preset: its evidence file names the
    device each model was given, the budget, the leaderboard; nothing lands in the checkout."""
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_evaluate.py"), "--preset", "tiny",
           "--device", "auto", "--models", "popular,sgns", "-p", "sgns.epochs=1",
           "--budget-s", "300", "--work", str(tmp_path / "work"), "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = orjson.loads(out.read_bytes())
    assert doc["returncode"] == 0 and doc["within_budget"] is True
    assert doc["device"] == "auto" and "cuda" in doc["gpu"]
    assert doc["models"]["sgns"]["params"]["device"] == "auto"
    assert "device" not in doc["models"]["popular"]["params"]
    assert {m["name"] for m in doc["leaderboard"]["models"]} == {"popular", "sgns"}
    assert doc["wall_s"] > 0 and doc["peak_rss_mb"] > 0 and doc["command"].startswith("python")
    assert (tmp_path / "work" / "data" / "synthetic").is_dir()  # the data went to --work


def test_gpu_sgns_runs_at_toy_size_on_the_cpu(tmp_path: Path) -> None:
    """bench/gpu_sgns.py's smoke size on the CPU: a fit per run, its purity, and the evidence
    (date, command, machine, peak RSS) in OUT/gpu_sgns.json."""
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_sgns.py"), "--playlists", "1500",
           "--tracks", "5000", "--clusters", "50", "--device", "cpu", "--epochs", "1",
           "--threads", "1", "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = orjson.loads((tmp_path / "gpu_sgns.json").read_bytes())
    (run,) = doc["runs"]
    assert run["device"] == "cpu" and len(run["epoch_s"]) == 1 and 0 <= run["purity"]["all"] <= 1
    assert doc["corpus"]["playlists"] == 1500 and doc["gpu"] is None
    assert doc["peak_rss_gib"] > 0 and doc["command"].startswith("bench/gpu_sgns.py --playlists")
    assert doc["machine"]["cores"] >= 1 and doc["date"][:2] == "20"
