"""Where `sgns`'s CPU time goes, by PyTorch operator (issue 26 item 3: profile before optimising).

    python bench/sgns_profile.py --n 10000 --threads 1 --epochs 1

Fits `sgns` on the training playlists of the `nox -s bench` corpus and split at that size (run
`nox -s bench -- --sizes N --stages synth,ingest,split` first) once to warm up, then once under
`torch.profiler`, and writes bench/sgns_profile.json: the operators' share of the profiled CPU
time, calls and microseconds per call, the words per second of both fits, the date, the load
and the versions. All data synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
from run import bench_train  # noqa: E402  (bench/ is not a package)


def main() -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from models import get_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=ROOT / "out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--out", type=Path, default=ROOT / "sgns_profile.json")
    a = ap.parse_args()
    train = bench_train(a.work, a.n)[2]
    model = get_model("sgns", epochs=a.epochs, device="cpu", threads=a.threads)
    warm = model.fit(train).fit_info_["words_per_s"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.fit(train)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    ops: list[dict[str, Any]] = [
        {
            "op": e.key,
            "share": round(e.self_cpu_time_total / total, 4),
            "calls": e.count,
            "us_per_call": round(e.self_cpu_time_total / max(e.count, 1), 2),
        }
        for e in events[: a.top]
    ]
    doc = {
        "what": "sgns CPU time by PyTorch operator (bench/sgns_profile.py), synthetic data",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "n": a.n,
        "threads": a.threads,
        "epochs": a.epochs,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "words_per_s": {"warm_up": warm, "profiled": model.fit_info_["words_per_s"]},
        "profiled_cpu_s": round(total / 1e6, 3),
        "top_ops": ops,
    }
    a.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
