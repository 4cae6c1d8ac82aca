"""Summarise a py-spy raw profile: each function's inclusive share of the samples.

    py-spy record --pid PID --duration 60 --rate 20 --format raw -o bench/rerank_1m_pyspy.txt
    python bench/pyspy_summary.py bench/rerank_1m_pyspy.txt --out bench/rerank_1m_profile.json \
        --note "what the profile was taken of"

A raw profile has one line per distinct stack: `frame;frame;...;frame COUNT`, outermost first,
each frame `function (file:line)`. A function's inclusive share is the fraction of samples whose
stack holds it anywhere (once per stack, however deep the recursion); lines of one function are
merged (`function (file)`). Writes the top entries, the sample count and the note as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from run import machine, write_doc  # noqa: E402  (bench/ is not a package)

LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
FRAME_LINE = re.compile(r":\d+\)$")


def inclusive_shares(lines: list[str]) -> tuple[int, Counter[str]]:
    """(samples, samples per function) of a raw py-spy profile's lines."""
    total, per = 0, Counter[str]()
    for raw in lines:
        m = LINE.match(raw.strip())
        if m is None:
            continue
        count = int(m["count"])
        total += count
        for fn in {FRAME_LINE.sub(")", f) for f in m["stack"].split(";")}:
            per[fn] += count
    return total, per


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path, help="py-spy --format raw output")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--note", default="", help="what was profiled, when, at which commit")
    a = ap.parse_args()
    total, per = inclusive_shares(a.profile.read_text().splitlines())
    if total == 0:
        raise SystemExit(f"{a.profile}: no samples (expected py-spy --format raw lines)")
    doc = {
        "what": "inclusive share of samples per function (bench/pyspy_summary.py)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "note": a.note,
        "machine": machine(),
        "samples": total,
        "inclusive_share_top": {fn: round(n / total, 3) for fn, n in per.most_common(a.top)},
    }
    write_doc(a.out, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
