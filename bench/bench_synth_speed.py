"""Synthetic MPD generation speed: the current generator against an earlier revision, in one run.

The machine is shared, so absolute times drift; the two generators run alternately (A B A B ...)
in fresh processes on the same machine and the result is their ratio. The earlier revision's
`harness/` is taken from git (`git archive REV harness`) into a temporary folder.

    python bench/bench_synth_speed.py --baseline d48cc85 --playlists 20000 --rounds 2

Each run writes N/4 and N playlists with `write_synthetic` (JSON included, `--workers`
processes, the catalogue built once per worker) into a temporary folder; wall and CPU seconds
of the child process and its workers are recorded. The difference between the two sizes gives
the CPU cost per 1,000 playlists without the fixed start-up, and from it the time 1M playlists
take on `--workers` idle cores. Results: `bench/synth_speed.json` (kept in git).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from harness.atomic import write_json

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "synth_speed.json"
CHILD = (
    "import sys, time, resource\n"
    "from harness.data.synthetic import GENERATOR_VERSION, write_synthetic\n"
    "t = time.perf_counter()\n"
    "write_synthetic(sys.argv[1], int(sys.argv[2]), 0, workers=int(sys.argv[3]))\n"
    "wall = time.perf_counter() - t\n"
    "print(GENERATOR_VERSION, wall)\n"
)


def export(rev: str, dest: Path) -> None:
    """`harness/` of git revision `rev` into `dest`."""
    data = subprocess.run(
        ["git", "archive", rev, "harness"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def run_once(code_root: Path, n: int, workers: int, tmp: Path) -> dict[str, Any]:
    """One generation of n playlists with the harness at `code_root`: wall and CPU seconds."""
    out = tmp / "mpd"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code_root), "PYTHONHASHSEED": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(  # cwd: not the checkout, whose harness/ would shadow PYTHONPATH
        [sys.executable, "-c", CHILD, str(out), str(n), str(workers)],
        cwd=tmp,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    version, inner = proc.stdout.split()
    size = sum(p.stat().st_size for p in out.glob("mpd.slice.*.json"))
    shutil.rmtree(out, ignore_errors=True)
    return {
        "generator_version": int(version),
        "wall_s": round(wall, 2),
        "write_s": round(float(inner), 2),
        "cpu_s": round(cpu, 2),
        "bytes": size,
    }


def summary(by_size: dict[int, list[dict[str, Any]]], workers: int) -> dict[str, float]:
    """Best of the rounds at the larger size (the run least disturbed by other jobs on the
    shared machine), the marginal CPU seconds per 1,000 playlists (between the two sizes:
    without the per-worker catalogue build) and what that gives for 1M on idle cores."""
    small, large = sorted(by_size)

    def best(n: int, key: str) -> float:
        return min(x[key] for x in by_size[n])

    per_1k = (best(large, "cpu_s") - best(small, "cpu_s")) / ((large - small) / 1000)
    fixed = best(small, "cpu_s") - per_1k * small / 1000  # catalogue builds, start-up
    return {
        "wall_s": best(large, "wall_s"),
        "cpu_s": best(large, "cpu_s"),
        "cpu_s_per_1k": round(per_1k, 3),
        "fixed_cpu_s": round(fixed, 1),
        "idle_1m_minutes": round((fixed + per_1k * 1000) / workers / 60, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="git revision of the earlier generator")
    ap.add_argument("--playlists", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-speed-"))
    try:
        export(args.baseline, tmp / "baseline")
        sizes = (args.playlists // 4, args.playlists)
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {
            "baseline": {n: [] for n in sizes},
            "current": {n: [] for n in sizes},
        }
        for r in range(args.rounds):
            for n in sizes:
                for name, root in (("baseline", tmp / "baseline"), ("current", ROOT)):
                    runs[name][n].append(run_once(root, n, args.workers, tmp))
                    print(f"round {r + 1} {name} {n:,}: {runs[name][n][-1]}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "playlists": list(sizes),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
        "baseline_revision": args.baseline,
        "runs": {name: {str(n): r for n, r in by_size.items()} for name, by_size in runs.items()},
        **{name: summary(by_size, args.workers) for name, by_size in runs.items()},
    }
    result["ratio_current_over_baseline"] = {
        k: round(result["current"][k] / result["baseline"][k], 3)
        for k in ("wall_s", "cpu_s", "cpu_s_per_1k")
    }
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
