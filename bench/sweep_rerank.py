"""Choose `rerank`'s base models on the validation split (never the test split).

Usage: python bench/sweep_rerank.py [--data-seed N] [--configs A;B;...] [--out FILE]

The `default` synthetic preset (the corpus of `nox -s evaluate`) and its validation split, as
`evaluate` prepares them (`prepare_validation`: the test split's ground truth is not read).
Each configuration is a set of `rerank` parameters; `rerank` fits its base models on the
training playlists minus the validation ones, learns on 80% of the validation queries and
reports the R-precision (with artist credit, and on tracks only) of itself and of each base
model on the other 20% (the stop part, `fit_info.stop_rprec`). `refit` is off: test-time candidates are not needed here.
Appends one JSON line per configuration to --out (docs/rerank.md summarises them).
All data is synthetic.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIVE, SIX = "knn,item_knn,title,popular,als", "knn,item_knn,title,popular,als,rp3beta"
CONFIGS = [
    {"base_models": FIVE},
    {"base_models": SIX},
    {"base_models": SIX, "artist_gain": 0.25},
    {"base_models": SIX, "artist_gain": 0.5},
]


def parse_configs(text: str) -> list[dict[str, Any]]:
    """'base_models="a,b",truncation=30;...' -> one dict of Python literals per configuration."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        call = ast.parse(f"dict({part})", mode="eval").body
        assert isinstance(call, ast.Call)
        out.append({k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg})
    return out


def stop_scores(model: Any, train: Any) -> dict[str, dict[str, float]]:
    """R-precision with artist credit (the leaderboard's) and on tracks only of the reranker's
    and each base model's top |G| on the stop part (`stop_lists_`)."""
    import numpy as np

    from harness.challenge.metrics import compute_metrics

    val, art = train.validation, train.track_artist
    gt = [val.holdouts(int(i)) for i in model.stop_rows_]
    off = np.concatenate([[0], np.cumsum([len(g) for g in gt])])
    ids = np.concatenate(gt)
    out: dict[str, dict[str, float]] = {"artist": {}, "tracks": {}}
    for name, recs in model.stop_lists_.items():
        m = compute_metrics(recs, off, ids, art[ids], np.where(recs >= 0, art[recs], -1))
        out["artist"][name] = round(float(m["r_precision"].mean()), 5)
        out["tracks"][name] = round(float(m["r_precision_track"].mean()), 5)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--configs", default=None, help="';'-separated k=v,... rerank parameters")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "sweep_rerank.jsonl")
    a = ap.parse_args()
    from harness.data.synthetic import GENERATOR_VERSION
    from harness.run.context import EvaluateSettings, prepare_validation
    from models import get_model

    train = prepare_validation(EvaluateSettings(synthetic="default", data_seed=a.data_seed)).train
    for params in parse_configs(a.configs) if a.configs else CONFIGS:
        t = time.perf_counter()
        model = get_model("rerank", **{**params, "refit": False}).fit(train)
        info, scores = model.fit_info_, stop_scores(model, train)
        row = {
            "model": "rerank",
            "params": params,
            "data_seed": a.data_seed,
            "generator": GENERATOR_VERSION,
            "date": time.strftime("%Y-%m-%d"),
            "scored_on": "validation stop part",
            "stop_rprec": scores["artist"],  # with artist credit, as the leaderboard
            "stop_rprec_tracks": scores["tracks"],
            "best_iteration": info.get("best_iteration"),
            "stop_candidate_recall": info.get("stop_candidate_recall"),
            "categories": model.validation_scores_.get("categories"),
            "fit_s": round(time.perf_counter() - t, 1),
        }
        print(f"{params}: {row['stop_rprec']} ({row['fit_s']} s)", flush=True)
        with a.out.open("ab") as f:
            f.write(orjson.dumps(row) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
