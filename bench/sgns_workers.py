"""`sgns` on one CPU worker against several (Hogwild processes, models/sgns_workers.py).

    python bench/sgns_workers.py --n 100000 --epochs 5 --threads 1,2 --rounds 2 \
        --work bench/out --out bench/sgns_workers.json

Fits `sgns` on the bench's corpus at each thread count in turn, `rounds` times interleaved
(1, 2, 1, 2, ...) so that a change in machine load hits both, and scores each fit on the test
split. Per fit: fit seconds, the preparation and training seconds and worker 0's seconds per
epoch (`fit_info_`), words/s, R-precision. The medians per thread count and their ratio go in
`summary`. All data synthetic when the corpus is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import bench_train, doc_header, write_doc  # noqa: E402  (bench/ is not a package)
from stage import _recommend_and_score  # noqa: E402


def fit_once(c: Any, s: Any, train: Any, threads: int, a: argparse.Namespace) -> dict[str, Any]:
    from models import get_model

    load = os.getloadavg()[0]
    m = get_model("sgns", epochs=a.epochs, min_count=a.min_count, threads=threads, device="cpu")
    t = time.perf_counter()
    m.fit(train)
    fit_s = time.perf_counter() - t
    info = m.fit_info_
    vals = _recommend_and_score(c, s, m)[2]
    return {
        "threads": threads,
        "fit_s": round(fit_s, 3),
        "prepare_s": info["prepare_s"],
        "train_s": info["train_s"],
        "epoch_s": info["epoch_s"],
        "words_per_s": info["words_per_s"],
        "r_precision": round(float(vals["r_precision"].mean()), 5),
        "deterministic": bool(m.deterministic_),
        "load_avg_1m": load,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="the bench corpus under WORK/n<N>")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-count", type=int, default=50, help="sgns's min_count (the default)")
    ap.add_argument("--work", type=Path, default=HERE / "out")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "sgns_workers.json")
    a = ap.parse_args()
    import torch

    c, s, train = bench_train(a.work, a.n)
    counts = [int(x) for x in a.threads.split(",")]
    fits = [fit_once(c, s, train, t, a) for _ in range(a.rounds) for t in counts]
    med = {
        t: {
            key: round(statistics.median(f[key] for f in fits if f["threads"] == t), 5)
            for key in ("fit_s", "train_s", "words_per_s", "r_precision")
        }
        | {
            "epoch_s": round(
                statistics.median(e for f in fits if f["threads"] == t for e in f["epoch_s"]), 5
            )
        }
        for t in counts
    }
    one = med[counts[0]]
    summary = {
        str(t): {
            **m,
            "fit_speedup": round(one["fit_s"] / m["fit_s"], 3),
            "epoch_speedup": round(one["epoch_s"] / m["epoch_s"], 3),
        }
        for t, m in med.items()
    }
    doc = {
        **doc_header("sgns fit on 1 CPU worker against Hogwild worker processes, interleaved"),
        "torch": torch.__version__,
        "n": a.n,
        "epochs": a.epochs,
        "summary": summary,
        "fits": fits,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_doc(a.out, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
