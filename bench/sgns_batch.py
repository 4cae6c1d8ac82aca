"""How fast `sgns`'s CPU step is at each batch size, per token (the knob `batch_tokens`).

    python bench/sgns_batch.py --n 100000 --batch-tokens 1024,2048,4096,8192 --rounds 4 \
        --work bench/out --out bench/sgns_batch_100k.json

Builds `sgns`'s corpus from the bench's training playlists at that size (run `nox -s bench --
--sizes N --stages synth,ingest,split` first), subsamples it once, cuts the first `--tokens`
tokens into batches of each size and draws their windows and negatives, then times one thread
running `SkipGram.sgd_step` over each size's batches: `rounds` times, the sizes interleaved so
that a change in machine load hits all of them. Per size: microseconds per token (the minimum
and the median over rounds) and the ratio of each to the first size's. Speed only: the quality
at a batch size is a fit (bench/embedding_epochs.py `-k batch_tokens=N --on validation`).
All data synthetic when the corpus is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from run import bench_train, doc_header, write_doc  # noqa: E402  (bench/ is not a package)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="the bench corpus under WORK/n<N>")
    ap.add_argument("--batch-tokens", default="1024,2048,4096,8192", help="comma-separated")
    ap.add_argument("--tokens", type=int, default=1_500_000, help="tokens timed per size")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-count", type=int, default=50, help="sgns's min_count (the default)")
    ap.add_argument("--work", type=Path, default=HERE / "out")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "sgns_batch.json")
    a = ap.parse_args()
    import torch

    from models.sgns import SGNSRecommender, SkipGram
    from models.sgns_corpus import batch_bounds, build_corpus, draw_batch

    torch.set_num_threads(1)
    est = SGNSRecommender(device="cpu", min_count=a.min_count)
    train = bench_train(a.work, a.n)[2]
    cpu = torch.device("cpu")
    c = build_corpus(train, est.min_count, est.sample, est.knobs.ns_exponent, cpu)
    gen = torch.Generator().manual_seed(a.seed)
    kept = torch.rand(len(c.tokens), generator=gen) < c.keep_p[c.tokens]  # (N',)
    tokens, seg = c.tokens[kept][: a.tokens], c.seg[kept][: a.tokens]  # (M,), (M,)
    sizes = [int(x) for x in a.batch_tokens.split(",")]
    batches = {
        bt: [
            draw_batch(tokens[lo:hi], seg[lo:hi], est.window, False, est.negative, c, gen)
            for lo, hi in batch_bounds(seg, bt)
        ]
        for bt in sizes
    }
    us: dict[int, list[float]] = {bt: [] for bt in sizes}
    for _ in range(a.rounds):
        for bt, bs in batches.items():
            model = SkipGram(len(c.vocab), est.dim, torch.Generator().manual_seed(a.seed))
            t0 = time.perf_counter()
            for b in bs:
                model.sgd_step(b, est.knobs.alpha)
            us[bt].append((time.perf_counter() - t0) / max(len(tokens), 1) * 1e6)
    first = sizes[0]
    summary: dict[str, Any] = {}
    for bt in sizes:
        lo, med = min(us[bt]), statistics.median(us[bt])
        summary[str(bt)] = {
            "us_per_token_min": round(lo, 4),
            "us_per_token_median": round(med, 4),
            "speed_vs_first_min": round(min(us[first]) / lo, 3),
            "speed_vs_first_median": round(statistics.median(us[first]) / med, 3),
            "batches": len(batches[bt]),
        }
    doc = {
        **doc_header(
            "sgns CPU step, microseconds per token by batch size (one thread), interleaved"
        ),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "n": a.n,
        "vocab_size": len(c.vocab),
        "tokens_timed": len(tokens),
        "hyperparameters": est.get_params(),
        "summary": summary,
        "rounds_us_per_token": {str(bt): [round(x, 4) for x in v] for bt, v in us.items()},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_doc(a.out, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
