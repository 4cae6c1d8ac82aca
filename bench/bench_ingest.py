"""Ingest benchmark: JSON slices -> encoded corpus (throughput, peak RSS, cached reload).

Writes N playlists as MPD-shaped slices (the synthetic generator when it exists, otherwise the
small writer below), ingests them with `harness.data.ingest.load_corpus` into a fresh cache, reloads them
from the cache, and writes the figures to `bench/out/ingest.json`, with a linear extrapolation to
the full MPD (1,000,000 playlists, ~33 GB of JSON).

    python bench/bench_ingest.py --playlists 100000 [--workers 2] [--keep]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from harness.atomic import write_json
from harness.data.ingest import load_corpus
from harness.data.slices import DECODER

FULL_MPD_PLAYLISTS = 1_000_000
FULL_MPD_BYTES = 33.5e9  # the real 1,000 slices, as downloaded
REFERENCE_DECODE_MB_S = 31.5 / 0.045  # msgspec on a real-size slice, free machine (issue 2)
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_WORDS = (
    "love night summer blue heart fire road dream gold rain wild city moon song dance baby "
    "girl boy home light time life good bad young free high low sweet dark river sky"
).split()


def _uris(rng: np.random.Generator, kind: str, n: int) -> list[str]:
    chars = _B62[rng.integers(0, 62, size=(n, 22))]  # (n, 22) uint8
    return [f"spotify:{kind}:{row.tobytes().decode()}" for row in chars]


def _names(rng: np.random.Generator, n: int) -> list[str]:
    k = rng.integers(1, 4, size=n)
    w = rng.integers(0, len(_WORDS), size=(n, 3))
    return [" ".join(_WORDS[j].title() for j in w[i, : k[i]]) for i in range(n)]


def write_mpd_like(out_dir: Path, n_playlists: int, seed: int) -> list[Path]:
    """Write MPD-shaped slices of 1,000 playlists (Zipf popularity, 5..250 tracks)."""
    rng = np.random.default_rng(seed)
    n_tracks = 1000 + int(2.3 * n_playlists)
    n_albums, n_artists = max(10, n_tracks // 3), max(10, n_tracks // 8)
    album_artist = rng.integers(0, n_artists, size=n_albums)  # (n_albums,)
    track_album = rng.integers(0, n_albums, size=n_tracks)  # (n_tracks,)
    art_uri, art_name = _uris(rng, "artist", n_artists), _names(rng, n_artists)
    alb_uri, alb_name = _uris(rng, "album", n_albums), _names(rng, n_albums)
    tr_uri, tr_name = _uris(rng, "track", n_tracks), _names(rng, n_tracks)
    dur = rng.integers(60_000, 400_000, size=n_tracks)
    popularity = 1.0 / np.arange(1, n_tracks + 1) ** 0.9
    cdf = np.cumsum(popularity / popularity.sum())  # (n_tracks,)
    t = {
        "track_album": track_album,
        "album_artist": album_artist,
        "art_uri": art_uri,
        "art_name": art_name,
        "alb_uri": alb_uri,
        "alb_name": alb_name,
        "tr_uri": tr_uri,
        "tr_name": tr_name,
        "dur": dur,
    }
    paths = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for first in range(0, n_playlists, 1000):
        last = min(first + 1000, n_playlists) - 1
        playlists = [_playlist(pid, rng, cdf, t) for pid in range(first, last + 1)]
        info: dict[str, Any] = {
            "generated_on": "2017-12-03 08:41:42.057563",
            "slice": f"{first}-{last}",
            "version": "v1",
            "synthetic": True,  # the harness convention for made-up data
        }
        path = out_dir / f"mpd.slice.{first}-{last}.json"
        path.write_bytes(
            orjson.dumps({"info": info, "playlists": playlists}, option=orjson.OPT_INDENT_2)
        )
        paths.append(path)
    return paths


def _playlist(pid: int, rng: np.random.Generator, cdf: Any, t: dict[str, Any]) -> dict[str, Any]:
    n = int(np.clip(rng.lognormal(3.9, 0.75), 5, 250))
    ids = np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)  # (n,)
    tracks = []
    for pos, i in enumerate(ids.tolist()):
        b = int(t["track_album"][i])
        a = int(t["album_artist"][b])
        tracks.append(
            {
                "pos": pos,
                "artist_name": t["art_name"][a],
                "track_uri": t["tr_uri"][i],
                "artist_uri": t["art_uri"][a],
                "track_name": t["tr_name"][i],
                "album_uri": t["alb_uri"][b],
                "duration_ms": int(t["dur"][i]),
                "album_name": t["alb_name"][b],
            }
        )
    return {
        "name": _WORDS[int(rng.integers(len(_WORDS)))],
        "collaborative": "false",
        "pid": pid,
        "modified_at": 1_500_000_000 - 86400 * int(rng.integers(0, 1000)),
        "num_tracks": n,
        "num_albums": len({tr["album_uri"] for tr in tracks}),
        "num_followers": 1 + int(rng.geometric(0.7)) - 1,
        "tracks": tracks,
        "num_edits": int(rng.integers(1, 30)),
        "duration_ms": sum(tr["duration_ms"] for tr in tracks),
        "num_artists": len({tr["artist_uri"] for tr in tracks}),
    }


def _write_slices(out_dir: Path, n_playlists: int, seed: int) -> str:
    try:
        from harness.data.synthetic import write_synthetic
    except ImportError:
        write_mpd_like(out_dir, n_playlists, seed)
        return "bench.write_mpd_like"
    write_synthetic(out_dir, n_playlists, seed)
    return "harness.data.synthetic.write_synthetic"


class PeakRSS:
    """Samples this process's RSS (plus its children's) every 50 ms; `peak` in bytes."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        pids = [os.getpid()]
        try:
            kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
            pids += [int(k) for k in kids]
        except OSError:
            pass
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/statm").read_text().split()
                total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
            except OSError:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--playlists", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=None, help="parser processes (default: auto)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=None, help="use/keep slices in this folder")
    ap.add_argument("--keep", action="store_true", help="keep the generated slices")
    ap.add_argument("--out", type=Path, default=Path("bench/out/ingest.json"))
    args = ap.parse_args(argv)

    work = Path(
        tempfile.mkdtemp(prefix="bench-ingest-", dir=args.data.parent if args.data else None)
    )
    data = args.data or work / "slices"
    try:
        writer = "existing"
        if not any(data.glob("mpd.slice.*.json")):
            t0 = time.perf_counter()
            writer = _write_slices(data, args.playlists, args.seed)
            print(
                f"wrote {args.playlists} playlists in {time.perf_counter() - t0:.1f} s", flush=True
            )
        files = sorted(data.glob("mpd.slice.*.json"))
        n_bytes = sum(p.stat().st_size for p in files)
        # Calibration on this machine now: msgspec decoding alone of a few slices, in CPU time,
        # against the figure on a free machine (31.5 MB in 45 ms = 700 MB/s).
        raws = [f.read_bytes() for f in files[:3]]
        c0 = time.process_time()
        for raw in raws:
            DECODER.decode(raw)
        decode_MB_s = sum(map(len, raws)) / 1e6 / (time.process_time() - c0)
        del raws
        slowdown = max(1.0, REFERENCE_DECODE_MB_S / decode_MB_s)
        load_before = os.getloadavg()[0]
        cache = work / "cache"
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # e.g. the generator's processes
        t0 = time.perf_counter()
        with PeakRSS() as rss:
            corpus = load_corpus(data, cache_dir=cache, workers=args.workers)
        ingest_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.perf_counter(), time.process_time()
        again = load_corpus(data, cache_dir=cache)
        reload_s, reload_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert again.n_playlists == corpus.n_playlists and len(again.track_ids) == len(
            corpus.track_ids
        )
        cache_bytes = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
        n = corpus.n_playlists
        scale = FULL_MPD_PLAYLISTS / n
        main_cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        kids_cpu = kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime
        # On two free cores the wall time is at least half the total CPU, and at least the
        # serial merge in the main process.
        cpu_bound_s = max((main_cpu + kids_cpu) / 2, main_cpu)
        res = {
            "playlists": n,
            "track_occurrences": len(corpus.track_ids),
            "unique_tracks": corpus.n_tracks,
            "json_bytes": n_bytes,
            "writer": writer,
            "workers": args.workers,
            "ingest_s": round(ingest_s, 3),
            "ingest_MB_per_s": round(n_bytes / 1e6 / ingest_s, 1),
            "playlists_per_s": round(n / ingest_s),
            "main_cpu_s": round(main_cpu, 2),
            "children_cpu_s": round(kids_cpu, 2),
            "decode_only_cpu_MB_per_s": round(decode_MB_s, 1),
            "cpu_slowdown_vs_reference": round(slowdown, 2),
            "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "cpu_count": os.cpu_count(),
            "peak_rss_sampled_MB": round(rss.peak / 2**20),
            "peak_rss_main_maxrss_MB": round(cpu1.ru_maxrss / 1024),
            "peak_rss_children_maxrss_MB": round(kids.ru_maxrss / 1024),
            "cache_MB": round(cache_bytes / 2**20, 1),
            "cached_reload_s": round(reload_s, 3),
            "cached_reload_cpu_s": round(reload_cpu, 3),
            "extrapolated_1M": {
                "ingest_s_by_playlists": round(ingest_s * scale, 1),
                "ingest_s_from_cpu_time_on_2_free_cores": round(cpu_bound_s * scale, 1),
                "ingest_s_from_cpu_time_calibrated": round(cpu_bound_s * scale / slowdown, 1),
                "ingest_s_by_bytes": round(ingest_s * FULL_MPD_BYTES / n_bytes, 1),
                "cached_reload_s": round(reload_s * scale, 1),
                "cached_reload_cpu_s": round(reload_cpu * scale, 1),
                "note": "linear in playlists / JSON bytes; RSS of the id tables grows with "
                "unique tracks (2.26M in the real MPD), not linearly",
            },
        }
        write_json(args.out, res)
        print(orjson.dumps(res, option=orjson.OPT_INDENT_2).decode())
    finally:
        if args.keep and args.data is None:
            print(f"kept slices in {data}", file=sys.stderr)
            shutil.rmtree(work / "cache", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
