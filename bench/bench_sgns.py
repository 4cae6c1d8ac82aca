"""Benchmark the PyTorch skip-gram (`sgns`) against gensim (`w2v`) on the same corpus.

Writes bench/out/sgns.json:

    python bench/bench_sgns.py [--preset default] [--epochs 2] [--workers 2] [--threads 1]

Both models get the same shared settings (dim, window, negative, ns_exponent, sample, epochs,
min_count, seed; for sgns ns_exponent is a knob, set through bench/sgns_knobs.py) and are
fitted once each, every fit in a fresh child process so that its peak RSS (getrusage) is its
own. Reported per model: training words/s (raw playlist tokens per second of training, as gensim
counts them), the ratio sgns / w2v, peak RSS, and two quality measures:
- R-precision (and NDCG) on a harness split of the synthetic MPD, scored as `evaluate` does
  (split and scoring helpers from bench/bench_w2v.py);
- planted-cluster purity on a corpus with known clusters (bench/gpu_sgns.py: planted_corpus):
  the share of a track's 10 nearest neighbours in its own cluster, for rare and frequent tracks.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness.atomic import write_json  # noqa: E402

OUT = ROOT / "bench" / "out"
SHARED = ("dim", "window", "negative", "ns_exponent", "sample", "epochs", "min_count", "seed")


def fit_child(kind: str, data: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
    """In a child process: load the data, fit one model, score it; returns a JSON dict."""

    from sgns_knobs import build_sgns

    from models import get_model

    res: dict[str, Any] = {"model": model, "params": params}
    if kind == "split":
        from bench_w2v import SweepData

        d = SweepData(Path(data))
        train = d.train
    else:
        from gpu_sgns import planted_corpus, train_set

        spec = json.loads(data)
        offsets, ids, cluster = planted_corpus(**spec)
        train = train_set(offsets, ids, spec["n_tracks"])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = build_sgns(**params) if model == "sgns" else get_model(model, **params)
    t0 = time.perf_counter()
    m.fit(train)
    res["fit_s"] = round(time.perf_counter() - t0, 2)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    res["rss_before_fit_mb"] = round(rss0, 1)
    info = m.fit_info_
    res["words_per_s"] = info["words_per_s"]
    res["train_s"] = info["train_s"]
    res["epoch_s"] = info["epoch_s"]
    res["final_loss"] = info.get("final_loss")
    if kind == "split":
        own = m.recommend(d.queries, d.k)
        res["scores"] = d.score(own)
    else:
        from gpu_sgns import purity

        counts = np.bincount(train.track_ids, minlength=train.n_tracks)
        res["purity"] = purity(m.vectors_, cluster, counts, device="cpu")
    res["torch_threads"] = info.get("threads")
    return res


def run_child(kind: str, data: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, __file__, "--child", kind, data, model, json.dumps(params), str(out)]
        subprocess.run(cmd, check=True, env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
        r: dict[str, Any] = json.loads(out.read_text())
    print(json.dumps(r), flush=True)
    return r


def split_data(args: argparse.Namespace) -> Path:
    """The harness split of the synthetic MPD, prepared once by bench_w2v's helper."""
    from bench_w2v import prepare_sweep

    path = OUT / f"sgns_split_{args.preset}_s{args.seed}.npz"
    if not path.exists():
        ns = argparse.Namespace(
            preset=args.preset,
            playlists=None,
            seed=args.seed,
            coverage="none",
            per_category=None,
            k=500,
        )
        OUT.mkdir(parents=True, exist_ok=True)
        prepare_sweep(ns, path)
    return path


def pair(kind: str, data: str, shared: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    w = run_child(kind, data, "w2v", {**shared, "workers": args.workers})
    s = run_child(kind, data, "sgns", {**shared, "threads": args.threads, "device": "cpu"})
    return {"w2v": w, "sgns": s, "words_per_s_ratio": round(s["words_per_s"] / w["words_per_s"], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", help="synthetic MPD preset for R-precision")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--ns-exponent", type=float, default=-0.5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="gensim workers")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for sgns (0: all)")
    ap.add_argument("--planted-playlists", type=int, default=10_000)
    ap.add_argument("--planted-epochs", type=int, default=3)
    ap.add_argument("--skip-split", action="store_true")
    ap.add_argument("--out", default=str(OUT / "sgns.json"))
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, data, model, params, out = args.child
        r = fit_child(kind, data, model, json.loads(params))
        Path(out).write_text(json.dumps(r))
        return 0
    shared = {k: getattr(args, k) for k in SHARED}
    doc: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "note": "one run per model; the machine is shared, so words/s are noisy",
    }
    n = args.planted_playlists
    spec = {"n_playlists": n, "n_tracks": n, "n_clusters": max(n // 100, 2), "seed": 0}
    spec["p_in"] = 0.5
    planted_shared = {**shared, "ns_exponent": 0.75, "epochs": args.planted_epochs}
    doc["planted"] = {"corpus": spec, **pair("planted", json.dumps(spec), planted_shared, args)}
    write_json(args.out, doc)
    if not args.skip_split:
        path = split_data(args)
        doc["split"] = {
            "preset": args.preset,
            "data": str(path),
            **pair("split", str(path), shared, args),
        }
        w, s = doc["split"]["w2v"]["scores"], doc["split"]["sgns"]["scores"]
        doc["split"]["r_precision_rel_diff"] = round(s["r_precision"] / w["r_precision"] - 1, 4)
    write_json(args.out, doc)
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
