"""Benchmark `knn` and `item_knn`: fit + 10,000 queries, wall time and peak RSS.

Usage: python bench/bench_knn.py [--playlists 25000,50000,100000] [--source synthetic|zipf]

For each corpus size it prepares a training set and 10,000 challenge-like queries once (saved as
npz, no pickle), then fits and queries each model in a fresh subprocess, so peak RSS belongs to
that model alone (the baseline RSS after loading the data is reported next to it). Times at the
largest sizes are extrapolated to 1M playlists with a log-log fit over the sizes measured.

Sources:
- synthetic: `harness.data.synthetic.write_synthetic` -> `harness.data.ingest.load_corpus`.
- zipf: a random corpus built here: lengths 5..250, track popularity ∝ (rank + 10)^-0.9 over
  2.26 tracks per playlist, half of each playlist from a random "topic" so neighbours exist.
Queries (both sources): held-out playlists with the challenge's seed counts (`hold_out`).

Writes bench/out/knn.json. Peak RSS excludes torch and gensim: the child imports only the
model's own module (see the `models` stub below).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Import models.* without running models/__init__.py: the registry imports every model (torch
# and gensim included), whose resident pages would dominate the peak RSS measured here.
_models = types.ModuleType("models")
_models.__path__ = [str(ROOT / "models")]
sys.modules.setdefault("models", _models)

from harness.atomic import write_json  # noqa: E402
from models.base import Queries, TrainSet  # noqa: E402

MODEL_CLASSES = {
    "knn": "models.knn:KNNRecommender",
    "item_knn": "models.item_knn:ItemKNNRecommender",
}
SEEDS_PER_CATEGORY = (0, 1, 5, 5, 10, 10, 25, 25, 100, 100)
TRACKS_PER_PLAYLIST = 2.26  # the MPD: 2,262,292 tracks for 1M playlists


# ---------------------------------------------------------------- data


def zipf_corpus(n_playlists: int, seed: int) -> TrainSet:
    """A random corpus: Zipf track popularity plus topical playlists (so neighbours exist)."""
    rng = np.random.default_rng(seed)
    n_tracks = int(n_playlists * TRACKS_PER_PLAYLIST)
    n_topics = max(n_playlists // 200, 10)
    lengths = np.clip(np.round(rng.lognormal(np.log(45), 0.8, n_playlists)), 5, 250).astype(int)
    pop = (np.arange(n_tracks) + 10.0) ** -0.9  # (T,) by popularity rank
    perm = rng.permutation(n_tracks)  # rank -> track id
    cum = np.cumsum(pop / pop.sum())
    topic = rng.integers(0, n_topics, n_playlists)  # (P,)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(n_playlists), lengths)  # (n_occ,)
    # half the tracks from the global popularity, half from the playlist's topic window
    ranks = np.searchsorted(cum, rng.random(total) * cum[-1])
    local = rng.random(total) < 0.5
    window = n_tracks // n_topics
    ranks[local] = topic[owner[local]] * window + (ranks[local] % window)
    offsets = np.zeros(n_playlists + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TrainSet(
        offsets=offsets,
        track_ids=perm[np.minimum(ranks, n_tracks - 1)].astype(np.int32),
        titles=np.array([f"topic {t}" for t in topic], dtype=object),
        n_tracks=n_tracks,
        track_artist=(np.arange(n_tracks) // 10).astype(np.int32),
        track_album=(np.arange(n_tracks) // 5).astype(np.int32),
    )


def synthetic_corpus(n_playlists: int, seed: int, work: Path) -> TrainSet:
    """The harness's synthetic MPD (generated once into `work`), as one TrainSet."""
    from harness.data.ingest import load_corpus
    from harness.data.synthetic import write_synthetic

    src = work / f"synthetic-{n_playlists}-s{seed}"
    if not src.is_dir():
        tmp = work / f"tmp-{n_playlists}-s{seed}"
        tmp.mkdir(parents=True, exist_ok=True)
        write_synthetic(tmp, n_playlists, seed, workers=1)  # one core: a shared machine
        tmp.rename(src)
    c = load_corpus(src, cache_dir=work / "cache")
    return TrainSet(
        c.offsets, c.track_ids, c.normalized_names, c.n_tracks, c.track_artist, c.track_album
    )


def hold_out(corpus: TrainSet, n_queries: int, seed: int) -> tuple[TrainSet, Queries]:
    """Challenge-like queries from held-out playlists; the rest is the training set.

    Query i belongs to category i % 10 + 1 and takes that category's number of seeds (first
    positions) from a random playlist longer than that. At most a tenth of the corpus is held out;
    the queries are then repeated in order up to `n_queries`, so every corpus size times the
    same workload. (The bench does not use `harness.challenge.split`: timing needs no ground truth.)
    """
    rng = np.random.default_rng(seed)
    lengths = np.diff(corpus.offsets)
    n_distinct = min(n_queries, corpus.n_playlists // 10)
    need = np.array(SEEDS_PER_CATEGORY)[np.arange(n_distinct) % 10]  # (q,)
    taken = np.zeros(corpus.n_playlists, dtype=bool)
    chosen = np.empty(n_distinct, dtype=np.int64)
    for i in np.argsort(-need, kind="stable"):  # the hardest (100 seeds) first
        pool = np.flatnonzero((lengths > need[i]) & ~taken)
        chosen[i] = pool[rng.integers(len(pool))]
        taken[chosen[i]] = True
    keep = np.flatnonzero(~taken)
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=offsets[1:])
    occ = np.repeat(~taken, lengths)  # (n_occ,)
    train = TrainSet(
        offsets=offsets,
        track_ids=corpus.track_ids[occ],
        titles=corpus.titles[keep],
        n_tracks=corpus.n_tracks,
        track_artist=corpus.track_artist,
        track_album=corpus.track_album,
    )
    seeds = [corpus.playlist(int(p))[:n] for p, n in zip(chosen, need, strict=True)]
    seed_offsets = np.zeros(n_distinct + 1, dtype=np.int64)
    np.cumsum(need, out=seed_offsets[1:])
    titles = corpus.titles[chosen].copy()
    cats = (np.arange(n_distinct) % 10 + 1).astype(np.int8)
    titles[(cats == 4) | (cats == 6)] = None
    queries = Queries(
        pids=chosen,
        seed_offsets=seed_offsets,
        seed_ids=np.concatenate(seeds).astype(np.int32),
        seed_pos=np.concatenate([np.arange(n) for n in need]).astype(np.int32),
        titles=titles,
        categories=cats,
    )
    return train, queries.subset(np.arange(n_queries) % n_distinct)


def save_data(path: Path, train: TrainSet, queries: Queries) -> None:
    """Everything but the training titles, which knn and item_knn never read (a fixed-width
    unicode array of them would dominate the measured RSS)."""
    np.savez(
        path,
        offsets=train.offsets,
        track_ids=train.track_ids,
        n_tracks=np.array(train.n_tracks),
        track_artist=train.track_artist,
        track_album=train.track_album,
        pids=queries.pids,
        seed_offsets=queries.seed_offsets,
        seed_ids=queries.seed_ids,
        seed_pos=queries.seed_pos,
        q_titles=np.array(["" if t is None else t for t in queries.titles], dtype=str),
        q_has_title=np.array([t is not None for t in queries.titles]),
        categories=queries.categories,
    )


def load_data(path: Path) -> tuple[TrainSet, Queries]:
    z = np.load(path, allow_pickle=False)
    train = TrainSet(
        offsets=z["offsets"],
        track_ids=z["track_ids"],
        titles=np.full(len(z["offsets"]) - 1, "", dtype=object),
        n_tracks=int(z["n_tracks"]),
        track_artist=z["track_artist"],
        track_album=z["track_album"],
    )
    titles = z["q_titles"].astype(object)
    titles[~z["q_has_title"]] = None
    queries = Queries(
        pids=z["pids"],
        seed_offsets=z["seed_offsets"],
        seed_ids=z["seed_ids"],
        seed_pos=z["seed_pos"],
        titles=titles,
        categories=z["categories"],
    )
    return train, queries


# ---------------------------------------------------------------- one measurement


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(data: Path, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Child process: load, fit, recommend; print one JSON line."""
    import importlib

    module, cls = MODEL_CLASSES[name].split(":")
    model = getattr(importlib.import_module(module), cls)(**params)
    train, queries = load_data(data)
    base = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(train)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    recs = model.recommend(queries, 500)
    rec_s, rec_cpu = time.perf_counter() - t0, time.process_time() - c0
    with_seeds = queries.n_seeds > 0
    return {
        "model": name,
        "params": model.get_params(),
        "n_train": train.n_playlists,
        "n_tracks": train.n_tracks,
        "n_occurrences": len(train.track_ids),
        "n_queries": len(queries),
        "fit_s": round(fit_s, 3),
        "recommend_s": round(rec_s, 3),
        "total_s": round(fit_s + rec_s, 3),
        # single-threaded code: CPU seconds = wall seconds on an idle core (robust to a busy box)
        "fit_cpu_s": round(fit_cpu, 3),
        "recommend_cpu_s": round(rec_cpu, 3),
        "total_cpu_s": round(fit_cpu + rec_cpu, 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "data_rss_mb": round(base, 1),
        "model_mb": round(learned_mb(model), 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "mean_recs_per_seeded_query": float((recs[with_seeds] >= 0).sum(axis=1).mean()),
    }


def learned_mb(model: Any) -> float:
    """MiB held by the fitted state (arrays and sparse matrices in `_` attributes)."""
    import scipy.sparse as sp

    total = 0
    for key, value in vars(model).items():
        if not key.endswith("_"):
            continue
        if sp.issparse(value):
            total += value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
        elif isinstance(value, np.ndarray):
            total += value.nbytes
    return total / 2**20


def run_child(data: Path, name: str, params: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(data), name, json.dumps(params)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{name} on {data} failed:\n{res.stderr}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def extrapolate(sizes: list[int], values: list[float], target: int) -> float | None:
    """Power-law fit log(v) = a + b log(n) over the measured sizes, evaluated at `target`."""
    if len(sizes) < 2:
        return None
    b, a = np.polyfit(np.log(sizes), np.log(np.maximum(values, 1e-3)), 1)
    return float(np.exp(a + b * np.log(target)))


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--playlists", default="25000,50000,100000", help="comma-separated sizes")
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--models", default="knn,item_knn")
    p.add_argument("--source", choices=("synthetic", "zipf"), default="synthetic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="data folder (default: a temp dir)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "knn.json")
    p.add_argument("--child", nargs=3, metavar=("DATA", "MODEL", "PARAMS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        data, name, params = args.child
        print(json.dumps(measure(Path(data), name, json.loads(params))))
        return 0

    sizes = [int(s) for s in args.playlists.split(",")]
    names = args.models.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-knn-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        data = work / f"{args.source}-{n}-s{args.seed}.npz"
        if not data.exists():
            t0 = time.perf_counter()
            if args.source == "zipf":
                corpus = zipf_corpus(n, args.seed)
            else:
                corpus = synthetic_corpus(n, args.seed, work)
            save_data(data, *hold_out(corpus, args.queries, args.seed))
            print(f"{args.source} {n:,} playlists: data in {time.perf_counter() - t0:.1f} s")
        for name in names:
            row = run_child(data, name, {}) | {"n_playlists": n, "source": args.source}
            rows.append(row)
            print(
                f"{name:9s} {n:>9,} playlists  fit {row['fit_cpu_s']:7.1f} s  "
                f"{row['n_queries']:,} queries {row['recommend_cpu_s']:7.1f} s (CPU; wall "
                f"{row['fit_s']:.1f} + {row['recommend_s']:.1f} s)  "
                f"peak RSS {row['peak_rss_mb']:7.0f} MiB (data {row['data_rss_mb']:.0f}, "
                f"model {row['model_mb']:.0f})"
            )
    extra = {}
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        ns = [r["n_playlists"] for r in mine]
        extra[name] = {
            key: extrapolate(ns, [r[key] for r in mine], 1_000_000)
            for key in ("fit_cpu_s", "recommend_cpu_s", "total_cpu_s", "peak_rss_mb", "model_mb")
        }
        print(f"{name:9s} extrapolated to 1M playlists: " + json.dumps(extra[name]))
    write_json(
        args.out,
        {
            "source": args.source,
            "seed": args.seed,
            "machine": {"cpus": len(os.sched_getaffinity(0))},
            "runs": rows,
            "extrapolated_1m": extra,
            "note": "power-law fit over the measured sizes; the 1M corpus was not run",
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
