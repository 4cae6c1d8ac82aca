"""Where ingest's time goes, per slice (issue 26 item 1), without a profiler's distortion.

    python bench/ingest_profile.py --mpd bench/out/n100000/mpd --slices 20

Times, on the first N slices of an MPD folder, each step of a parser worker (msgspec decode,
flattening and URI factorisation, the validation checks, encoding), the trip of each slice's
result from worker to parent (pickled and unpickled, as multiprocessing does) and the parent's
merge into global ids, and writes bench/ingest_profile.json: CPU seconds per slice of each step, the
machine's load, the date, and the CPU-seconds that implies for 1,000 slices. All data synthetic
when the folder is (the README's figures are).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))


def main() -> int:
    from harness.data import checks, parse
    from harness.data.keys import KeyTable
    from harness.data.merge import Merger
    from harness.data.slices import find_slices

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mpd", type=Path, required=True)
    ap.add_argument("--slices", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "ingest_profile.json")
    a = ap.parse_args()
    refs = find_slices(a.mpd)[0][: a.slices]
    steps: dict[str, float] = dict.fromkeys(("read", "decode", "flatten", "checks", "encode"), 0.0)
    results = []
    for ref in refs:
        t = time.process_time()
        data = ref.read()
        t, steps["read"] = time.process_time(), steps["read"] + time.process_time() - t
        sf = parse.DECODER.decode(data)
        t, steps["decode"] = time.process_time(), steps["decode"] + time.process_time() - t
        f = checks.FlatSlice.of(sf.playlists)
        t, steps["flatten"] = time.process_time(), steps["flatten"] + time.process_time() - t
        checks.find_problems(f, parse.pid_range(ref.name))
        t, steps["checks"] = time.process_time(), steps["checks"] + time.process_time() - t
        results.append(parse._result(ref.name, len(data), sf.info, f, list(range(f.n)), []))
        steps["encode"] += time.process_time() - t
    t = time.process_time()
    results = [pickle.loads(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) for r in results]
    steps["pickle + unpickle"] = time.process_time() - t
    warm = KeyTable()  # load (or compile) the merger's kernels outside the timing: once per ingest
    warm.add(results[0].tr_key, warm.lookup(results[0].tr_key))
    merger, t = Merger(False), time.process_time()
    for r in results:
        merger.add(r)
    steps["merge (parent)"] = time.process_time() - t
    per_slice = {k: round(v / len(refs), 4) for k, v in steps.items()}
    doc: dict[str, Any] = {
        "what": "CPU seconds per slice of each ingest step (bench/ingest_profile.py)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mpd": str(a.mpd),
        "slices": len(refs),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "per_slice_cpu_s": per_slice,
        "cpu_s_per_1000_slices": round(sum(per_slice.values()) * 1000, 1),
    }
    a.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
