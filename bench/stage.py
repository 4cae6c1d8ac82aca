"""One benchmark stage in its own process, so that its peak RSS is its own.

Usage: python bench/stage.py STAGE --n N --work DIR [--model NAME] [-p key=value ...]
Prints one JSON line: {"stage", "n", "wall_s", "peak_rss_mb", ...extras}.
Stages: synth, ingest, reload, split, model, knn_speed (item_knn's fit against implicit's),
sgns_speed (sgns against gensim at equal threads).
"""

from __future__ import annotations

import argparse
import ast
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _peak_rss_mb() -> float:
    """Peak RSS of this process or of its largest worker process (Linux ru_maxrss is KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) / 1024


def _paths(work: Path, n: int) -> dict[str, Path]:
    base = work / f"n{n}"
    return {
        "data": base / "mpd",
        "cache": base / "cache",
        "split": base / "split",
        "runs": base / "runs",
    }


def stage_synth(p: dict[str, Path], n: int, seed: int) -> dict[str, Any]:
    from harness.data.synthetic import write_synthetic

    if p["data"].exists():
        shutil.rmtree(p["data"])
    files = write_synthetic(p["data"], n, seed)
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}


def stage_ingest(p: dict[str, Path], n: int, seed: int) -> dict[str, Any]:
    from harness.data.ingest import load_corpus

    if p["cache"].exists():
        shutil.rmtree(p["cache"])
    size = sum(f.stat().st_size for f in p["data"].glob("mpd.slice.*.json"))
    t = time.perf_counter()
    c = load_corpus(p["data"], cache_dir=p["cache"])
    dt = time.perf_counter() - t
    return {
        "mb_per_s": size / 1e6 / dt,
        "playlists_per_s": c.n_playlists / dt,
        "tracks": c.n_tracks,
    }


def stage_reload(p: dict[str, Path], n: int, seed: int) -> dict[str, Any]:
    from harness.data.ingest import load_corpus

    c = load_corpus(p["data"], cache_dir=p["cache"])
    return {"tracks": c.n_tracks, "occurrences": len(c.track_ids)}


def stage_split(p: dict[str, Path], n: int, seed: int) -> dict[str, Any]:
    from harness.challenge.split import make_split, write_split
    from harness.data.ingest import load_corpus

    c = load_corpus(p["data"], cache_dir=p["cache"])
    t = time.perf_counter()
    s = make_split(c, seed=seed)
    write_split(s, c, p["split"])
    return {"split_only_s": time.perf_counter() - t, "test_playlists": len(s.test_idx)}


def stage_model(
    p: dict[str, Path],
    n: int,
    seed: int,
    model: str,
    params: dict[str, Any],
    knobs: dict[str, Any] | None = None,
    on: str = "test",
    candidates: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Fit one model and score it on the test split, or (`on="validation"`, for choosing
    settings without reading the test split) fit on the training playlists less a validation
    split drawn from them and score that. `knobs`: `with_knobs` changes (sgns). `candidates`:
    also score the same fit at each of these `candidate_min_count`s (w2v, sgns)."""
    from dataclasses import replace

    import numpy as np

    from harness.challenge.split import as_validation, load_split, make_validation, train_set
    from harness.data.ingest import load_corpus
    from models import get_model

    c = load_corpus(p["data"], cache_dir=p["cache"])
    s = load_split(p["split"], c)
    train = train_set(c, s)
    m = get_model(model, **params)
    if knobs:
        m.with_knobs(**knobs)
    if getattr(m, "needs_validation", False) and on == "validation":
        raise SystemExit(f"{model} learns from the validation split: score it with --on test")
    if getattr(m, "needs_validation", False) or on == "validation":  # drawn, not timed
        train = replace(train, validation=as_validation(make_validation(c, s), s.ref, c))
    v = train.validation if on == "validation" else None
    if v is not None:
        train = train.without_validation()
    t = time.perf_counter()
    m.fit(train)
    fit_s = time.perf_counter() - t

    def score() -> tuple[Any, float, dict[str, Any], float]:
        if v is None:
            return _recommend_and_score(c, s, m)
        return _recommend_and_score_validation(c, v, m)

    recs, rec_s, vals, score_s = score()
    by_cmc = {}
    counts = np.bincount(train.track_ids, minlength=train.n_tracks)  # (n_tracks,)
    for cmc in candidates:  # what fit sets from the hyperparameter, for the same vectors
        m.candidate_min_count = cmc
        m.candidates_ = counts >= cmc
        cv = score()[2]
        by_cmc[str(cmc)] = {k: float(cv[k].mean()) for k in ("r_precision", "ndcg")}
    out: dict[str, Any] = {
        "model": model,
        "params": params,
        "knobs": knobs or {},
        "on": on,
        "fit_s": fit_s,
        "recommend_s": rec_s,
        "queries": len(vals["r_precision"]),
        "score_s": score_s,
        "r_precision": float(vals["r_precision"].mean()),
        "ndcg": float(vals["ndcg"].mean()),
        **({"by_candidate_min_count": by_cmc} if by_cmc else {}),
    }
    if _suffix(params):
        import torch

        out["peak_gpu_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
    info = getattr(m, "fit_info_", None)
    if isinstance(info, dict):
        out["fit_info"] = {k: v for k, v in info.items() if isinstance(v, int | float | str)}
    return out


def _recommend_and_score(c: Any, s: Any, m: Any) -> tuple[Any, float, dict[str, Any], float]:
    """(recs, recommend seconds, per-playlist metrics, scoring seconds) of a fitted model."""
    import numpy as np

    from harness.challenge.metrics import compute_metrics

    t = time.perf_counter()
    recs = m.recommend(s.queries, k=500)
    rec_s = time.perf_counter() - t
    rec_art = np.where(recs >= 0, c.track_artist[np.maximum(recs, 0)], -1)
    gt_art = c.track_artist[s.holdout_ids]
    t = time.perf_counter()
    vals = compute_metrics(recs, s.holdout_offsets, s.holdout_ids, gt_art, rec_art)
    return recs, rec_s, vals, time.perf_counter() - t


def _recommend_and_score_validation(
    c: Any, v: Any, m: Any
) -> tuple[Any, float, dict[str, Any], float]:
    """`_recommend_and_score` for a validation split (its queries and held-out tracks)."""
    from harness.challenge.scoring import validation_metrics

    t = time.perf_counter()
    recs = m.recommend(v.queries, k=500)
    rec_s = time.perf_counter() - t
    t = time.perf_counter()
    vals = validation_metrics(recs, v, c.track_artist)
    return recs, rec_s, vals, time.perf_counter() - t


def stage_sgns_speed(
    p: dict[str, Path], n: int, seed: int, epochs: dict[str, int], candidate_min_count: int = 0
) -> dict[str, Any]:
    """`sgns` (PyTorch, CPU) against gensim's `w2v` at equal threads (1, then 2), interleaved,
    each at its own epochs (equal by default; issue 26 item 3 compares them at the epochs chosen
    for quality) and the models' other defaults: words per second (training-playlist track
    occurrences x the model's epochs / fit seconds, one definition for both), R-precision, and
    the fit-time ratio (gensim's fit seconds over sgns's: the speed-up at those settings)."""
    from harness.challenge.split import load_split, train_set
    from harness.data.ingest import load_corpus
    from models import get_model

    c = load_corpus(p["data"], cache_dir=p["cache"])
    s = load_split(p["split"], c)
    train = train_set(c, s)
    min_count = 50 if n >= 10_000 else 1  # toy sizes (the test suite) have no 50-fold tracks
    occurrences = len(train.track_ids)
    out: dict[str, Any] = {
        "epochs": epochs["w2v"] if epochs["w2v"] == epochs["sgns"] else None,
        "sgns_epochs": epochs["sgns"],
        "w2v_epochs": epochs["w2v"],
        "candidate_min_count": candidate_min_count,
        "min_count": min_count,
        "occurrences": occurrences,
        "words": occurrences * epochs["w2v"],
    }
    for threads in (1, 2):
        for name, params in (
            ("w2v", {"workers": threads}),
            ("sgns", {"threads": threads, "device": "cpu"}),
        ):
            m = get_model(
                name,
                epochs=epochs[name],
                min_count=min_count,
                candidate_min_count=candidate_min_count,
                **params,
            )
            t = time.perf_counter()
            m.fit(train)
            fit_s = time.perf_counter() - t
            vals = _recommend_and_score(c, s, m)[2]
            out[f"{name}_t{threads}"] = {
                "fit_s": round(fit_s, 3),
                "words_per_s": round(occurrences * epochs[name] / fit_s),
                "r_precision": round(float(vals["r_precision"].mean()), 5),
            }
        sg, gs = out[f"sgns_t{threads}"], out[f"w2v_t{threads}"]
        out[f"speedup_t{threads}"] = round(sg["words_per_s"] / gs["words_per_s"], 3)
        out[f"fit_time_ratio_t{threads}"] = round(gs["fit_s"] / sg["fit_s"], 3)
        out[f"rprec_change_t{threads}"] = round(sg["r_precision"] / gs["r_precision"] - 1, 4)
    return out


def stage_knn_speed(p: dict[str, Path], n: int, seed: int, rounds: int = 3) -> dict[str, Any]:
    """`item_knn`'s fit against implicit's CosineRecommender fit on the same training matrix,
    interleaved (mine, theirs, mine, theirs, ...) so that a change in machine load hits both;
    the same neighbour count and one thread each. item_knn's kernel is compiled (and cached)
    once before the clock starts, as implicit's C++ was when it was installed."""
    import numpy as np
    from implicit.nearest_neighbours import CosineRecommender
    from threadpoolctl import threadpool_limits

    from harness.challenge.split import load_split, train_set
    from harness.data.ingest import load_corpus
    from harness.run.contract import make_train
    from models.item_knn import ItemKNNRecommender
    from models.knn import sparse_from_csr

    c = load_corpus(p["data"], cache_dir=p["cache"])
    train = train_set(c, load_split(p["split"], c))
    B = sparse_from_csr(train.offsets, train.track_ids, train.n_tracks)  # (P, T) binary
    M = ItemKNNRecommender().n_neighbors
    ItemKNNRecommender(n_neighbors=M, threads=1).fit(
        make_train([[0, 1], [1, 2]], ["a", "b"], 3)
    )  # numba compiles here
    times: dict[str, list[float]] = {"item_knn": [], "cosine": []}
    cpu: dict[str, list[float]] = {"item_knn": [], "cosine": []}
    with threadpool_limits(limits=1):
        for _ in range(rounds):
            for name in times:
                t, c0 = time.perf_counter(), time.process_time()
                if name == "item_knn":
                    ItemKNNRecommender(n_neighbors=M, threads=1).fit(train)
                else:
                    CosineRecommender(K=M, num_threads=1).fit(B, show_progress=False)
                times[name].append(round(time.perf_counter() - t, 3))
                cpu[name].append(round(time.process_time() - c0, 3))
    mine, theirs = float(np.median(times["item_knn"])), float(np.median(times["cosine"]))
    return {
        "item_knn_fit_s": times["item_knn"],
        "cosine_fit_s": times["cosine"],
        "item_knn_fit_cpu_s": cpu["item_knn"],
        "cosine_fit_cpu_s": cpu["cosine"],
        "ratio": round(mine / theirs, 3),  # median wall over median wall
        "neighbors": M,
        "threads": 1,
        "implicit": _version("implicit"),
    }


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _suffix(params: dict[str, Any]) -> str:
    """The row suffix "-cuda" for a model trained on the GPU, beside its CPU row."""
    return "-cuda" if str(params.get("device", "")).startswith("cuda") else ""


def _literals(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE strings as a dict, values as Python literals where they parse."""
    out: dict[str, Any] = {}
    for kv in pairs:
        k, _, v = kv.partition("=")
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "stage",
        choices=["synth", "ingest", "reload", "split", "model", "knn_speed", "sgns_speed"],
    )
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model")
    ap.add_argument(
        "--epochs", type=int, default=3, help="sgns_speed: gensim's epochs (sgns's too by default)"
    )
    ap.add_argument("--sgns-epochs", type=int, default=None, help="sgns_speed: sgns's epochs")
    ap.add_argument("--candidate-min-count", type=int, default=0, help="sgns_speed: both models")
    ap.add_argument("-p", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-k", action="append", default=[], metavar="KNOB=VALUE", help="model: knobs")
    ap.add_argument("--on", choices=["test", "validation"], default="test", help="model: scored on")
    ap.add_argument(
        "--candidates", default="", help="model: also score at these candidate_min_count"
    )
    a = ap.parse_args()
    paths = _paths(a.work, a.n)
    t0 = time.perf_counter()
    params: dict[str, Any] = {}
    if a.stage == "model":
        params, knobs = _literals(a.p), _literals(a.k)
        cmcs = tuple(int(x) for x in a.candidates.split(",") if x)
        extra = stage_model(paths, a.n, a.seed, a.model, params, knobs, a.on, cmcs)
    elif a.stage == "sgns_speed":
        epochs = {"w2v": a.epochs, "sgns": a.sgns_epochs or a.epochs}
        extra = stage_sgns_speed(paths, a.n, a.seed, epochs, a.candidate_min_count)
    else:
        extra = globals()[f"stage_{a.stage}"](paths, a.n, a.seed)
    res = {
        "stage": a.stage if a.stage != "model" else f"model:{a.model}{_suffix(params)}",
        "n": a.n,
        "wall_s": time.perf_counter() - t0,
        "peak_rss_mb": _peak_rss_mb(),
        **extra,
    }
    print(orjson.dumps(res).decode())


if __name__ == "__main__":
    main()
