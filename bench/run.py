"""`nox -s bench`: every stage of the harness at 10k and 100k playlists (1M with --full).

With a CUDA GPU present, `sgns` also trains on it (rows "model:sgns-cuda"); on a GPU machine that
has only the working tree (no msgspec, gensim or nox), `bench/gpu_sgns.py` is the standalone check.

Each stage runs in its own process (bench/stage.py) so that wall time and peak RSS are measured
per stage, not estimated. Writes bench/results.json, bench/results.md and bench/scaling.png.
All data is synthetic (harness.data.synthetic); the results say so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent
MODELS = ["popular", "title", "knn", "item_knn", "w2v", "sgns", "als", "ease", "rp3beta", "rerank"]
# Skip-gram epochs per corpus size, so that the 1M evaluate stays within the time budget
# (one gensim epoch over the full MPD is ~10 min on 2 cores).
COMPARISONS = ("knn_speed", "sgns_speed")  # rows listed below the table, not in it or the plot
EPOCHS = {10_000: 5, 100_000: 3, 1_000_000: 1}


def _epochs(n: int) -> int:
    return next((e for size, e in sorted(EPOCHS.items()) if n <= size), 1)


def model_rows(model: str, n: int, gpu: bool) -> list[list[str]]:
    """The stage.py arguments of each row for `model` at size n: sgns pins device='cpu' in its
    CPU row (its default "auto" would pick the GPU there) and adds a CUDA row when gpu."""
    extra = ["--model", model]
    if model in ("w2v", "sgns"):
        extra += ["-p", f"epochs={_epochs(n)}"]
    if model != "sgns":
        return [extra]
    rows = [[*extra, "-p", "device='cpu'"]]
    return rows + ([[*extra, "-p", "device='cuda'"]] if gpu else [])


def run_stage(stage: str, n: int, work: Path, extra: list[str]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(ROOT / "stage.py"),
        stage,
        "--n",
        str(n),
        "--work",
        str(work),
        *extra,
    ]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        name = f"model:{extra[extra.index('--model') + 1]}" if "--model" in extra else stage
        name += "-cuda" if "device='cuda'" in extra else ""
        return {"stage": name, "n": n, "error": proc.stderr.strip().splitlines()[-1:]}
    res: dict[str, Any] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    res["date"] = dt.date.today().isoformat()  # rows of earlier runs are kept: each says when
    res["load_avg_1m"] = round(os.getloadavg()[0], 2)  # a shared machine: how busy it was
    res["generator"] = generator_version()  # the synthetic data differs between versions
    print(
        f"  {res['stage']:<16} n={n:<8} {res['wall_s']:8.1f} s  {res['peak_rss_mb']:8.0f} MB",
        flush=True,
    )
    return res


def generator_version() -> int:
    """The synthetic generator's version (rows without one were made by version 3)."""
    sys.path.insert(0, str(ROOT.parent))
    from harness.data.synthetic import GENERATOR_VERSION

    return GENERATOR_VERSION


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "platform": platform.platform()}
    try:
        info["ram_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    try:
        import torch

        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    return info


def doc_header(what: str) -> dict[str, Any]:
    """The first keys of a bench script's results file: what, data, when, how, where."""
    return {
        "what": what,
        "data": "synthetic MPD (bench corpus)",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "machine": machine(),
    }


def write_doc(out: Path, doc: dict[str, Any]) -> None:
    """A bench script's results file (indented JSON, written atomically), echoed to stdout."""
    sys.path.insert(0, str(ROOT.parent))
    from harness.atomic import write_json

    write_json(out, doc)
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def bench_train(work: Path, n: int) -> tuple[Any, Any, Any]:
    """(corpus, split, training set) of the bench's corpus and split under WORK/n<N>."""
    from harness.challenge.split import load_split, train_set
    from harness.data.ingest import load_corpus

    base = work / f"n{n}"
    corpus = load_corpus(base / "mpd", cache_dir=base / "cache")
    split = load_split(base / "split", corpus)
    return corpus, split, train_set(corpus, split)


def markdown(results: list[dict[str, Any]]) -> str:
    current = generator_version()
    sizes = sorted({r["n"] for r in results})
    stages = [s for s in dict.fromkeys(r["stage"] for r in results) if s not in COMPARISONS]
    by = {(r["stage"], r["n"]): r for r in results}
    head = "| stage | " + " | ".join(f"{n:,} playlists: s / peak MB" for n in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for st in stages:
        cells = []
        for n in sizes:
            r = by.get((st, n))
            if r is None:
                cells.append("–")
            elif "error" in r:
                cells.append("error")
            else:
                old = "†" if r.get("generator", 3) != current else ""
                cells.append(f"{r['wall_s']:.1f} / {r['peak_rss_mb']:.0f}{old}")
        lines.append(f"| {st} | " + " | ".join(cells) + " |")
    note = f"\n† measured on synthetic generator version 3 data; the others on version {current}.\n"
    return "\n".join(lines) + "\n" + note + speed_lines(results) + sgns_speed_lines(results)


def speed_lines(results: list[dict[str, Any]]) -> str:
    """The knn_speed rows: item_knn's fit against implicit's CosineRecommender fit."""
    rows = sorted((r for r in results if r["stage"] == "knn_speed" and "ratio" in r), key=_n)
    if not rows:
        return ""
    out = [
        "",
        "`item_knn` fit vs implicit `CosineRecommender` fit on the same training matrix "
        "(same neighbour count, one thread each, interleaved; wall seconds per round, ratio of "
        "the medians):",
        "",
    ]
    for r in rows:
        out.append(
            f"- {r['n']:,} playlists: item_knn {r['item_knn_fit_s']} s, implicit cosine "
            f"{r['cosine_fit_s']} s: ratio {r['ratio']:.2f} (load {r.get('load_avg_1m')}, "
            f"{r.get('date')}, generator version {r.get('generator', 3)})"
        )
    return "\n".join(out) + "\n"


def sgns_speed_lines(results: list[dict[str, Any]]) -> str:
    """The sgns_speed rows: sgns against gensim's word2vec at 1 and 2 threads."""
    rows = sorted((r for r in results if r["stage"] == "sgns_speed" and "words" in r), key=_n)
    if not rows:
        return ""
    out = ["", "`sgns` (PyTorch CPU) vs gensim `w2v` at equal threads on the same data "
           "(words/s = track occurrences x epochs / fit seconds; R-precision of each; "
           "fit time = gensim's fit seconds / sgns's, where their epochs differ):", ""]  # fmt: skip
    for r in rows:
        se, we = r.get("sgns_epochs", r["epochs"]), r.get("w2v_epochs", r["epochs"])
        how = f"{we} epochs" if se == we else f"sgns {se} / gensim {we} epochs"
        if r.get("candidate_min_count"):
            how += f", candidate_min_count {r['candidate_min_count']}"
        for t in (1, 2):
            sg, gs = r[f"sgns_t{t}"], r[f"w2v_t{t}"]
            fit = f"; fit time {r[f'fit_time_ratio_t{t}']:.2f}x" if se != we else ""
            out.append(
                f"- {r['n']:,} playlists, {how}, {t} thread(s): sgns "
                f"{sg['words_per_s']:,} words/s vs gensim {gs['words_per_s']:,}: "
                f"{r[f'speedup_t{t}']:.2f}x{fit}; R-precision {sg['r_precision']:.4f} vs "
                f"{gs['r_precision']:.4f} ({r[f'rprec_change_t{t}']:+.1%}) "
                f"(load {r.get('load_avg_1m')}, {r.get('date')})"
            )
    return "\n".join(out) + "\n"


def _n(r: dict[str, Any]) -> int:
    return int(r["n"])


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "error" not in r and r["stage"] not in COMPARISONS]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
    for st in dict.fromkeys(r["stage"] for r in ok):
        rs = sorted((r for r in ok if r["stage"] == st), key=lambda r: r["n"])
        xs = [r["n"] for r in rs]
        a.plot(xs, [max(r["wall_s"], 1e-3) for r in rs], marker="o", label=st)
        b.plot(xs, [r["peak_rss_mb"] for r in rs], marker="o", label=st)
    for ax, title in ((a, "wall time (s)"), (b, "peak RSS (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("playlists (synthetic MPD)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=7, ncol=2)
    fig.suptitle("mpd-harness scaling on synthetic data (2-core machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="also run the 1M-playlist corpus")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--stages", default="synth,ingest,reload,split,models,knn_speed,sgns_speed")
    ap.add_argument(
        "--speed-epochs",
        type=int,
        default=None,
        help="sgns_speed: gensim's epochs, and sgns's unless --speed-sgns-epochs (default: EPOCHS)",
    )
    ap.add_argument(
        "--speed-sgns-epochs", type=int, default=None, help="sgns_speed: sgns's own epochs"
    )
    ap.add_argument(
        "--speed-cmc", type=int, default=0, help="sgns_speed: both models' candidate_min_count"
    )
    ap.add_argument("--no-gpu", action="store_true", help="skip the CUDA rows even with a GPU")
    ap.add_argument("--work", type=Path, default=ROOT / "out")
    ap.add_argument("--results", type=Path, default=ROOT / "results.json")
    a = ap.parse_args()
    sizes = a.sizes or ([10_000, 100_000] + ([1_000_000] if a.full else []))
    stages = a.stages.split(",")
    gpu = machine()["gpu"] is not None and not a.no_gpu
    results: list[dict[str, Any]] = []
    if a.results.exists():  # keep earlier rows; a stage re-run now replaces its own row
        results = orjson.loads(a.results.read_bytes()).get("results", [])

    def put(row: dict[str, Any]) -> None:
        key = (row["stage"], row["n"])
        results[:] = [r for r in results if (r["stage"], r["n"]) != key] + [row]

    def save() -> None:  # after every stage, so an interrupted benchmark keeps its rows
        doc = {
            "data": "synthetic MPD (harness.data.synthetic)",
            "date": dt.date.today().isoformat(),
            "machine": machine(),
            "results": results,
        }
        a.results.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        md = a.results.with_suffix(".md")
        md.write_text(
            f"Synthetic MPD; {doc['date']}; {doc['machine']['cores']} cores, "
            f"{doc['machine'].get('ram_gb')} GB RAM, GPU: {doc['machine']['gpu']}\n\n"
            + markdown(results)
        )
        plot(results, a.results.with_name("scaling.png"))

    for n in sizes:
        for st in ["synth", "ingest", "reload", "split"]:
            if st in stages:
                put(run_stage(st, n, a.work, []))
                save()
        if "models" in stages:
            for m in a.models.split(","):
                for extra in model_rows(m, n, gpu):  # sgns on a GPU: also "model:sgns-cuda"
                    put(run_stage("model", n, a.work, extra))
                    save()
        if "knn_speed" in stages:  # item_knn's fit against implicit's cosine fit, interleaved
            put(run_stage("knn_speed", n, a.work, []))
            save()
        if "sgns_speed" in stages:  # sgns against gensim at equal threads, interleaved
            epochs = a.speed_epochs or _epochs(n)
            extra = ["--epochs", str(epochs), "--candidate-min-count", str(a.speed_cmc)]
            extra += ["--sgns-epochs", str(a.speed_sgns_epochs or epochs)]
            put(run_stage("sgns_speed", n, a.work, extra))
            save()
    print(
        f"wrote {a.results}, {a.results.with_suffix('.md')}, {a.results.with_name('scaling.png')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
