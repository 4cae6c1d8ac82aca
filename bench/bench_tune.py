"""Memory and time of `tune` at a given corpus size: the driver's peak RSS, each trial worker's
peak RSS (and the part of it shared through Ray's object store), the object store's share.

    python bench/bench_tune.py --n 100000 [--model knn] [--trials 4] [--workers 2]

Generates a synthetic MPD of N playlists under bench/out/nN/mpd when absent (the layout of
bench/stage.py), runs `mpd-harness tune` on it under /usr/bin/time -v (so the driver's peak RSS
is the kernel's count) and appends a row to bench/tune_memory.json. All data is synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "tune_memory.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--model", default="knn")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    base = args.work / f"n{args.n}"
    data = base / "mpd"
    env = os.environ | {"PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT.parent)}
    if not data.exists():
        t0 = time.perf_counter()
        code = f"from harness.data.synthetic import write_synthetic; write_synthetic({str(data)!r}, {args.n}, 0)"
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        print(f"synthetic MPD: {data} ({time.perf_counter() - t0:.0f} s)", flush=True)
    out = base / f"tune-{args.model}"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "harness", "tune", "--model", args.model]
    cmd += ["--trials", str(args.trials), "--workers", str(args.workers), "--mpd", str(data)]
    cmd += ["--cache-dir", str(base / "cache"), "--out", str(out)]
    print("$", " ".join(cmd[2:]), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        return proc.returncode
    driver_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    manifest = json.loads((out / "manifest.json").read_text())
    row = {
        "date": dt.date.today().isoformat(),
        "synthetic": True,
        "n_playlists": manifest["data"]["n_playlists"],
        "n_tracks": manifest["data"]["n_tracks"],
        "validation_queries": manifest["validation"]["n_queries"],
        "model": args.model,
        "trials": args.trials,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "wall_s": round(wall, 1),
        "prepare_s": manifest["timings"]["prepare_s"],
        "trials_s": manifest["timings"]["trials_s"],
        "driver_peak_rss_mb": round(driver_kb / 1024, 1),
        "worker_peak_rss_mb": manifest["worker_peak_rss_mb"],
        "worker_shared_mb": manifest["worker_shared_mb"],
        "object_store_mb": manifest["object_store_mb"],
        "best_value": manifest["best"]["value"],
        "load_average": os.getloadavg()[0],
    }
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*rows, row], indent=1) + "\n")
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
