"""Time what a newcomer runs first: `nox -s evaluate` in a fresh clone, its install included.

    python bench/fresh_clone.py --out bench/fresh_clone.json

clones this checkout's HEAD (committed files only) into a temporary folder and runs the README's
main command there, so nox builds its virtualenv from nothing. pip's download cache is off
(PIP_NO_CACHE_DIR=1) unless `--pip-cache`: packages come from the index as on a new machine
(torch from the file pip is configured to find, as the README says). Writes one JSON file: the
date, machine, commit, command, wall time, the seconds before the job's own first line (nox's
install), the peak RSS of any one process (getrusage of the children), the exit status, and the
run folder's leaderboard and per-model seconds (bench/evaluate_run.py's summary). The clone is
removed afterwards. `--command` and `--run` (tests: a tiny job) replace the command, in which the
word `python` is this interpreter, and the run folder it writes, relative to the clone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from evaluate_run import REPO, summary  # noqa: E402  (bench/ is not a package)
from run import machine  # noqa: E402

from harness.atomic import write_json  # noqa: E402  (evaluate_run put the checkout on the path)

COMMAND = "nox -s evaluate"
RUN = "runs/synthetic-default-s0"
MARKER = "nox > mpd-harness evaluate"  # nox's line as the job itself starts


def timed(cmd: list[str], cwd: Path, env: dict[str, str], marker: str) -> dict[str, Any]:
    """Run cmd in cwd, echoing its output; wall seconds, seconds to the first line containing
    `marker` (None if none), exit status and the last lines of output."""
    t = time.perf_counter()
    first: float | None = None
    tail: list[str] = []
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if first is None and marker in line:
                first = time.perf_counter() - t
            tail = [*tail[-19:], line.rstrip()]
    wall = time.perf_counter() - t
    setup = round(first, 1) if first is not None else None
    return {"wall_s": round(wall, 1), "install_s": setup, "returncode": proc.returncode,
            "output_tail": tail}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    ap.add_argument("--command", default=COMMAND, help=f"the command to time (default {COMMAND})")
    ap.add_argument("--run", default=RUN, help="the run folder it writes, in the clone")
    ap.add_argument("--marker", default=MARKER, help="output that marks the job's start")
    ap.add_argument("--pip-cache", action="store_true", help="leave pip's download cache on")
    a = ap.parse_args()
    cmd = [sys.executable if w == "python" else w for w in shlex.split(a.command)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if not a.pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    start = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mpd-fresh-clone-") as tmp:
        clone = Path(tmp) / "mpd-harness"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        result = timed(cmd, clone, env, a.marker)
        run = clone / a.run
        found = result["returncode"] == 0 and (run / "leaderboard.json").exists()
        board = summary(run) if found else {}
    doc = {
        "what": "a fresh clone's first command, install included, timed by bench/fresh_clone.py",
        "date": start.isoformat(timespec="seconds"),
        "command": " ".join(["bench/fresh_clone.py", *sys.argv[1:]]),
        "timed": a.command,
        "commit": commit,
        "pip_cache": a.pip_cache,
        "machine": {**machine(), "load_before": load_before, "load_after": os.getloadavg()},
        **result,
        "job_s": round(result["wall_s"] - result["install_s"], 1)
        if result["install_s"] is not None
        else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        **board,
    }
    write_json(a.out, doc)
    print(f"wrote {a.out}: rc {result['returncode']}, {result['wall_s']:.0f} s")
    return int(result["returncode"] != 0)


if __name__ == "__main__":
    raise SystemExit(main())
