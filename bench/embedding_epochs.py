"""How many epochs the embedding models need at a corpus size (issue 26 item 2).

    python bench/embedding_epochs.py --n 100000 --models sgns --epochs 3,10,20

Fits `knn` once (the reference) and each embedding model at each epoch count, every fit in its
own process through bench/stage.py (the corpus and split of `nox -s bench` at that size, which
must exist: run `nox -s bench -- --sizes N --stages synth,ingest,split` first), and appends one
row per fit to bench/embedding_epochs.jsonl: R-precision, its ratio to knn's, fit seconds,
words per second, the machine, its load, the versions and the command line. Extra `-p KEY=VALUE` apply to every embedding fit,
`-k KNOB=VALUE` to every sgns fit; `--candidates 100,300` also scores each fit at those
`candidate_min_count`s (the same vectors, only the recommendable tracks change).
`--on validation` fits on the training playlists less a validation split drawn from them and
scores that (choosing settings without reading the test split). A fit refused with a
UsageError (a diverged `sgns`) is a row with its error. All data is synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from run import generator_version, machine  # noqa: E402  (bench/ is not a package)


def fit(
    n: int, work: Path, model: str, params: list[str], knobs: list[str], on: str, cmc: str = ""
) -> dict[str, Any]:
    """One model's bench/stage.py row (wall time, peak RSS, metrics, fit_info)."""
    cmd = [sys.executable, str(ROOT / "stage.py"), "model", "--n", str(n), "--work", str(work)]
    cmd += ["--model", model, "--on", on, "--candidates", cmc]
    for p in params:
        cmd += ["-p", p]
    for k in knobs:
        cmd += ["-k", k]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 and last.startswith("harness.errors.UsageError: "):
        return {"error": last.partition(": ")[2]}  # e.g. a diverged fit: a result, kept
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    row: dict[str, Any] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    return row


def _measured(r: dict[str, Any], knn: float) -> dict[str, Any]:
    """The row's measured part: metrics and costs, or the error of a fit that failed."""
    if "error" in r:
        return {"error": r["error"], "r_precision": None, "knn_r_precision": knn}
    info = r.get("fit_info") or {}
    return {
        "r_precision": r["r_precision"], "ndcg": r["ndcg"], "knn_r_precision": knn,
        "ratio_to_knn": round(r["r_precision"] / knn, 4), "fit_s": r["fit_s"],
        "words_per_s": info.get("words_per_s"), "peak_rss_mb": r["peak_rss_mb"],
        **{k: r[k] for k in ("by_candidate_min_count",) if k in r},
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--work", type=Path, default=ROOT / "out")
    ap.add_argument("--models", default="sgns,w2v")
    ap.add_argument("--epochs", default="3,10,20")
    ap.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-k", dest="knobs", action="append", default=[], metavar="KNOB=VALUE",
                    help="sgns knobs (Knobs fields), for sgns fits only")  # fmt: skip
    ap.add_argument("--on", choices=["test", "validation"], default="test",
                    help="score on the test split or on a validation split drawn from training")  # fmt: skip
    ap.add_argument("--candidates", default="", metavar="N,N,...",
                    help="also score each fit at these candidate_min_count (same vectors)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=ROOT / "embedding_epochs.jsonl")
    a = ap.parse_args()
    host = machine()
    versions = {d: metadata.version(d) for d in ("numpy", "torch", "gensim")}
    knn = fit(a.n, a.work, "knn", [], [], a.on)["r_precision"]
    print(f"knn R-precision {knn:.4f}", flush=True)
    for model in a.models.split(","):
        for epochs in (int(e) for e in a.epochs.split(",")):
            extra = [f"epochs={epochs}", *a.params]
            if model == "sgns":
                extra.append("device='cpu'")
            knobs = a.knobs if model == "sgns" else []
            r = fit(a.n, a.work, model, extra, knobs, a.on, a.candidates)
            row = {
                "model": model, "n": a.n, "epochs": epochs, "params": extra, "knobs": knobs,
                "on": a.on, **_measured(r, knn),
                "date": dt.date.today().isoformat(), "load_avg_1m": round(os.getloadavg()[0], 2),
                "generator": generator_version(), "command": " ".join(sys.argv),
                "machine": host, "versions": versions,
            }  # fmt: skip
            print(f"{model} {epochs} epochs {' '.join(extra[1:] + knobs)}: "
                  + (f"failed: {row['error']}" if "error" in row else
                     f"R-prec {row['r_precision']:.4f} ({row['ratio_to_knn']:.2f}x knn), "
                     f"fit {row['fit_s']:.0f} s"), flush=True)  # fmt: skip
            with a.out.open("ab") as f:
                f.write(orjson.dumps(row) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
