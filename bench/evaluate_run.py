"""Time a whole `mpd-harness evaluate` and keep the evidence: the README's leaderboard and timings.

    python bench/evaluate_run.py --out bench/evaluate_default.json -- --synthetic default \
        --out /tmp/run --submissions /tmp/subs

runs `python -m harness evaluate ARGS` in a child process and writes one JSON file: the date,
the machine (cores, RAM, load average before and after), the command line, the wall time and the
peak RSS of the whole job (the child's getrusage high-water mark), and from the run folder the
leaderboard's overall rows and each model's fit/recommend seconds, peak RSS, versions and
hyperparameters. Every figure a README table quotes from such a run comes from this file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from run import machine  # noqa: E402  (bench/ is not a package)

from harness.atomic import write_json  # noqa: E402

MODEL_FIELDS = (
    "fit_s", "recommend_s", "peak_rss_mb", "params", "versions", "deterministic", "fit_info"
)  # fmt: skip


def run_folder(args: list[str]) -> Path:
    """The run folder evaluate was given (--out), which this script needs to read back."""
    if "--out" not in args:
        raise SystemExit("evaluate_run: pass evaluate's --out RUN_DIR after --")
    return Path(args[args.index("--out") + 1]).resolve()


def artifacts(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The files a model kept beside its run (e.g. rerank's feature importances), as JSON."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    for name in (manifest.get("files") or {}).get("artifacts") or []:
        path = folder / name
        if name.endswith(".json"):
            out[name] = orjson.loads(path.read_bytes())
        elif name.endswith(".parquet"):
            out[name] = pq.read_table(path).to_pydict()
    return out


def summary(run: Path) -> dict[str, Any]:
    board = orjson.loads((run / "leaderboard.json").read_bytes())
    models = {}
    for name in orjson.loads((run / "run.json").read_bytes())["models"]:
        path = run / name / "manifest.json"
        if path.exists():
            m = orjson.loads(path.read_bytes())
            models[name] = {k: m.get(k) for k in MODEL_FIELDS}
            models[name]["artifacts"] = artifacts(run / name, m)
    return {"data": board.get("data"), "split": board.get("split"), "leaderboard": board,
            "models": models}  # fmt: skip


def _commit() -> str | None:
    """The checkout's commit (with "+dirty" when files differ), or None outside git."""
    root = REPO
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("+dirty" if dirty else "")


def timed_evaluate(
    args: list[str],
    out: Path,
    timeout_s: float | None = None,
    extra: dict[str, Any] | None = None,
    cwd: Path | None = None,
) -> int:
    """Run `python -m harness evaluate ARGS` as a child (in `cwd`, with this checkout first on
    its path), write the evidence file `out` (atomically) and return the child's exit status
    (124 when it ran past timeout_s)."""
    run = run_folder(args)
    commit = _commit()  # before the run: the code it ran
    cmd = [sys.executable, "-m", "harness", "evaluate", *args]
    load_before = os.getloadavg()
    start, t = dt.datetime.now(dt.UTC), time.perf_counter()
    try:
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
        rc = subprocess.run(cmd, env=env, timeout=timeout_s, cwd=cwd).returncode
    except subprocess.TimeoutExpired:
        rc = 124
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    doc = {
        "what": "a whole `mpd-harness evaluate`, timed by bench/evaluate_run.py",
        "date": start.isoformat(timespec="seconds"),
        "command": " ".join(["python", "-m", "harness", "evaluate", *args]),
        "commit": commit,
        "machine": {**machine(), "load_before": load_before, "load_after": os.getloadavg()},
        "returncode": rc,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak_mb, 1),
        **({"within_budget": rc == 0 and wall <= timeout_s} if timeout_s is not None else {}),
        **(extra or {}),
        **(summary(run) if rc == 0 else {}),
    }
    write_json(out, doc)
    print(f"wrote {out}: rc {rc}, {wall:.0f} s, peak {peak_mb:.0f} MB")
    return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    ap.add_argument("evaluate_args", nargs=argparse.REMAINDER, help="-- then evaluate's args")
    a = ap.parse_args()
    return timed_evaluate([x for x in a.evaluate_args if x != "--"], a.out)


if __name__ == "__main__":
    raise SystemExit(main())
