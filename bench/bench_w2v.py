"""Benchmark and tune the skip-gram models: gensim `w2v` (and the PyTorch `sgns` alongside).

Speed (writes bench/out/w2v.json):

    python bench/bench_w2v.py [--playlists 100000] [--source synthetic|zipf] [--workers 2]
        [--epochs 2] [--modes file,iterable] [--with-sgns] [--recommend-tracks 2262292]

Prepares one training corpus, then fits each variant in a fresh subprocess, so its peak RSS
(getrusage) belongs to that fit alone; the RSS after loading the corpus is reported beside it.
Training words/s (raw playlist tokens per second, as gensim counts them) and per-epoch seconds
are extrapolated to the full MPD (66,346,428 tokens per epoch) at the measured rate; model
memory is extrapolated linearly in vocabulary size (2,262,292 tracks). `--with-sgns` fits
`models.sgns.SGNSRecommender` on the same corpus with the same shared hyperparameters (skipped
with a message when it cannot be imported). `--recommend-tracks N` also times
`recommend_from_vectors` for 1,000 queries over N random unit vectors (the MPD catalogue size).

Sweep (writes bench/out/w2v_sweep.json, one entry per configuration, reused on rerun):

    python bench/bench_w2v.py --sweep [--preset default | --playlists N]
        [--grid "ns_exponent=-0.5,0,0.5,0.75 window=3,5,10 epochs=10"]... [--jobs N]
        [--data SWEEP.npz] [--coverage none]

Each configuration of each grid's product (--grid repeats) is fitted on the training part of a
harness split of the synthetic MPD and scored with harness.challenge.metrics on its test playlists (seedless
queries go to the title baseline, empty slots are backfilled with popularity, as `evaluate` does).
The split is made once and saved (--data, npz), so the sweep itself needs no corpus code.

Sources: synthetic = `harness.data.synthetic.write_synthetic` (cached under data/synthetic/);
zipf = a random corpus made here (MPD-like lengths, Zipf popularity), for speed only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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

from harness.atomic import atomic_dir, read_json, write_json  # noqa: E402
from models.base import Queries, TrainSet  # noqa: E402

MPD_TOKENS = 66_346_428
MPD_TRACKS = 2_262_292
MPD_PLAYLISTS = 1_000_000
OUT = ROOT / "bench" / "out"
SYNTHETIC_ROOT = ROOT / "data" / "synthetic"
# the hyperparameters both skip-grams share (same names, same meaning)
DEFAULT_GRID = "ns_exponent=-0.5,0,0.5,0.75 window=3,5,10 epochs=10"
SHARED = ("dim", "window", "negative", "ns_exponent", "sample", "epochs", "min_count", "seed")


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- data


def zipf_train(n_playlists: int, seed: int) -> TrainSet:
    """Random playlists: lengths 5..250 (mean ~66), popularity ∝ (rank + 10)^-0.9."""
    rng = np.random.default_rng(seed)
    n_tracks = int(n_playlists * MPD_TRACKS / MPD_PLAYLISTS)
    lengths = np.clip(np.round(rng.lognormal(np.log(48), 0.8, n_playlists)), 5, 250).astype(int)
    offsets = np.zeros(n_playlists + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cum = np.cumsum((np.arange(n_tracks) + 10.0) ** -0.9)  # (T,)
    ranks = np.searchsorted(cum, rng.random(int(offsets[-1])) * cum[-1])  # (n_occ,)
    ids = rng.permutation(n_tracks)[np.minimum(ranks, n_tracks - 1)].astype(np.int32)
    return TrainSet(
        offsets=offsets,
        track_ids=ids,
        titles=np.array(["zipf"] * n_playlists, dtype=object),
        n_tracks=n_tracks,
        track_artist=np.zeros(n_tracks, dtype=np.int32),
        track_album=np.zeros(n_tracks, dtype=np.int32),
    )


def synthetic_dir(n_playlists: int, seed: int) -> Path:
    """The synthetic MPD with n playlists (a preset's folder when the size is a preset's)."""
    from harness.data.synthetic import PRESETS, write_synthetic

    names = [p for p, n in PRESETS.items() if n == n_playlists]
    target = SYNTHETIC_ROOT / (f"{names[0]}-s{seed}" if names else f"n{n_playlists}-s{seed}")
    if not target.is_dir():
        print(f"generating {target} ({n_playlists:,} playlists)", file=sys.stderr)
        with atomic_dir(target) as tmp:
            write_synthetic(tmp, n_playlists, seed)
    return target


def synthetic_train(n_playlists: int, seed: int) -> TrainSet:
    """Every playlist of the synthetic MPD (speed runs need no split)."""
    from harness.data.ingest import load_corpus
    from harness.run.sources import whole_train_set

    return whole_train_set(load_corpus(synthetic_dir(n_playlists, seed)))


def save_train(path: Path, train: TrainSet) -> None:
    """The arrays a fit needs (titles are not used by the skip-grams)."""
    np.savez(path, offsets=train.offsets, track_ids=train.track_ids, n_tracks=train.n_tracks)


def load_train(path: Path) -> TrainSet:
    with np.load(path, allow_pickle=False) as z:
        n = len(z["offsets"]) - 1
        n_tracks = int(z["n_tracks"])
        return TrainSet(
            offsets=z["offsets"],
            track_ids=z["track_ids"],
            titles=np.array([""] * n, dtype=object),
            n_tracks=n_tracks,
            track_artist=np.zeros(n_tracks, dtype=np.int32),
            track_album=np.zeros(n_tracks, dtype=np.int32),
        )


# ---------------------------------------------------------------- speed


def child(data: Path, model: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fit one model on the saved corpus (runs in its own process); report time and memory."""
    if model == "w2v":
        import gensim.models  # noqa: F401 - imported before the baseline RSS is read

        from models.w2v import W2VRecommender

        m: Any = W2VRecommender(**params)
    else:
        import torch  # noqa: F401
        from sgns_knobs import build_sgns

        m = build_sgns(**params)  # ns_exponent (and any knob in --sgns-params) is an sgns knob
    train = load_train(data)
    base = rss_mb()
    t0 = time.perf_counter()
    m.fit(train)
    fit_s = time.perf_counter() - t0
    info = dict(getattr(m, "fit_info_", {}) or {})
    tokens = int(train.offsets[-1])
    epochs = int(params.get("epochs", m.epochs))
    epoch_s = info.get("epoch_s") or [fit_s / epochs]
    vocab = int(np.any(m.vectors_ != 0, axis=1).sum())
    # gensim reports raw words / training seconds; for others use fit time (includes setup)
    wps = info.get("words_per_s") or tokens * epochs / fit_s
    peak = rss_mb()
    model_mb = peak - base
    return {
        "model": model,
        "params": params,
        "n_playlists": train.n_playlists,
        "tokens_per_epoch": tokens,
        "vocab": vocab,
        "fit_s": round(fit_s, 2),
        "words_per_s": round(float(wps)),
        "epoch_s": [round(float(t), 2) for t in epoch_s],
        "rss_after_load_mb": round(base, 1),
        "peak_rss_mb": round(peak, 1),
        "fit_info": info,
        "full_mpd_estimate": {
            "epoch_s": round(MPD_TOKENS / float(wps), 1),
            "fit_s_at_these_epochs": round(MPD_TOKENS * epochs / float(wps), 1),
            "model_mb": round(model_mb * MPD_TRACKS / max(vocab, 1), 1),
            "note": "time linear in tokens at the measured rate; memory above the loaded "
            "corpus linear in vocabulary",
        },
    }


def run_child(
    data: Path, model: str, params: dict[str, Any], timeout: float | None = None
) -> dict[str, Any] | None:
    """`child` in a fresh process; None (with the reason on stderr) if it fails or times out."""
    cmd = [sys.executable, __file__, "--child", str(data), model, json.dumps(params)]
    env = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{model} {params}: stopped after {timeout} s", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(f"{model} {params}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def time_recommend(n_tracks: int, dim: int, n_queries: int, device: str) -> dict[str, Any]:
    """Seconds for `recommend_from_vectors` over n_tracks random unit vectors."""
    from models.vectors import normalize_rows, recommend_from_vectors

    rng = np.random.default_rng(0)
    vectors = normalize_rows(rng.standard_normal((n_tracks, dim), dtype=np.float32))
    n_seeds = np.array([1, 5, 10, 25, 100])[np.arange(n_queries) % 5]
    offsets = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(n_seeds, out=offsets[1:])
    queries = Queries(
        pids=np.arange(n_queries, dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=rng.integers(0, n_tracks, int(offsets[-1])).astype(np.int32),
        seed_pos=np.zeros(int(offsets[-1]), dtype=np.int32),
        titles=np.array([None] * n_queries, dtype=object),
        categories=np.zeros(n_queries, dtype=np.int8),
    )
    recommend_from_vectors(vectors, queries.subset(np.arange(1)), 500, device=device)  # warm-up
    t0 = time.perf_counter()
    recs = recommend_from_vectors(vectors, queries, 500, device=device)
    seconds = time.perf_counter() - t0
    assert (recs >= 0).all()
    return {
        "n_tracks": n_tracks,
        "dim": dim,
        "n_queries": n_queries,
        "device": device,
        "seconds": round(seconds, 2),
        "seconds_per_10k_queries": round(seconds * 10_000 / n_queries, 1),
    }


def speed(args: argparse.Namespace) -> int:
    """Fit w2v (each corpus mode) and optionally sgns on one corpus; write bench/out/w2v.json."""
    t0 = time.perf_counter()
    if args.data:
        train = load_train(Path(args.data))
    elif args.source == "zipf":
        train = zipf_train(args.playlists, args.seed)
    else:
        train = synthetic_train(args.playlists, args.seed)
    prep_s = time.perf_counter() - t0
    if args.save_data:
        with open(args.save_data, "wb") as f:
            np.savez_compressed(
                f, offsets=train.offsets, track_ids=train.track_ids, n_tracks=train.n_tracks
            )
        return 0
    common = {
        "dim": args.dim,
        "window": args.window,
        "negative": args.negative,
        "ns_exponent": args.ns_exponent,
        "sample": args.sample,
        "epochs": args.epochs,
        "min_count": args.min_count,
        "seed": args.seed,
    }
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-w2v-") as tmp:
        data = Path(tmp) / "train.npz"
        save_train(data, train)
        for mode in args.modes.split(","):
            print(f"w2v corpus={mode} workers={args.workers} ...", file=sys.stderr)
            params = {**common, "workers": args.workers, "corpus": mode}
            r = run_child(data, "w2v", params, args.child_timeout)
            if r is not None:
                runs.append(r)
                print(summary(r), file=sys.stderr)
        if args.with_sgns:
            try:
                import models.sgns  # noqa: F401
            except Exception as e:  # noqa: BLE001 - any import failure means "skip"
                print(f"--with-sgns: models.sgns not importable ({e}); skipped", file=sys.stderr)
            else:
                print("sgns ...", file=sys.stderr)
                params = {**common, **json.loads(args.sgns_params)}
                r = run_child(data, "sgns", params, args.child_timeout)
                if r is not None:
                    runs.append(r)
                    print(summary(r), file=sys.stderr)
    rec = []
    if args.recommend_tracks:
        for device in args.device.split(","):
            r = time_recommend(args.recommend_tracks, args.dim, args.recommend_queries, device)
            rec.append(r)
            print(f"recommend: {r}", file=sys.stderr)
    report = {
        "source": args.data or args.source,
        "n_playlists": train.n_playlists,
        "tokens_per_epoch": int(train.offsets[-1]),
        "n_tracks": train.n_tracks,
        "prepare_corpus_s": round(prep_s, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
        "runs": runs,
        "recommend": rec,
    }
    out = Path(args.out or OUT / "w2v.json")
    write_json(out, report)
    print(f"wrote {out}", file=sys.stderr)
    return 0 if runs else 1


def summary(r: dict[str, Any]) -> str:
    est = r["full_mpd_estimate"]
    mode = r["params"].get("corpus", r["params"].get("device", ""))
    return (
        f"  {r['model']:<4} {mode:<9} {r['words_per_s']:>10,} words/s  epochs {r['epoch_s']} s  "
        f"peak {r['peak_rss_mb']:,.0f} MB (after load {r['rss_after_load_mb']:,.0f})  "
        f"full MPD: {est['epoch_s']:,.0f} s/epoch, model ~{est['model_mb']:,.0f} MB"
    )


# ---------------------------------------------------------------- sweep


def parse_grid(text: str) -> list[dict[str, Any]]:
    """`"a=1,2 b=x"` -> [{a: 1, b: "x"}, {a: 2, b: "x"}] (numbers parsed as int or float)."""

    def value(s: str) -> Any:
        for cast in (int, float):
            try:
                return cast(s)
            except ValueError:
                pass
        return s

    axes = {}
    for part in text.split():
        name, _, values = part.partition("=")
        axes[name] = [value(v) for v in values.split(",")]
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def config_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def prepare_sweep(args: argparse.Namespace, path: Path) -> None:
    """Split the synthetic MPD once and save what scoring needs (train, seeds, holdouts, the
    title baseline's answers to seedless queries, popularity) in one npz: the sweep itself then
    needs neither the corpus nor the split code."""
    from harness.challenge.split import make_split, train_set
    from harness.data.ingest import load_corpus
    from harness.data.synthetic import PRESETS
    from models.popular import popularity_ranking
    from models.title import TitleRecommender

    n = PRESETS[args.preset] if args.preset else args.playlists
    corpus = load_corpus(synthetic_dir(n, args.seed))
    extra = {} if args.coverage is None else {"coverage": args.coverage}
    split = make_split(corpus, seed=args.seed, per_category=args.per_category, **extra)
    train, q = train_set(corpus, split), split.queries
    title_recs = TitleRecommender().fit(train).recommend(q, args.k)  # (n_queries, k)
    with open(path, "wb") as f:
        np.savez_compressed(
            f,
            offsets=train.offsets,
            track_ids=train.track_ids,
            n_tracks=train.n_tracks,
            n_playlists_corpus=n,
            seed=args.seed,
            per_category=-1 if args.per_category is None else args.per_category,
            coverage="" if args.coverage is None else args.coverage,
            pids=q.pids,
            seed_offsets=q.seed_offsets,
            seed_ids=q.seed_ids,
            categories=q.categories,
            holdout_offsets=split.holdout_offsets,
            holdout_ids=split.holdout_ids,
            track_artist=corpus.track_artist,
            title_recs=title_recs,
            ranking=popularity_ranking(train),
        )


class SweepData:
    """The arrays `prepare_sweep` saved, with the train set and queries rebuilt."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.z = {name: z[name] for name in z.files}
        z = self.z
        self.train = TrainSet(
            offsets=z["offsets"],
            track_ids=z["track_ids"],
            titles=np.array([""] * (len(z["offsets"]) - 1), dtype=object),
            n_tracks=int(z["n_tracks"]),
            track_artist=z["track_artist"],
            track_album=np.zeros(int(z["n_tracks"]), dtype=np.int32),
        )
        n = len(z["pids"])
        self.queries = Queries(
            pids=z["pids"],
            seed_offsets=z["seed_offsets"],
            seed_ids=z["seed_ids"],
            seed_pos=np.zeros(len(z["seed_ids"]), dtype=np.int32),
            titles=np.array([None] * n, dtype=object),
            categories=z["categories"],
        )
        self.k = int(z["title_recs"].shape[1])

    def key(self) -> dict[str, Any]:
        z = self.z
        return {
            "n_playlists": int(z["n_playlists_corpus"]),
            "seed": int(z["seed"]),
            "per_category": int(z["per_category"]),
            "coverage": str(z["coverage"]),
            "n_queries": len(self.queries),
            "k": self.k,
        }

    def score(self, own: np.ndarray) -> dict[str, float]:
        """Metrics of `own` recommendations for seeded queries + the title baseline's for seedless
        ones, after popularity backfill (as `evaluate` does)."""
        from harness.challenge.metrics import compute_metrics
        from harness.run.checks import backfill

        z, q = self.z, self.queries
        seeded = q.n_seeds > 0
        recs = z["title_recs"].copy()  # (n, k)
        recs[seeded] = own[seeded]
        recs, _ = backfill(recs, q, z["ranking"], self.k)
        art = z["track_artist"]
        hold = z["holdout_ids"]
        m = compute_metrics(recs, z["holdout_offsets"], hold, art[hold], art[recs])
        return {
            "r_precision": float(m["r_precision"].mean()),
            "ndcg": float(m["ndcg"].mean()),
            "clicks": float(m["clicks"].mean()),
            "r_precision_seeded": float(m["r_precision"][seeded].mean()),
            "ndcg_seeded": float(m["ndcg"][seeded].mean()),
        }


def sweep_one(data: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Fit and score one configuration (runs in a worker process)."""
    from models.w2v import W2VRecommender

    d = SweepData(data)
    t0 = time.perf_counter()
    model = W2VRecommender(**params).fit(d.train)
    fit_s = time.perf_counter() - t0
    own = np.full((len(d.queries), d.k), -1, dtype=np.int32)
    seeded = np.flatnonzero(d.queries.n_seeds > 0)
    own[seeded] = model.recommend(d.queries.subset(seeded), d.k)
    return {
        "params": params,
        "all_params": model.get_params(),
        **d.score(own),
        "fit_s": round(fit_s, 1),
        "words_per_s": model.fit_info_["words_per_s"],
    }


def sweep(args: argparse.Namespace) -> int:
    """Score each grid configuration (in `--jobs` processes); results go to the JSON as they
    arrive, and configurations already there are skipped."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    data = Path(args.data) if args.data else OUT / "w2v_sweep_data.npz"
    if not args.data or not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        prepare_sweep(args, data)
    d = SweepData(data)
    out = Path(args.out or OUT / "w2v_sweep.json")
    doc = read_json(out) if out.exists() else {}
    if doc.get("data") != d.key():
        doc = {"data": d.key(), "baselines": {}, "results": {}}
    doc["baselines"]["title"] = d.score(d.z["title_recs"])
    # popularity for seeded queries (title for seedless, as for w2v)
    doc["baselines"]["popular"] = d.score(np.full_like(d.z["title_recs"], -1))
    base = {"workers": args.workers, **json.loads(args.fixed)}
    grids = args.grid or [DEFAULT_GRID]
    todo = [{**base, **p} for g in grids for p in parse_grid(g)]
    todo = [p for p in todo if config_key(p) not in doc["results"]]
    import multiprocessing

    # spawn: fresh interpreters, no forked OpenMP/torch thread state
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(sweep_one, data, p) for p in todo]
        for fut in as_completed(futures):
            r = fut.result()
            doc["results"][config_key(r["params"])] = r
            write_json(out, doc)  # after each one: an interrupted sweep keeps its results
            print(
                f"{config_key(r['params'])}: R-prec {r['r_precision']:.4f} NDCG {r['ndcg']:.4f} "
                f"clicks {r['clicks']:.2f} (fit {r['fit_s']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    print(markdown_table(doc))
    return 0


def markdown_table(doc: dict[str, Any]) -> str:
    """The sweep results as a Markdown table, best R-precision first; baselines last."""
    rows = sorted(doc["results"].values(), key=lambda r: -r["r_precision"])
    from models.w2v import W2VRecommender

    defaults = W2VRecommender().get_params()  # for rows fitted before a parameter existed
    for r in rows:
        r["all_params"] = {**defaults, **r["all_params"]} if "all_params" in r else r["params"]
    names = sorted({p for r in rows for p in r["all_params"]})
    varying = [p for p in names if len({json.dumps(r["all_params"].get(p)) for r in rows}) > 1]
    head = ["model", *varying, "R-prec", "NDCG", "clicks", "R-prec seeded", "fit s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cells(name: str, params: list[str], r: dict[str, Any], fit: str) -> str:
        scores = [f"{r['r_precision']:.4f}", f"{r['ndcg']:.4f}", f"{r['clicks']:.2f}"]
        return "| " + " | ".join([name, *params, *scores, f"{r['r_precision_seeded']:.4f}", fit])

    for r in rows:
        params = [str(r["all_params"].get(p)) for p in varying]
        lines.append(cells("w2v", params, r, f"{r['fit_s']:.0f}") + " |")
    for name, b in doc.get("baselines", {}).items():
        lines.append(cells(name, [""] * len(varying), b, "") + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]))))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sweep", action="store_true", help="tune on a split instead of timing")
    p.add_argument("--source", choices=("synthetic", "zipf"), default="synthetic")
    p.add_argument("--playlists", type=int, default=100_000)
    p.add_argument(
        "--preset", default=None, help="sweep: a synthetic preset instead of --playlists"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--modes", default="file,iterable", help="w2v corpus modes to time")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--ns-exponent", type=float, default=-0.5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--min-count", type=int, default=1)
    p.add_argument("--with-sgns", action="store_true", help="also time models.sgns")
    p.add_argument("--sgns-params", default="{}", help="extra sgns parameters as JSON")
    p.add_argument("--recommend-tracks", type=int, default=0, help="also time recommend over N")
    p.add_argument("--recommend-queries", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="torch device(s) for the recommend timing")
    p.add_argument("--child-timeout", type=float, default=None, help="speed: seconds per fit")
    p.add_argument("--grid", action="append", help=f"sweep: a grid (repeatable); {DEFAULT_GRID!r}")
    p.add_argument("--fixed", default="{}", help="sweep: JSON of parameters fixed for every run")
    p.add_argument("--per-category", type=int, default=None)
    p.add_argument("--coverage", default=None, help="sweep: make_split's coverage setting")
    p.add_argument("--k", type=int, default=500)
    p.add_argument("--jobs", type=int, default=1, help="sweep: configurations fitted at once")
    p.add_argument(
        "--data", default=None, help="a saved corpus (.npz): speed (--save-data) or sweep"
    )
    p.add_argument("--save-data", default=None, help="speed: save the corpus here and stop")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    return sweep(args) if args.sweep else speed(args)


if __name__ == "__main__":
    raise SystemExit(main())
