"""The torch row gathers and scatter-adds `sgns` chose between, timed alone on the CPU.

    python bench/row_ops.py

On a (V, d) float32 table (V = 300,000, d = 128: about the 100k bench's vocabulary at the default
dimension) and B random rows (1,024: a batch's tokens; 5,120: its negatives at K = 5), one
thread: `table[idx]` (advanced indexing) against `index_select`, and `index_add_` against
`scatter_add_` over the row index broadcast to (B, d). Writes bench/row_ops.json: microseconds
per call (median of 5 runs of 200 calls), the ratios, date, load and torch version.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import torch

ROOT = Path(__file__).resolve().parent


def _us(f: Callable[[], object], calls: int = 200, runs: int = 5) -> float:
    f()
    per_run = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        per_run.append((time.perf_counter() - t) / calls * 1e6)
    return round(statistics.median(per_run), 1)


def _row(table: torch.Tensor, B: int, gen: torch.Generator) -> dict[str, float]:
    """The four timings for B random rows of `table`, and the two ratios."""
    V, d = table.shape
    idx = torch.randint(0, V, (B,), generator=gen)
    src = torch.randn(B, d, generator=gen) * 1e-3
    wide = idx.unsqueeze(1).expand(B, d)
    r = {
        "index_us": _us(lambda: table[idx]),
        "index_select_us": _us(lambda: table.index_select(0, idx)),
        "index_add_us": _us(lambda: table.index_add_(0, idx, src, alpha=-0.01)),
        "scatter_add_us": _us(lambda: table.scatter_add_(0, wide, src * -0.01)),
    }
    r["index_over_index_select"] = round(r["index_us"] / r["index_select_us"], 2)
    r["index_add_over_scatter_add"] = round(r["index_add_us"] / r["scatter_add_us"], 2)
    return r


def main() -> int:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    V, d = 300_000, 128
    table = torch.randn(V, d, generator=gen)
    rows = {str(B): _row(table, B, gen) for B in (1024, 5120)}
    doc = {
        "what": "torch CPU row gather / scatter-add, one thread (bench/row_ops.py)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "table": [V, d],
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "rows": rows,
    }
    out = ROOT / "row_ops.json"
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
