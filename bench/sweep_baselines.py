"""A small hyperparameter sweep of `als`, `ease` and `rp3beta` (and reference models).

Usage: python bench/sweep_baselines.py [--score-on validation|test] [--data-seed N] [--grid G]

Default (`--score-on validation`): the `default` synthetic preset (data seed 0, the corpus of
`nox -s evaluate`) and its validation split (`SPLIT_DIR/validation/`, drawn from the training
playlists only, 250 per category): each setting is fitted on the training playlists minus the
validation ones and scored on the validation queries by `harness.run.validate.validate`, exactly
as `tune` scores; the test split's ground truth is never read. The defaults in models/ come
from these rows; the test split judges them afterwards (docs/baselines.md).

`--score-on test --data-seed 1` repeats the first sweep, made before the validation split
existed: another corpus of the same preset (data seed 1) and its own test split, so that the
corpus the defaults are judged on was not the one they were tuned on.

Appends one JSON line per setting to --out, so an interrupted sweep keeps its rows; the results
are summarised in docs/baselines.md. All data is synthetic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# grid name -> (model, settings to try); the defaults in models/ were chosen from these rows
GRIDS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "ref": ("popular", [{}]),
    "item_knn": ("item_knn", [{}]),
    "als": (
        "als",
        [
            {"factors": 128, "alpha": 20.0, "regularization": 0.05, "iterations": 15},
            {"factors": 64, "alpha": 20.0, "regularization": 0.05, "iterations": 15},
            {"factors": 64, "alpha": 5.0, "regularization": 0.05, "iterations": 15},
            {"factors": 64, "alpha": 60.0, "regularization": 0.05, "iterations": 15},
            {"factors": 64, "alpha": 20.0, "regularization": 5.0, "iterations": 15},
            {"factors": 64, "alpha": 20.0, "regularization": 0.05, "iterations": 8},
            {"factors": 128, "alpha": 20.0, "regularization": 0.05, "iterations": 8},
            {"factors": 192, "alpha": 20.0, "regularization": 0.05, "iterations": 8},
        ],
    ),
    "ease": (
        "ease",
        [{"n_items": 20_000, "l2": l2} for l2 in (200.0, 800.0, 2000.0, 50.0)]
        + [{"n_items": 10_000, "l2": 800.0}]
        + [{"n_items": 20_000, "l2": l2} for l2 in (5000.0, 10000.0, 20000.0)],
    ),
    "rp3beta": (
        "rp3beta",
        [
            {"alpha": a, "beta": b, "min_count": c, "normalize": n}
            for a, b, c, n in [
                (1.0, 0.5, 1, False),  # the plain model over every track
                (1.0, 0.5, 5, False),
                (0.5, 0.35, 5, False),
                (0.5, 0.35, 5, True),
                (0.5, 0.2, 5, True),
                (0.5, 0.5, 5, True),
                (1.0, 0.35, 5, True),
                (0.75, 0.35, 5, True),
                (0.5, 0.35, 10, True),
                (0.5, 0.35, 2, True),
                (0.5, 0.2, 10, True),
                (0.3, 0.2, 5, True),
                (0.5, 0.1, 5, True),
            ]
        ],
    ),
}


def prepare(data_seed: int) -> Any:
    """The test-split context of the default preset with `data_seed` (the first sweep)."""
    from harness.run.context import EvaluateSettings, prepare

    out = ROOT / "runs" / f"sweep-default-s{data_seed}"
    return prepare(EvaluateSettings(synthetic="default", data_seed=data_seed, out=out))


def on_test(ev: Any, model: Any) -> dict[str, Any]:
    """Fit and score one model on the test split as `evaluate` does (title routing, popularity
    backfill)."""
    from harness.run.checks import backfill
    from harness.run.evaluate import recommend_all, score

    t0 = time.perf_counter()
    model.fit(ev.train)
    fit_s = time.perf_counter() - t0
    recs, _, _, rec_s = recommend_all(ev, "sweep", model)
    recs, _ = backfill(recs, ev.queries, ev.ranking, ev.k)
    vals = score(ev, recs)
    cats = ev.queries.categories
    per_cat = {str(c): float(vals["r_precision"][cats == c].mean()) for c in np.unique(cats)}
    return {
        "r_precision": float(vals["r_precision"].mean()),
        "ndcg": float(vals["ndcg"].mean()),
        "clicks": float(vals["clicks"].mean()),
        "fit_s": round(fit_s, 2),
        "recommend_s": round(rec_s, 2),
        "per_category": per_cat,
    }


def on_validation(train: Any, model: Any) -> dict[str, Any]:
    """Fit on the training playlists minus the validation ones, score the validation split."""
    from harness.run.validate import validate

    v = validate(model, train)
    overall = v.scores["overall"]
    cats = train.validation.queries.categories
    per_cat = {str(c): float(v.metrics["r_precision"][cats == c].mean()) for c in np.unique(cats)}
    return {
        "r_precision": float(overall["r_precision"]),
        "ndcg": float(overall["ndcg"]),
        "clicks": float(overall["clicks"]),
        "fit_s": round(v.fit_s, 2),
        "recommend_s": round(v.recommend_s, 2),
        "per_category": per_cat,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--score-on", choices=("validation", "test"), default="validation")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--grid", default="ref,item_knn,als,ease,rp3beta")
    ap.add_argument("--skip", type=int, default=0, help="skip the first N settings of each grid")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "sweep_baselines.jsonl")
    a = ap.parse_args()
    from harness.data.synthetic import GENERATOR_VERSION
    from models import get_model

    if a.score_on == "validation":
        from harness.run.context import EvaluateSettings, prepare_validation

        train = prepare_validation(
            EvaluateSettings(synthetic="default", data_seed=a.data_seed)
        ).train

        def run(model: Any) -> dict[str, Any]:
            return on_validation(train, model)
    else:
        ev = prepare(a.data_seed)

        def run(model: Any) -> dict[str, Any]:
            return on_test(ev, model)

    for grid in a.grid.split(","):
        name, settings = GRIDS[grid]
        for params in settings[a.skip :]:
            res = run(get_model(name, **params))
            row = {"model": name, "params": params, "data_seed": a.data_seed}
            row |= {"generator": GENERATOR_VERSION, "date": time.strftime("%Y-%m-%d")}
            row |= {"scored_on": a.score_on, **res}
            print(
                f"{name:9s} {params}  R-prec {res['r_precision']:.4f}  NDCG {res['ndcg']:.4f}"
                f"  fit {res['fit_s']:.1f} s  rec {res['recommend_s']:.1f} s",
                flush=True,
            )
            with a.out.open("ab") as f:
                f.write(orjson.dumps(row) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
