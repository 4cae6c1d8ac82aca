"""Response times of `mpd-harness serve` on a large run, and track search at the full MPD's size.

    python bench/bench_serve.py [--preset large] [--per-category 1000] [--repeat 5]

1. In --work, `evaluate --synthetic PRESET --per-category N` (10,000 test playlists by default;
   reused when there) with popular, title and knn.
2. `serve` on that run (a child process): start-up time (loading every run), then every page
   and endpoint requested --repeat times over HTTP: the first answer and the slowest of the
   rest, and the server's peak RSS. Generation's first call refits the model: reported apart.
3. Track search over 2.26M made-up tracks (the full MPD's count): index build and query times.

Writes bench/serve_results.json and bench/serve_results.md. All data is synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO))  # this tree's harness, not an installed one
FULL_TRACKS = 2_262_292  # unique tracks of the MPD (mpd-facts §1)
FULL_ARTISTS = 295_860


def sh(cmd: list[str], cwd: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, env=env())


def env() -> dict[str, str]:
    e = dict(os.environ, PYTHONHASHSEED="0", PYTHONUNBUFFERED="1")
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH")]))
    return e


def start_server(work: Path, run: str) -> tuple[subprocess.Popen[str], str, float]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "harness", "serve", run, "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=work, env=env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"serving on (http://\S+?)/ ", line)
        if m:
            base = m.group(1)
            break
    else:
        sys.exit(f"serve exited with {proc.wait()}")
    while True:
        try:
            with urllib.request.urlopen(base + "/api/runs", timeout=5):
                return proc, base, time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)


def fetch(base: str, path: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=600) as res:
        body = res.read()
        assert res.status == 200, path
    return time.perf_counter() - t0, body


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {k: int(v.split()[0]) for k, v in re.findall(r"(VmRSS|VmHWM):\s+(.+)", status)}
    return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024


def pages(base: str, run: str) -> dict[str, list[str]]:
    """Name -> the paths requested for it (several for the per-playlist page)."""
    listing = orjson.loads(fetch(base, f"/api/runs/{run}/playlists")[1])
    rng = np.random.default_rng(0)
    every = []
    for c in range(1, 11):
        doc = orjson.loads(fetch(base, f"/api/runs/{run}/playlists?category={c}")[1])
        every += [p["pid"] for p in doc["playlists"]]
    pids = rng.choice(every, size=20, replace=False).tolist()
    board = orjson.loads(fetch(base, f"/api/runs/{run}/leaderboard")[1])["models"]
    a, b = board[0]["name"], board[-1]["name"]
    artist = orjson.loads(fetch(base, f"/api/runs/{run}/tracks?q=a&limit=1")[1])["tracks"][0]
    r = f"/runs/{run}"
    q = urllib.parse.quote
    return {
        "runs page": ["/"],
        "leaderboard page": [r, r + "?sort=ndcg"],
        "leaderboard JSON": [f"/api/runs/{run}/leaderboard"],
        "category chart (SVG)": [r + "/charts/category_r_precision.svg"],
        "playlists page": [r + "/playlists", r + "/playlists?category=9&page=2"],
        "playlists title search": [r + "/playlists?q=" + q(listing["playlists"][0]["title"])],
        "playlist inspector page": [f"{r}/playlists/{p}" for p in pids],
        "playlist JSON (k=500)": [f"/api/runs/{run}/playlists/{p}?k=500" for p in pids[:5]],
        "compare page (default pair)": [f"{r}/compare"],
        "compare page (another pair: chart drawn)": [f"{r}/compare?a={a}&b={b}"],
        "compare JSON": [f"/api/runs/{run}/compare?a={a}&b={b}&metric=ndcg"],
        "track search JSON": [
            f"/api/runs/{run}/tracks?q={q(artist['artist'][:4])}",
            f"/api/runs/{run}/tracks?q={q(artist['name'])}",
            f"/api/runs/{run}/tracks?q=zzqqxx",
        ],
        "generate form": [r + "/generate"],
    }


def bench_pages(base: str, run: str, repeat: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, paths in pages(base, run).items():
        first = [fetch(base, p)[0] for p in paths]
        again = [fetch(base, p)[0] for _ in range(repeat) for p in paths]
        out[name] = {
            "first_max_s": max(first),
            "median_s": statistics.median(again),
            "max_s": max(again),
            "requests": len(first) + len(again),
        }
        print(f"{name:28s} first {max(first):.3f} s, then max {max(again):.3f} s", flush=True)
    return out


def bench_generate(base: str, run: str, model: str, repeat: int) -> dict[str, float]:
    path = f"/api/runs/{run}/generate?model={model}&title=road+trip&length=20"
    refit, _ = fetch(base, path)
    again = [fetch(base, path + f"&sample=1&seed={i}")[0] for i in range(repeat)]
    return {"model": model, "first_with_refit_s": refit, "max_s": max(again), "length": 20}


def bench_search_full(queries: int = 20) -> dict[str, float]:
    """TrackSearch over FULL_TRACKS made-up tracks: build time, query times, text size."""
    from harness.serve.search import TrackSearch

    rng = np.random.default_rng(0)
    syll = np.array(["ka", "lo", "mi", "ren", "to", "sa", "vi", "del", "ro", "an", "u", "es"])
    words = ["".join(rng.choice(syll, size=3)) for _ in range(20_000)]  # coined words
    names = np.array(
        [f"{words[i]} {words[j]}" for i, j in rng.integers(0, 20_000, (FULL_TRACKS, 2))],
        dtype=object,
    )
    artists = np.array([f"the {w}" for w in rng.choice(words, FULL_ARTISTS)], dtype=object)
    fake = SimpleNamespace(
        track_ids=rng.zipf(1.3, 66_000_000 // 10).astype(np.int64) % FULL_TRACKS,
        n_tracks=FULL_TRACKS,
        track_names=names,
        artist_names=artists,
        track_artist=rng.integers(0, FULL_ARTISTS, FULL_TRACKS),
    )
    t0 = time.perf_counter()
    search = TrackSearch(fake)  # type: ignore[arg-type]
    build = time.perf_counter() - t0
    times = {}
    for label, q in (("common", words[0][:3]), ("word", words[1]), ("none", "zzqqxx")):
        t = []
        for _ in range(queries):
            t0 = time.perf_counter()
            search.find(q, 20)
            t.append(time.perf_counter() - t0)
        times[label] = max(t)
    return {
        "tracks": FULL_TRACKS,
        "build_s": build,
        "text_mb": len(search.text) / 2**20,
        "query_max_s": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--per-category", type=int, default=1000)
    parser.add_argument("--models", default="popular,title,knn")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "serve")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    run = f"{args.preset}-{args.per_category}"
    sh(
        [
            sys.executable,
            "-m",
            "harness",
            "evaluate",
            "--synthetic",
            args.preset,
            "--per-category",
            str(args.per_category),
            "--models",
            args.models,
            "--out",
            f"runs/{run}",
        ],
        work,
    )
    proc, base, startup = start_server(work, f"runs/{run}")
    try:
        loaded = rss_mb(proc.pid)
        results = bench_pages(base, run, args.repeat)
        gen = bench_generate(base, run, args.models.split(",")[-1], args.repeat)
        after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    run_json = orjson.loads((work / "runs" / run / "run.json").read_bytes())
    doc: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        # the machine is shared: times are wall times under this load (1-minute average)
        "load_average": os.getloadavg()[0],
        "synthetic": True,
        "preset": args.preset,
        "n_playlists": run_json["data"]["n_playlists"],
        "n_tracks": run_json["data"]["n_tracks"],
        "n_test_playlists": run_json["split"]["n_queries"],
        "models": args.models.split(","),
        "startup_s": startup,
        "rss_after_startup_mb": loaded[0],
        "peak_rss_mb": after[1],
        "pages": results,
        "generate": gen,
        "search_full_size": bench_search_full(),
    }
    (ROOT / "serve_results.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    (ROOT / "serve_results.md").write_text(markdown(doc))
    print(markdown(doc))


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"# `serve` response times ({doc['date']}, {doc['machine']}, load average "
        f"{doc['load_average']:.1f})",
        "",
        f"**Synthetic** run: preset {doc['preset']}, {doc['n_playlists']:,} playlists, "
        f"{doc['n_tracks']:,} tracks, {doc['n_test_playlists']:,} test playlists, models "
        f"{', '.join(doc['models'])}. Start-up (load everything, draw the charts): "
        f"{doc['startup_s']:.1f} s; server RSS {doc['rss_after_startup_mb']:,.0f} MB after "
        f"start-up, peak {doc['peak_rss_mb']:,.0f} MB.",
        "",
        "| page | requests | first answer (max) s | later: median s | later: max s |",
        "|---|---|---|---|---|",
    ]
    for name, r in doc["pages"].items():
        lines.append(
            f"| {name} | {r['requests']} | {r['first_max_s']:.3f} | {r['median_s']:.3f} | "
            f"{r['max_s']:.3f} |"
        )
    g = doc["generate"]
    s = doc["search_full_size"]
    q = s["query_max_s"]
    lines += [
        "",
        f"Generation ({g['model']}, {g['length']} tracks from a title): first call, which refits "
        f"the model, {g['first_with_refit_s']:.2f} s; later calls at most {g['max_s']:.3f} s.",
        "",
        f"Track search over {s['tracks']:,} made-up tracks (the full MPD's count): index built "
        f"in {s['build_s']:.1f} s ({s['text_mb']:.0f} MB of text); slowest query: common prefix "
        f"{q['common']:.4f} s, a word {q['word']:.4f} s, no match {q['none']:.4f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
