"""Synthetic MPD benchmark: generation time and the statistics against the published ones.

Writes N playlists with `harness.data.synthetic.write_synthetic`, times it, measures the written files
(`measure_slices`: every playlist checked against the dataset's rules), fits the vocabulary
growth (Heaps) on sampled prefixes to extrapolate to the full 1M, runs a small
collaborative-filtering sanity check (playlist k-NN vs popularity vs title popularity), and
writes everything to `bench/out/synth.json`.

    python bench/bench_synth.py --playlists 50000 [--workers 2] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from harness.atomic import write_json
from harness.data.corpus import normalize_name
from harness.data.synthetic import PUBLISHED, SyntheticMPD, measure_slices, write_synthetic

FULL = 1_000_000
OUT = Path(__file__).parent / "out" / "synth.json"


def heaps(n_playlists: int, seed: int, points: int = 4) -> dict[str, Any]:
    """Unique tracks/artists/albums on prefixes of the sampled corpus, and a power-law fit."""
    gen = SyntheticMPD(seed)
    cat = gen.catalogue
    seen = np.zeros(cat.n_tracks, dtype=bool)
    n_slices = max(1, n_playlists // 1000)
    marks = sorted({max(1, round(n_slices / 2**k)) for k in range(points)} | {n_slices})
    rows = []
    for i in range(n_slices):
        seen[gen.sample_slice(i, 1000).tracks] = True
        if i + 1 in marks:
            used = np.flatnonzero(seen)
            rows.append(
                {
                    "playlists": (i + 1) * 1000,
                    "unique_tracks": len(used),
                    "unique_artists": len(np.unique(cat.track_artist[used])),
                    "unique_albums": len(np.unique(cat.track_album[used])),
                }
            )
    fit = {}
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        for key in ("unique_tracks", "unique_artists", "unique_albums"):
            beta = float(np.log(b[key] / a[key]) / np.log(b["playlists"] / a["playlists"]))
            fit[key] = {
                "exponent": round(beta, 3),
                "extrapolated_1m": round(b[key] * (FULL / b["playlists"]) ** beta),
                "published_1m": PUBLISHED[key],
            }
    # The exponent falls as N grows, so the two-point fit overshoots; a quadratic in log-log
    # over all prefixes follows the curvature.
    curved = {}
    if len(rows) >= 3:
        x = np.log([r["playlists"] for r in rows])
        for key in ("unique_tracks", "unique_artists", "unique_albums"):
            coef = np.polyfit(x, np.log([r[key] for r in rows]), 2)
            curved[key] = round(float(np.exp(np.polyval(coef, np.log(FULL)))))
    return {"prefixes": rows, "fit_last_two": fit, "loglog_quadratic_1m": curved}


def cf_sanity(n_playlists: int, seed: int, n_test: int = 500) -> dict[str, Any]:
    """R-precision of playlist k-NN, popularity and title popularity on held-out halves."""
    gen = SyntheticMPD(seed)
    n_slices = max(1, min(n_playlists, 20_000) // 1000)
    samples = [gen.sample_slice(i, 1000) for i in range(n_slices)]
    lengths = np.concatenate([np.diff(s.offsets) for s in samples])
    _, tracks = np.unique(np.concatenate([s.tracks for s in samples]), return_inverse=True)
    titles = [normalize_name(t) for s in samples for t in s.names]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    n_train = len(lengths) - n_test
    n_tracks = int(tracks.max()) + 1
    rows = np.repeat(np.arange(n_train), lengths[:n_train])
    x = sp.csr_matrix(
        (np.ones(offsets[n_train]), (rows, tracks[: offsets[n_train]])), shape=(n_train, n_tracks)
    )
    x.data[:] = 1.0
    pop = np.asarray(x.sum(axis=0)).ravel()
    by_title: dict[str, Counter[int]] = {}
    for i in range(n_train):
        by_title.setdefault(titles[i], Counter()).update(set(tracks[offsets[i] : offsets[i + 1]]))

    def top(score: np.ndarray) -> np.ndarray:
        i = np.argpartition(-score, 500)[:500]
        return i[np.argsort(-score[i], kind="stable")]

    def rp(recs: np.ndarray, g: np.ndarray) -> float:
        return len(np.intersect1d(recs[: len(g)], g)) / len(g)

    res: dict[str, list[float]] = {"playlist_knn": [], "popularity": [], "title_popularity": []}
    global_top = top(pop.astype(np.float64))
    for i in range(n_train, len(lengths)):
        t = tracks[offsets[i] : offsets[i + 1]]
        h = min(len(t) // 2, 25)
        seeds, g = t[:h], np.setdiff1d(t[h:], t[:h])
        if not len(g):
            continue
        q = np.zeros(n_tracks)
        q[seeds] = 1.0
        score = x.T @ ((x @ q) ** 2) + 1e-6 * pop  # overlap-squared weighted neighbours
        score[seeds] = -1
        p = pop.astype(np.float64)
        p[seeds] = -1
        res["playlist_knn"].append(rp(top(score), g))
        res["popularity"].append(rp(top(p), g))
        c = by_title.get(titles[i])
        recs = np.asarray([k for k, _ in c.most_common(500)]) if c and len(c) >= 600 else global_top
        res["title_popularity"].append(rp(recs, g))
    out: dict[str, Any] = {k: round(float(np.mean(v)), 4) for k, v in res.items()}
    out["train_playlists"] = n_train
    out["note"] = "tracks-only R-precision; seeds = first min(L/2, 25) tracks; 500 test playlists"
    return out


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--playlists", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--heaps-playlists",
        type=int,
        help="sample this many playlists (no JSON) for the vocabulary-growth fit (default N)",
    )
    ap.add_argument("--keep", type=Path, help="write the slices here and keep them")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    out_dir = args.keep or tmp / "mpd"
    try:
        t0 = time.perf_counter()
        cpu0 = _cpu_seconds()
        paths = write_synthetic(out_dir, args.playlists, args.seed, workers=args.workers)
        seconds = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        size = sum(p.stat().st_size for p in paths)
        t1 = time.perf_counter()
        stats = measure_slices(paths)
        measure_s = time.perf_counter() - t1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "playlists": args.playlists,
        "seed": args.seed,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "generate_seconds": round(seconds, 1),
        # CPU seconds of the main process and its workers: the wall time on a shared machine
        # can be much longer than the work itself.
        "generate_cpu_seconds": round(cpu, 1),
        "extrapolated_1m_minutes_from_cpu": round(
            cpu * FULL / args.playlists / 60 / max(1, args.workers), 1
        ),
        "playlists_per_second": round(args.playlists / seconds),
        "extrapolated_1m_minutes": round(seconds * FULL / args.playlists / 60, 1),
        "bytes": size,
        "extrapolated_1m_gb": round(size * FULL / args.playlists / 1e9, 1),
        "peak_rss_mb": {"main": round(rss_self), "largest_worker": round(rss_children)},
        "measure_seconds": round(measure_s, 1),
        "stats": stats,
        "published_1m": PUBLISHED,
        "heaps": heaps(args.heaps_playlists or args.playlists, args.seed),
        "cf_sanity": cf_sanity(args.playlists, args.seed),
    }
    write_json(args.out, result)
    keys = (
        "generate_seconds",
        "generate_cpu_seconds",
        "extrapolated_1m_minutes",
        "extrapolated_1m_minutes_from_cpu",
        "extrapolated_1m_gb",
        "peak_rss_mb",
    )
    for k in keys:
        print(f"{k}: {result[k]}")
    for k in ("mean_length", "length_mode", "unique_tracks", "unique_artists", "unique_albums"):
        print(f"{k}: {stats[k]}")
    print(f"heaps: {result['heaps']['fit_last_two']}")
    print(f"heaps (log-log quadratic, 1M): {result['heaps']['loglog_quadratic_1m']}")
    print(f"cf_sanity: {result['cf_sanity']}")
    print(f"violations: {stats['violations']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
