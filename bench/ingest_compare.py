"""Ingest of this checkout against another one (e.g. an older commit), interleaved, same data.

    git worktree add /tmp/old <commit>
    python bench/ingest_compare.py --old /tmp/old --mpd bench/out/n1000000/mpd --rounds 2

Runs `bench/stage.py ingest` of each checkout in turn (old, new, old, new, ...), each in its own
process on the same slices with its own fresh cache, so machine load hits both alike; then loads
both cached corpora and checks that every column is identical. Writes bench/ingest_compare.json
(wall seconds and peak RSS of each run, the ratio of the medians, whether the corpora match, the
machine's load, the date, both commits). All data synthetic when the folder is.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))


def _run(checkout: Path, work: Path, n: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cmd = [sys.executable, "bench/stage.py", "ingest", "--n", str(n), "--work", str(work)]
    out = subprocess.run(cmd, cwd=checkout, check=True, capture_output=True, text=True).stdout
    row = orjson.loads(out.strip().splitlines()[-1])
    return {
        "wall_s": round(row["wall_s"], 1),
        "peak_rss_mb": round(row["peak_rss_mb"]),
        "load": load,
    }


def _commit(checkout: Path) -> str:
    cmd = ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _same_corpus(a_cache: Path, b_cache: Path) -> list[str]:
    """Names of the corpus fields that differ (source's path aside)."""
    from harness.data.corpus import Corpus

    a, b = (Corpus.load(next(p for p in c.iterdir() if p.is_dir())) for c in (a_cache, b_cache))
    differ = []
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "source":
            same = {**x, "path": ""} == {**y, "path": ""}
        else:
            same = x.shape == y.shape and bool(np.all(x == y))
        if not same:
            differ.append(f.name)
    return differ


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, required=True, help="the other checkout")
    ap.add_argument("--mpd", type=Path, required=True, help="a folder of mpd.slice.*.json")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "ingest_compare.json")
    a = ap.parse_args()
    n = 1000 * len(list(a.mpd.glob("mpd.slice.*.json")))
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="ingest-compare-") as tmp:
        works = {}
        for side in runs:  # bench/stage.py reads WORK/n<N>/mpd and caches in WORK/n<N>/cache
            works[side] = Path(tmp) / side
            (works[side] / f"n{n}").mkdir(parents=True)
            (works[side] / f"n{n}" / "mpd").symlink_to(a.mpd.resolve())
        for _ in range(a.rounds):
            for side, checkout in (("old", a.old), ("new", ROOT.parent)):
                runs[side].append(_run(checkout, works[side], n))
                print(side, runs[side][-1], flush=True)
        differ = _same_corpus(*(works[s] / f"n{n}" / "cache" for s in ("old", "new")))
    med = {s: statistics.median(r["wall_s"] for r in rs) for s, rs in runs.items()}
    doc = {
        "what": "ingest wall time of two checkouts, interleaved (bench/ingest_compare.py)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "mpd": str(a.mpd),
        "playlists": n,
        "cores": os.cpu_count(),
        "commits": {"old": _commit(a.old), "new": _commit(ROOT.parent)},
        "runs": runs,
        "median_wall_s": med,
        "new_over_old": round(med["new"] / med["old"], 3),
        "corpus_fields_that_differ": differ,
    }
    a.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
