"""Benchmark the metrics and the submission path on a challenge-sized test set.

Usage: python bench/bench_metrics.py [--n-per-category 1000] [--repeat 5] [--no-files]

Data (random, seeded): ten categories with the challenge's seed counts and num_tracks ranges
(mpd-facts §2; lengths from a normal around the published mean/std, clipped to the range), so
|G| = num_tracks - seeds has the real test set's spread (5..225, mean about 70).
Tracks follow a Zipf-like popularity over the MPD's 2,262,292 tracks, artists
t % 295,860. Each row of R holds 500 distinct tracks: about 30% of its held-out tracks at
top-heavy random ranks, the rest popular filler.

Measures `compute_metrics` on the (n, 500) matrix (best of --repeat runs; the target is <= 2 s for
10,000 x 500) and, unless --no-files, `write_submission` (.csv.gz), `verify_submission`, and
`score_submission` end to end on a split folder written here. Writes bench/out/metrics.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.atomic import write_json  # noqa: E402
from harness.challenge.metrics import METRICS, compute_metrics  # noqa: E402
from harness.challenge.scoring import score_submission  # noqa: E402
from harness.challenge.submission import verify_submission, write_submission  # noqa: E402

N_TRACKS_MPD = 2_262_292
N_ARTISTS_MPD = 295_860
# (seeds, num_tracks low, high, mean, std) per category 1..10 (mpd-facts §2; cat 3 has no
# published mean/std: the middle of its range and a quarter of its width are used).
CATEGORIES = [
    (0, 10, 50, 28.6, 11.2),
    (1, 10, 78, 23.8, 8.7),
    (5, 10, 100, 55.0, 22.5),
    (5, 40, 100, 63.0, 16.5),
    (10, 40, 100, 63.5, 17.2),
    (10, 40, 100, 63.6, 16.7),
    (25, 101, 250, 150.0, 38.6),
    (25, 101, 250, 151.7, 38.6),
    (100, 150, 250, 189.0, 28.0),
    (100, 150, 250, 187.5, 27.0),
]
K = 500


def make_data(n_per_category: int, seed: int) -> dict[str, Any]:
    """Seeds, holdouts and 500 recommendations per playlist, as track ids."""
    rng = np.random.default_rng(seed)
    pop = (np.arange(N_TRACKS_MPD) + 10.0) ** -0.9
    cum = np.cumsum(pop / pop.sum())
    perm = rng.permutation(N_TRACKS_MPD)  # popularity rank -> track id

    def draw(size: int) -> np.ndarray:
        return perm[np.minimum(np.searchsorted(cum, rng.random(size)), N_TRACKS_MPD - 1)]

    top_heavy = 1.0 / np.arange(1, K + 1) ** 0.7  # rank weights of the hits
    top_heavy /= top_heavy.sum()
    seeds, holdouts, recs, cats = [], [], [], []
    for c, (n_seeds, lo, hi, mean, std) in enumerate(CATEGORIES, start=1):
        lengths = np.clip(np.round(rng.normal(mean, std, n_per_category)), lo, hi).astype(int)
        for length in lengths:
            tracks = np.unique(draw(int(length) * 2))[: int(length)]
            while len(tracks) < length:  # rare: too many repeats among popular tracks
                tracks = np.unique(np.concatenate([tracks, draw(int(length))]))[: int(length)]
            tracks = rng.permutation(tracks)
            s, g = tracks[:n_seeds], tracks[n_seeds:]
            found = g[rng.random(len(g)) < 0.3]
            filler = np.setdiff1d(np.unique(draw(3 * K)), tracks, assume_unique=True)
            filler = rng.permutation(filler)[: K - len(found)]
            row = np.empty(K, dtype=np.int64)
            at = np.sort(rng.choice(K, size=len(found), replace=False, p=top_heavy))
            mask = np.zeros(K, dtype=bool)
            mask[at] = True
            row[mask] = found
            row[~mask] = filler
            seeds.append(s)
            holdouts.append(g)
            recs.append(row)
            cats.append(c)
    offsets = np.concatenate([[0], np.cumsum([len(g) for g in holdouts])])
    return {
        "seeds": seeds,
        "holdouts": holdouts,
        "gt_offsets": offsets,
        "gt_tracks": np.concatenate(holdouts),
        "recs": np.stack(recs),  # (n, 500)
        "categories": np.asarray(cats),
    }


def bench_metrics(data: dict[str, Any], repeat: int) -> dict[str, Any]:
    artist = np.arange(N_TRACKS_MPD) % N_ARTISTS_MPD
    recs, gt = data["recs"], data["gt_tracks"]
    args = (recs, data["gt_offsets"], gt, artist[gt], artist[recs])
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        values = compute_metrics(*args)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "seconds_best": min(times),
        "seconds_all": times,
        "cpu_seconds_best": min(cpu),
        "means": {m: float(values[m].mean()) for m in METRICS},
    }


def uri(t: int) -> str:
    return f"spotify:track:{t:022d}"


def artist_uri(t: int) -> str:
    return f"spotify:artist:{t % N_ARTISTS_MPD:022d}"


def _since(t0: float, c0: float) -> tuple[float, float]:
    """(wall, CPU) seconds since t0 / c0: CPU time is the fairer number on a shared machine."""
    return time.perf_counter() - t0, time.process_time() - c0


def bench_files(data: dict[str, Any], work: Path) -> dict[str, Any]:
    n = len(data["recs"])
    pids = list(range(n))
    playlists = [
        {"pid": pid, "tracks": [{"pos": j, "track_uri": uri(int(t))} for j, t in enumerate(s)]}
        for pid, s in zip(pids, data["seeds"], strict=True)
    ]
    (work / "challenge_set.json").write_bytes(orjson.dumps({"playlists": playlists}))
    gt = [
        {
            "pid": pid,
            "category": int(c),
            "holdouts": [{"track_uri": uri(int(t)), "artist_uri": artist_uri(int(t))} for t in g],
        }
        for pid, c, g in zip(pids, data["categories"], data["holdouts"], strict=True)
    ]
    (work / "ground_truth.json").write_bytes(orjson.dumps({"playlists": gt}))
    catalogue = np.unique(np.concatenate([data["recs"].ravel(), data["gt_tracks"]]))
    pq.write_table(
        pa.table(
            {
                "track_uri": [uri(int(t)) for t in catalogue],
                "artist_uri": [artist_uri(int(t)) for t in catalogue],
            }
        ),
        work / "track_artists.parquet",
    )
    uris = np.array([uri(t) for t in range(int(data["recs"].max()) + 1)], dtype=object)
    sub = work / "sub.csv.gz"
    out: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    write_submission(sub, pids, uris[data["recs"]], "bench", "bench@example.com")
    out["write_submission_s"], out["write_submission_cpu_s"] = _since(t0, c0)
    out["submission_mb"] = sub.stat().st_size / 1e6
    t0, c0 = time.perf_counter(), time.process_time()
    report = verify_submission(sub, work / "challenge_set.json")
    out["verify_s"], out["verify_cpu_s"] = _since(t0, c0)
    assert report.ok, str(report)
    t0, c0 = time.perf_counter(), time.process_time()
    scored = score_submission(sub, work)
    out["score_s"], out["score_cpu_s"] = _since(t0, c0)
    out["score_overall"] = scored.result["overall"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-category", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-files", action="store_true", help="skip the submission-file timings")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = make_data(args.n_per_category, args.seed)
    sizes = np.diff(data["gt_offsets"])
    result: dict[str, Any] = {
        "n_playlists": len(data["recs"]),
        "k": K,
        "holdouts": {"mean": float(sizes.mean()), "min": int(sizes.min()), "max": int(sizes.max())},
        "data_s": time.perf_counter() - t0,
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
        },
        "metrics": bench_metrics(data, args.repeat),
    }
    best, cpu = result["metrics"]["seconds_best"], result["metrics"]["cpu_seconds_best"]
    print(
        f"compute_metrics on {result['n_playlists']} x {K}: {best:.3f} s wall, {cpu:.3f} s CPU "
        f"(best of {args.repeat})"
    )
    if not args.no_files:
        with tempfile.TemporaryDirectory() as tmp:
            result["files"] = bench_files(data, Path(tmp))
        f = result["files"]
        print(
            f"wall (CPU) seconds: write_submission {f['write_submission_s']:.1f} "
            f"({f['write_submission_cpu_s']:.1f}), {f['submission_mb']:.0f} MB gz; verify "
            f"{f['verify_s']:.1f} ({f['verify_cpu_s']:.1f}); score {f['score_s']:.1f} "
            f"({f['score_cpu_s']:.1f})"
        )
    out = ROOT / "bench" / "out" / "metrics.json"
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
