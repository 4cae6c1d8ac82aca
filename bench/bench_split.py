"""Split benchmark: make_split + write_split (and load_split, train_set) on one corpus.

Generates N synthetic playlists (`harness.data.synthetic.write_synthetic`) unless `--mpd` names real
data, ingests them into a throw-away cache, then times each split step with its peak RSS for
every coverage mode asked for (`official` may fail on small or synthetic corpora: the error is
recorded, not hidden). Generated slices and the cache are deleted afterwards unless `--keep`.
Writes `bench/out/split.json`.

    python bench/bench_split.py --playlists 100000 [--coverage official,none] [--mpd PATH]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.atomic import write_json
from harness.errors import HarnessError
from harness.run.manifest import RssSampler, machine, versions

OUT = Path(__file__).resolve().parent / "out"


def _stage(fn: Any) -> tuple[Any, dict[str, float]]:
    with RssSampler() as rss:
        value = fn()
    return value, {"seconds": round(rss.seconds, 3), "peak_rss_mb": round(rss.peak_mb, 1)}


def bench_coverage(corpus: Any, coverage: str, seed: int, work: Path) -> dict[str, Any]:
    """Time the split steps for one coverage mode; a refusal is recorded as `error`."""
    from harness.challenge.split import load_split, make_split, train_set, write_split

    out: dict[str, Any] = {}
    try:
        split, out["make_split"] = _stage(lambda: make_split(corpus, seed=seed, coverage=coverage))
    except HarnessError as e:
        return {"error": str(e)}
    split_dir = work / f"split-{coverage}"
    _, out["write_split"] = _stage(lambda: write_split(split, corpus, split_dir))
    _, out["load_split"] = _stage(lambda: load_split(split_dir, corpus))
    _, out["train_set"] = _stage(lambda: train_set(corpus, split))
    out["split_seconds"] = round(out["make_split"]["seconds"] + out["write_split"]["seconds"], 3)
    out["files_mb"] = {
        p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(split_dir.iterdir())
    }
    out["test_playlists"] = split.n_test
    out["categories"] = {
        k: {
            "num_tracks": r["num_tracks"],
            "deviation": r.get("deviation"),
            "rejected": r["rejected"],
            "not_in_train": r["not_in_train"],
        }
        for k, r in split.report.items()
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--playlists", type=int, default=100_000, help="synthetic corpus size")
    ap.add_argument("--mpd", default=None, help="use this MPD folder/zip instead of generating")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coverage", default="official,none", help="comma-separated modes")
    ap.add_argument("--workers", type=int, default=1, help="ingest/generation processes")
    ap.add_argument("--keep", action="store_true", help="keep generated data and cache")
    args = ap.parse_args()

    from harness.data.ingest import load_corpus

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-split-", dir=OUT))
    result: dict[str, Any] = {"versions": versions(), "machine": machine()}
    try:
        if args.mpd:
            data = Path(args.mpd)
        else:
            from harness.data.synthetic import write_synthetic

            data = work / "mpd"
            t = time.perf_counter()
            write_synthetic(data, args.playlists, args.seed, workers=args.workers)
            result["generate_seconds"] = round(time.perf_counter() - t, 1)
        corpus, result["load_corpus"] = _stage(
            lambda: load_corpus(data, cache_dir=work / "cache", workers=args.workers)
        )
        result.update(
            data=str(args.mpd or "synthetic"),
            synthetic=bool(corpus.source.get("synthetic", False)),
            n_playlists=corpus.n_playlists,
            n_tracks=corpus.n_tracks,
            n_occurrences=int(len(corpus.track_ids)),
            seed=args.seed,
            results={
                c: bench_coverage(corpus, c, args.seed, work) for c in args.coverage.split(",")
            },
        )
    finally:
        if args.keep:
            result["kept"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    write_json(OUT / "split.json", result)
    for mode, r in result.get("results", {}).items():
        if "error" in r:
            print(f"{mode}: refused: {r['error']}")
        else:
            print(
                f"{mode}: make_split {r['make_split']['seconds']} s, write_split "
                f"{r['write_split']['seconds']} s, load_split {r['load_split']['seconds']} s, "
                f"peak RSS {max(r[s]['peak_rss_mb'] for s in ('make_split', 'write_split'))} MB"
            )


if __name__ == "__main__":
    main()
