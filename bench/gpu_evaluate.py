"""The whole `evaluate` on one GPU machine within a time budget (issue 26 item 4).

    python bench/gpu_evaluate.py                       # full preset (1M playlists), --device auto
    python bench/gpu_evaluate.py --preset tiny --device cpu --models popular,sgns  # a toy run

Runs `python -m harness evaluate --synthetic PRESET --device DEVICE` (every model that can use
a GPU on it: `sgns`, and `als` when implicit has CUDA; scoring stays numpy) in a child process
killed at `--budget-s` (default 600 s: the 10-minute target), and writes
`bench/gpu_evaluate_<preset>.json`: date, machine and GPU, versions, command line, wall time,
peak RSS, whether the budget held, the leaderboard and each model's fit seconds and device.
The synthetic data, run and submission folders go under `--work` (default: a temporary
folder, removed afterwards), never into the checkout. On a GPU machine without network, carry wheels for what it lacks (msgspec,
gensim, implicit, lightgbm, numba) as `.library/device/README.md` explains. All data is
synthetic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_run import timed_evaluate  # noqa: E402  (bench/ is not a package)

ROOT = Path(__file__).resolve().parent


def gpu_info() -> dict[str, Any]:
    """The CUDA device torch sees (None without one) and torch's build."""
    try:
        import torch
    except ImportError:
        return {"torch": None, "cuda": None}
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"torch": torch.__version__, "cuda": name}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="full")
    ap.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    ap.add_argument("--models", default=None, help="comma-separated (default: every model)")
    ap.add_argument("--budget-s", type=float, default=600.0)
    ap.add_argument("--work", type=Path, default=None, help="run folders (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("-p", dest="params", action="append", default=[], metavar="MODEL.PARAM=V")
    a = ap.parse_args()
    out = a.out or ROOT / f"gpu_evaluate_{a.preset}.json"
    with tempfile.TemporaryDirectory(prefix="gpu-evaluate-") as tmp:
        work = (a.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        args = ["--synthetic", a.preset, "--device", a.device, "--out", str(work / "run")]
        args += ["--submissions", str(work / "submissions"), "--cache-dir", str(work / "cache")]
        args += ["--models", a.models] if a.models else []
        for p in a.params:
            args += ["-p", p]
        extra = {"gpu": gpu_info(), "budget_s": a.budget_s, "device": a.device}
        return timed_evaluate(args, out, timeout_s=a.budget_s, extra=extra, cwd=work)


if __name__ == "__main__":
    raise SystemExit(main())
