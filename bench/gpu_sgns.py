"""One short, self-contained GPU check of the PyTorch skip-gram (`models/sgns.py`).

Builds a synthetic full-MPD-size corpus in numpy (planted clusters, Zipf popularity, playlist
lengths of mean ~66), trains `sgns` on CUDA, and reports seconds per epoch, tokens/s, peak GPU
memory and a planted-cluster purity; runs the CUDA correctness checks as plain asserts (pytest
may be absent); optionally probes the peak CPU RSS of a full-size CPU fit in a child process.

Needs only numpy, torch (and what `models` imports: scikit-learn); not gensim, msgspec, orjson.

    PYTHONUNBUFFERED=1 python bench/gpu_sgns.py --out $OUT   # the full-size run on a GPU
    python bench/gpu_sgns.py --playlists 3000 --tracks 20000 --device cpu   # a smoke test here
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from sgns_knobs import build_sgns  # noqa: E402

from models.base import TrainSet  # noqa: E402
from models.sgns import Batch, SGNSRecommender, SkipGram  # noqa: E402


def planted_corpus(
    n_playlists: int,
    n_tracks: int,
    n_clusters: int,
    seed: int,
    *,
    mean_len: float = 66.0,
    p_in: float = 0.8,
    zipf: float = 1.0,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
    """Playlists with planted clusters: (offsets (P+1,), track_ids (N,), cluster (n_tracks,)).

    Track t belongs to cluster t % n_clusters; lower ids are more popular (Zipf). A playlist
    picks one cluster (cluster sizes Zipf-ish too); each token comes from that cluster with
    probability p_in (by popularity within it), else from the whole catalogue by popularity.
    """
    rng = np.random.default_rng(seed)
    lens = np.clip(rng.geometric(1.0 / (mean_len - 4.0), n_playlists) + 4, 5, 250)  # (P,)
    offsets = np.zeros(n_playlists + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    n = int(offsets[-1])
    per = n_tracks // n_clusters
    cdf_in = np.cumsum(1.0 / (np.arange(per) + 2.0) ** zipf)  # (per,) rank within a cluster
    cdf_in /= cdf_in[-1]
    cdf_all = np.cumsum(1.0 / (np.arange(per * n_clusters) + 2.0) ** zipf)  # (T,) global rank
    cdf_all /= cdf_all[-1]
    cl_w = 1.0 / (np.arange(n_clusters) + 5.0) ** 0.5  # (C,)
    cl = rng.choice(n_clusters, size=n_playlists, p=cl_w / cl_w.sum())  # (P,)
    ids = np.repeat(cl, lens) + np.searchsorted(cdf_in, rng.random(n)) * n_clusters  # (N,)
    noise = np.flatnonzero(rng.random(n) > p_in)  # (n_noise,)
    ids[noise] = np.searchsorted(cdf_all, rng.random(len(noise)))
    return offsets, ids.astype(np.int32), np.arange(n_tracks) % n_clusters


def train_set(offsets: NDArray[np.int64], ids: NDArray[np.int32], n_tracks: int) -> TrainSet:
    p = len(offsets) - 1
    return TrainSet(
        offsets=offsets,
        track_ids=ids,
        titles=np.full(p, "", dtype=object),
        n_tracks=n_tracks,
        track_artist=np.zeros(n_tracks, dtype=np.int32),
        track_album=np.zeros(n_tracks, dtype=np.int32),
    )


def purity(
    vectors: NDArray[np.float32],
    cluster: NDArray[np.int64],
    counts: NDArray[np.int64],
    *,
    k: int = 10,
    n_queries: int = 4000,
    min_count: int = 5,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Share of each track's k nearest neighbours (cosine, all tracks with a vector) that lie
    in its planted cluster; over a sample of tracks seen >= min_count times, split at the median
    count into rare and frequent."""
    has = np.abs(vectors).sum(1) > 0  # (T,)
    cand = np.flatnonzero(has & (counts >= min_count))
    rng = np.random.default_rng(seed)
    q = np.sort(rng.choice(cand, size=min(n_queries, len(cand)), replace=False))  # (Q,)
    V = torch.from_numpy(vectors).to(device)  # (T, d)
    mask = torch.from_numpy(~has).to(device)  # (T,)
    hits = np.empty(len(q))
    for lo in range(0, len(q), 256):
        rows = q[lo : lo + 256]
        S = V[torch.from_numpy(rows).to(device)] @ V.T  # (c, T)
        S[:, mask] = -torch.inf
        S[
            torch.arange(len(rows), device=device), torch.from_numpy(rows).to(device)
        ] = -torch.inf  # not itself
        nb = torch.topk(S, k, dim=1).indices.cpu().numpy()  # (c, k)
        hits[lo : lo + len(rows)] = (cluster[nb] == cluster[rows][:, None]).mean(1)
    c = counts[q]
    med = np.median(c)
    return {
        "all": round(float(hits.mean()), 4),
        "rare": round(float(hits[c <= med].mean()), 4),
        "frequent": round(float(hits[c > med].mean()), 4),
        "median_count": float(med),
        "n_queries": len(q),
    }


def cuda_checks() -> dict[str, Any]:
    """The CUDA unit checks as plain asserts: gradients equal CPU's; two clusters separate."""
    gen = torch.Generator().manual_seed(0)
    model = SkipGram(7, 4, gen)
    with torch.no_grad():
        model.out.normal_(0, 0.5, generator=gen)
    tokens = torch.tensor([0, 1, 2, 1, 3, 4, 5, 6, 0, 2])  # (B,)
    seg = torch.tensor([0, 0, 0, 0, 1, 1, 2, 3, 3, 3])  # (B,)
    win = torch.tensor([1, 2, 3, 1, 2, 1, 3, 2, 1, 3])  # (B,)
    neg = torch.randint(0, 7, (10, 3), generator=gen)  # (B, K)
    b = Batch(tokens, seg, win, neg, window=3)
    cpu = model.batch_grads(b)
    gb = Batch(tokens.cuda(), seg.cuda(), win.cuda(), neg.cuda(), window=3)
    gpu = model.cuda().batch_grads(gb)
    for c, g in zip(cpu, gpu, strict=True):
        torch.testing.assert_close(g.cpu(), c, rtol=1e-4, atol=1e-5)

    rng = np.random.default_rng(0)
    pls = [rng.integers(0, 10, 12) + 10 * (i % 2) for i in range(200)]
    offsets = np.zeros(201, dtype=np.int64)
    np.cumsum([12] * 200, out=offsets[1:])
    train = train_set(offsets, np.concatenate(pls).astype(np.int32), 20)
    m = SGNSRecommender(dim=16, window=3, epochs=5, device="cuda", sample=0, min_count=1)
    m.with_knobs(batch_tokens=24).fit(train)
    sims = m.vectors_ @ m.vectors_.T  # (20, 20)
    np.fill_diagonal(sims, -np.inf)
    assert ((sims.argmax(1) < 10) == (np.arange(20) < 10)).all(), "two clusters not separated"
    return {"gradients_match_cpu": True, "two_clusters_separate": True}


def cpu_rss_probe(args: argparse.Namespace) -> None:
    """Child process: build the corpus, reset the peak-RSS counter, fit on CPU; the parent
    reads VmHWM from /proc and stops it after --rss-seconds."""
    offsets, ids, _ = planted_corpus(args.playlists, args.tracks, args.clusters, args.seed)
    train = train_set(offsets, ids, args.tracks)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: count training only
    print("probe: training", flush=True)
    SGNSRecommender(dim=args.dim, epochs=1, device="cpu", threads=args.rss_threads).fit(train)


def vm_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def save(out: str | None, res: dict[str, Any]) -> None:
    """Results so far to OUT/gpu_sgns.json (after every stage: a timeout keeps what was done)."""
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        tmp = Path(out) / "gpu_sgns.json.tmp"
        tmp.write_text(json.dumps(res, indent=2) + "\n")
        tmp.replace(Path(out) / "gpu_sgns.json")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--playlists", type=int, default=1_000_000)
    ap.add_argument("--tracks", type=int, default=2_262_292)
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--batch-tokens",
        default="",
        help="sgns knob batch_tokens to train with (comma list; "
        "default: the model's; ×gpu_batch_scale on CUDA)",
    )
    ap.add_argument(
        "--lrs", default="0.025", help="learning rates (alpha) to train with (comma list)"
    )
    ap.add_argument("--threads", type=int, default=0, help="CPU threads when --device cpu")
    ap.add_argument("--rss-seconds", type=float, default=0.0, help="CPU RSS probe time (0: off)")
    ap.add_argument("--rss-threads", type=int, default=8)
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.environ.get("OUT"))
    args = ap.parse_args()
    if args.probe:
        cpu_rss_probe(args)
        return 0
    t_all = time.perf_counter()
    res: dict[str, Any] = {"args": {k: v for k, v in vars(args).items() if k != "out"}}
    res["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    res["command"] = " ".join(["bench/gpu_sgns.py", *sys.argv[1:]])
    res["machine"] = {"cores": os.cpu_count(), "platform": platform.platform()}
    res["torch"] = torch.__version__
    res["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    probe = None
    if args.rss_seconds > 0:  # runs alongside the GPU work, on the host's other cores
        cmd = [sys.executable, __file__, "--probe"] + [
            f"--{k}={getattr(args, k.replace('-', '_'))}"
            for k in ("playlists", "tracks", "clusters", "dim", "seed", "rss-threads")
        ]
        probe = subprocess.Popen(cmd)
        t_probe = time.perf_counter()
    t0 = time.perf_counter()
    offsets, ids, cluster = planted_corpus(args.playlists, args.tracks, args.clusters, args.seed)
    counts = np.bincount(ids, minlength=args.tracks)
    res["corpus"] = {
        "playlists": args.playlists,
        "tokens": int(len(ids)),
        "tracks_seen": int((counts > 0).sum()),
        "build_s": round(time.perf_counter() - t0, 2),
    }
    print("corpus", res["corpus"], flush=True)
    save(args.out, res)
    if args.device == "cuda":
        res["cuda_checks"] = cuda_checks()
        print("cuda checks passed", flush=True)
        save(args.out, res)
        torch.cuda.reset_peak_memory_stats()
    train = train_set(offsets, ids, args.tracks)
    res["runs"] = []
    batches: list[int | None] = [int(x) for x in args.batch_tokens.split(",") if x] or [None]
    for lr, bt in [(float(x), b) for x in args.lrs.split(",") for b in batches]:
        kw: dict[str, Any] = {"dim": args.dim, "epochs": args.epochs, "device": args.device}
        kw.update(window=5, min_count=1)  # every track trained, as in the full-MPD target
        kw.update(alpha=lr, threads=args.threads)
        if bt:
            kw["batch_tokens"] = bt
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        model = build_sgns(**kw)  # hyperparameters and the knobs alpha, batch_tokens
        t0 = time.perf_counter()
        try:
            model.fit(train)
        except Exception as e:  # a diverged run is a result to report, not a crash
            print("sgns failed", kw, repr(e), flush=True)
            res["runs"].append({"params": kw, "error": repr(e)})
            continue
        info: dict[str, Any] = {"params": kw, **model.fit_info_}
        info["fit_s"] = round(time.perf_counter() - t0, 2)
        info["tokens_per_s_per_epoch"] = [round(len(ids) / s) for s in info["epoch_s"]]
        if args.device == "cuda":
            info["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        print("sgns", json.dumps(info), flush=True)
        info["purity"] = purity(model.vectors_, cluster, counts, device=args.device)
        print("purity", info["purity"], flush=True)
        res["runs"].append(info)
        save(args.out, res)
        del model
    if probe is not None:
        while probe.poll() is None and time.perf_counter() - t_probe < args.rss_seconds:
            time.sleep(1.0)
        hwm = vm_kb(probe.pid, "VmHWM")
        alive = probe.poll() is None
        if alive:
            probe.kill()
        probe.wait()
        res["cpu_rss_probe"] = {
            "peak_rss_gib_training": round(hwm / 2**20, 2) if hwm else None,
            "seconds": args.rss_seconds,
            "finished_epoch": not alive,
            "note": "VmHWM reset after building the corpus: the fit's own peak, "
            "over the probe window (setup + first batches of a full-size CPU epoch)",
        }
        print("cpu rss probe", res["cpu_rss_probe"], flush=True)
    res["total_s"] = round(time.perf_counter() - t_all, 1)
    # this process's high-water mark: the corpus arrays, the fits and the purity checks
    res["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    save(args.out, res)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
