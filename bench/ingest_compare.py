"""Ingest (or one model) of this checkout against another one (e.g. an older commit), interleaved.

    git worktree add /tmp/old <commit>
    python bench/ingest_compare.py --old /tmp/old --mpd bench/out/n1000000/mpd --rounds 2
    python bench/ingest_compare.py --old /tmp/old --model rp3beta --n 100000 --work bench/out

With `--model`, each round runs `bench/stage.py model` of each checkout on the bench's own corpus
and split under WORK/n<N> (made by `nox -s bench -- --sizes N --stages synth,ingest,split`), and
the file (bench/model_compare_<model>.json unless --out) holds each run's fit and recommend
seconds, peak RSS and R-precision, the ratio of the median fits, and whether the R-precision and
NDCG of the two checkouts are equal. Without it:

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
sys.path.insert(0, str(ROOT))
from run import machine, write_doc  # noqa: E402  (bench/ is not a package)


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


def _run_model(checkout: Path, work: Path, n: int, model: str, params: list[str]) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cmd = [sys.executable, "bench/stage.py", "model", "--model", model, "--n", str(n)]
    cmd += ["--work", str(work.resolve()), *(x for p in params for x in ("-p", p))]
    out = subprocess.run(cmd, cwd=checkout, check=True, capture_output=True, text=True).stdout
    row = orjson.loads(out.strip().splitlines()[-1])
    keep = ("fit_s", "recommend_s", "r_precision", "ndcg")
    return {**{k: row[k] for k in keep}, "peak_rss_mb": round(row["peak_rss_mb"]), "load": load}


def compare_model(a: argparse.Namespace) -> int:
    """--model: the model stage of both checkouts, interleaved, on the bench's corpus and split."""
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for _ in range(a.rounds):
        for side, checkout in (("old", a.old), ("new", ROOT.parent)):
            runs[side].append(_run_model(checkout, a.work, a.n, a.model, a.p))
            print(side, runs[side][-1], flush=True)
    med = {s: statistics.median(r["fit_s"] for r in rs) for s, rs in runs.items()}
    rec = {s: statistics.median(r["recommend_s"] for r in rs) for s, rs in runs.items()}
    same = all(
        r[k] == runs["old"][0][k]
        for rs in runs.values()
        for r in rs
        for k in ("r_precision", "ndcg")
    )
    doc = {
        "what": f"{a.model}'s fit and recommend, two checkouts interleaved "
        "(bench/ingest_compare.py --model)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "playlists": a.n,
        "params": a.p,
        "machine": {**machine(), "cores_allowed": len(os.sched_getaffinity(0))},  # taskset
        "commits": {"old": _commit(a.old), "new": _commit(ROOT.parent)},
        "runs": runs,
        "median_fit_s": med,
        "new_over_old": round(med["new"] / med["old"], 3),
        "median_recommend_s": rec,
        "recommend_new_over_old": round(rec["new"] / rec["old"], 3),
        "same_scores": same,
    }
    out = a.out or ROOT / f"model_compare_{a.model}.json"
    write_doc(out, doc)
    return 0 if same else 1


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
    ap.add_argument("--mpd", type=Path, help="ingest: a folder of mpd.slice.*.json")
    ap.add_argument("--model", help="compare this model's stage instead of ingest")
    ap.add_argument("--n", type=int, help="--model: playlists of the bench corpus")
    ap.add_argument("--work", type=Path, default=ROOT / "out", help="--model: the bench's folder")
    ap.add_argument("-p", action="append", default=[], metavar="KEY=VALUE", help="--model")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, help="default bench/ingest_compare.json")
    a = ap.parse_args()
    if a.model:
        if a.n is None:
            ap.error("--model needs --n")
        return compare_model(a)
    if a.mpd is None:
        ap.error("--mpd is required without --model")
    a.out = a.out or ROOT / "ingest_compare.json"
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
    write_doc(a.out, doc)
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
