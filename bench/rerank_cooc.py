"""`rerank`'s co-occurrence features: the compiled kernel against the numpy path it replaced.

    python bench/rerank_cooc.py --n 1000000 --work bench/out --queries 200 --candidates 600

On the bench's corpus and split under WORK/n<N> (`nox -s bench -- --sizes N --stages
synth,ingest,split`): the first `--queries` test queries with seeds, each with the
`--candidates` most popular training tracks less its seeds (popular tracks have the
most playlists, the expensive case; rerank's base models lean the same way). Both paths run on
the same chunks (rerank_features.cooccurrence's own cut), interleaved over `--rounds`, and must
give the same features bit for bit. Writes bench/rerank_cooc.json (seconds of each round, the
ratio of the medians, date, machine, command). All data synthetic when the corpus is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT.parent / "tests"))
sys.path.insert(0, str(ROOT))
from run import bench_train, machine, write_doc  # noqa: E402  (bench/ is not a package)


def popular_candidates(stats: Any, queries: Any, m: int) -> Any:
    """The m most popular tracks for every query, its seeds dropped, as rerank's Candidates."""
    from models.rerank_features import union_candidates

    top = np.argsort(-stats.df, kind="stable")[:m].astype(np.int32)  # (m,)
    return union_candidates([np.tile(top, (len(queries), 1))], queries, stats.n_tracks)


def cands_of_first(cands: Any) -> Any:
    """The candidates of the first query alone (to load the compiled kernel before timing)."""
    from dataclasses import replace

    e = cands.offsets[1]
    return replace(cands, query=cands.query[:e], track=cands.track[:e], offsets=cands.offsets[:2])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--work", type=Path, default=ROOT / "out")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--candidates", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "rerank_cooc.json")
    a = ap.parse_args()

    from blocked_reference import numpy_cooccurrence  # the old path, the tests' reference

    from models.knn import sparse_from_csr, work_batches
    from models.rerank_features import COOC_WORK, DENSE_BUDGET, TrackStats, cooccurrence

    _, split, train = bench_train(a.work, a.n)
    stats = TrackStats(train)
    queries = split.queries
    queries = queries.subset(np.flatnonzero(queries.n_seeds > 0)[: a.queries])
    cands = popular_candidates(stats, queries, a.candidates)

    def old() -> tuple[np.ndarray, np.ndarray]:
        """The numpy path on rerank's own chunks (the same cut as `cooccurrence`)."""
        total, anyseed = np.zeros(len(cands), np.float32), np.zeros(len(cands), np.float32)
        work = np.add.reduceat(
            np.append(stats.df[cands.track], 0.0).astype(np.float64), cands.offsets[:-1]
        ) * (np.diff(cands.offsets) > 0)
        for sl in work_batches(work, COOC_WORK, max(1, DENSE_BUDGET // stats.n_playlists)):
            sub = queries.subset(np.arange(sl.start, sl.stop))
            Q = sparse_from_csr(sub.seed_offsets, sub.seed_ids, stats.n_tracks)
            i, e = cands.offsets[sl.start], cands.offsets[sl.stop]
            rows = (cands.query[i:e] - sl.start).astype(np.int64)
            total[i:e], anyseed[i:e] = numpy_cooccurrence(stats.BT, Q, cands.track[i:e], rows)
        return total, anyseed

    seconds: dict[str, list[float]] = {"numpy": [], "kernel": []}
    results = {}
    cooccurrence(stats, queries.subset(np.arange(1)), cands_of_first(cands))  # compile or load
    for _ in range(a.rounds):
        for name, fn in (("numpy", old), ("kernel", lambda: cooccurrence(stats, queries, cands))):
            t = time.perf_counter()
            results[name] = fn()
            seconds[name].append(round(time.perf_counter() - t, 6))
            print(name, seconds[name][-1], flush=True)
    same = all(
        np.array_equal(x, y) for x, y in zip(results["numpy"], results["kernel"], strict=True)
    )
    med = {k: statistics.median(v) for k, v in seconds.items()}
    doc = {
        "what": "rerank's co-occurrence features, kernel vs numpy path (bench/rerank_cooc.py)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "playlists": a.n,
        "queries": len(queries),
        "pairs": len(cands),
        "playlist_entries_summed": float(stats.df[cands.track].sum()),
        "seconds": seconds,
        "median_s": med,
        "kernel_over_numpy": round(med["kernel"] / med["numpy"], 4),
        "same_features": same,
    }
    write_doc(a.out, doc)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
