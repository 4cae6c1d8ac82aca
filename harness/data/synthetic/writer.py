"""Writing the synthetic MPD: a sampled slice rendered as the real slice JSON (schema and key
order), slices written atomically by one or more processes, and the `synthetic.json` marker that
says a folder is complete and which generator made it."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from harness.atomic import atomic_dir, atomic_open, write_json
from harness.data.synthetic.catalogue import ERAS, Catalogue, IntArray, SynthParams
from harness.data.synthetic.names import (
    album_names,
    artist_names,
    hashes,
    make_uris,
    salt,
    track_names,
)
from harness.data.synthetic.sampler import SLICE_SIZE, SliceSample, SyntheticMPD
from harness.errors import UsageError

PRESETS: dict[str, int] = {
    "tiny": 2_000,  # tests and `nox -s smoke`
    "default": 50_000,  # `nox -s evaluate`
    "large": 200_000,
    "full": 1_000_000,  # the size of the real MPD
}
# Bump whenever the bytes written for a seed change (tests/test_synthetic.py pins a digest per
# version). `synthetic.json` records it, so `evaluate` regenerates data made by another version.
GENERATOR_VERSION = 4
MARKER = "synthetic.json"

# ------------------------------------------------------------------------------ JSON


def generated_on(seed: int, index: int) -> str:
    """A timestamp derived from the seed, a little later for each slice."""
    h = int(hashes(np.asarray([index]), seed, 0)[0])
    base = dt.datetime(2017, 12, 3, 8, 41, 42) + dt.timedelta(
        seconds=int(salt(seed, 0) % np.uint64(30 * 86_400))
    )
    t = base + dt.timedelta(seconds=index * 2, microseconds=h % 1_000_000)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def _track_bodies(cat: Catalogue, uniq: IntArray, seed: int) -> tuple[list[bytes], Any, Any]:
    """The JSON of each distinct track object without its "pos" (the first key) and its `{`,
    serialised once; with the local artist and album index of each track, both (n_uniq,)."""
    t_art = cat.track_artist[uniq].astype(np.int64)
    t_alb = cat.track_album[uniq].astype(np.int64)
    genres = cat.artist_cell[t_art] // len(ERAS)
    t_names = track_names(uniq, genres, seed)
    t_uris = make_uris("track", uniq, seed)
    ua, a_inv = np.unique(t_art, return_inverse=True)
    a_names = artist_names(ua, cat.artist_cell[ua] // len(ERAS), seed)
    a_uris = make_uris("artist", ua, seed)
    ub, b_inv = np.unique(t_alb, return_inverse=True)
    single_of = {int(b): t_names[i] for i, b in enumerate(t_alb) if _album_len(cat, b) == 1}
    b_names = album_names(ub, [single_of.get(int(b)) for b in ub], seed)
    b_uris = make_uris("album", ub, seed)
    dur = cat.track_duration[uniq].tolist()
    bodies = [
        orjson.dumps(
            {
                "artist_name": a_names[a_inv[i]],
                "track_uri": t_uris[i],
                "artist_uri": a_uris[a_inv[i]],
                "track_name": t_names[i],
                "album_uri": b_uris[b_inv[i]],
                "duration_ms": dur[i],
                "album_name": b_names[b_inv[i]],
            }
        )[1:]
        for i in range(len(uniq))
    ]
    return bodies, a_inv, b_inv


def _distinct_per_playlist(pl: IntArray, codes: IntArray, n: int) -> IntArray:
    """Distinct codes per playlist: `pl` and `codes` are (n_occurrences,), the result (n,)."""
    width = max(int(codes.max()) + 1, 1) if len(codes) else 1
    return np.bincount(np.unique(pl * width + codes) // width, minlength=n)


def render_slice(gen: SyntheticMPD, index: int, s: SliceSample) -> bytes:
    """Slice `index`'s file bytes: the real schema and key order (compact JSON)."""
    cat = gen.catalogue
    n = len(s.names)
    uniq, inv = np.unique(s.tracks, return_inverse=True)
    bodies, a_inv, b_inv = _track_bodies(cat, uniq, gen.seed)
    pl = np.repeat(np.arange(n), np.diff(s.offsets))  # (n_occurrences,)
    n_art = _distinct_per_playlist(pl, a_inv[inv].astype(np.int64), n)
    n_alb = _distinct_per_playlist(pl, b_inv[inv].astype(np.int64), n)
    durations = np.add.reduceat(cat.track_duration[s.tracks].astype(np.int64), s.offsets[:-1])
    inv_list = inv.tolist()
    playlists = []
    for i in range(n):
        lo, hi = int(s.offsets[i]), int(s.offsets[i + 1])
        head = {
            "name": s.names[i],
            "collaborative": "true" if s.collaborative[i] else "false",
            "pid": s.first_pid + i,
            "modified_at": int(s.modified_at[i]),
            "num_tracks": hi - lo,
            "num_albums": int(n_alb[i]),
            "num_followers": int(s.num_followers[i]),
        }
        tail: dict[str, Any] = {
            "num_edits": int(s.num_edits[i]),
            "duration_ms": int(durations[i]),
            "num_artists": int(n_art[i]),
        }
        if s.descriptions[i] is not None:
            tail["description"] = s.descriptions[i]
        tracks = b",".join(
            b'{"pos":%d,%s' % (pos, bodies[k]) for pos, k in enumerate(inv_list[lo:hi])
        )
        playlists.append(
            orjson.dumps(head)[:-1] + b',"tracks":[' + tracks + b"]," + orjson.dumps(tail)[1:]
        )
    info = {
        "generated_on": generated_on(gen.seed, index),
        "slice": f"{s.first_pid}-{s.first_pid + n - 1}",
        "version": "v1",
        "synthetic": True,
        "synthetic_seed": gen.seed,
    }
    # the same bytes as orjson.dumps of the whole object (tests check the round trip)
    return b'{"info":%s,"playlists":[%s]}\n' % (orjson.dumps(info), b",".join(playlists))


def _album_len(cat: Catalogue, album: int) -> int:
    return int(cat.album_start[album + 1] - cat.album_start[album])


# ------------------------------------------------------------------------------ writing


def slice_name(first_pid: int, n: int) -> str:
    return f"mpd.slice.{first_pid}-{first_pid + n - 1}.json"


def _slice_sizes(n_playlists: int) -> list[int]:
    full, rest = divmod(n_playlists, SLICE_SIZE)
    return [SLICE_SIZE] * full + ([rest] if rest else [])


_WORKER: SyntheticMPD | None = None


def _init_worker(seed: int, params: SynthParams) -> None:
    global _WORKER
    _WORKER = SyntheticMPD(seed, params)


def _init_pool_worker(seed: int, params: SynthParams) -> None:
    """A pool worker leaves Ctrl-C to the parent, which stops the pool (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(seed, params)


def _write_one(task: tuple[str, int, int]) -> str:
    """Sample, render and atomically write one slice (runs in a worker or in-process)."""
    out_dir, index, n = task
    gen = _WORKER
    assert gen is not None
    path = Path(out_dir) / slice_name(index * SLICE_SIZE, n)
    data = render_slice(gen, index, gen.sample_slice(index, n))
    with atomic_open(path, "wb") as f:
        f.write(data)
    return str(path)


def write_synthetic(
    out_dir: str | os.PathLike[str],
    n_playlists: int,
    seed: int = 0,
    *,
    workers: int | None = None,
    params: SynthParams | None = None,
) -> list[Path]:
    """Write `n_playlists` synthetic playlists as MPD slices into `out_dir`; return the paths.

    Slices are written one at a time (bounded memory), each atomically. `out_dir` may exist but
    must not hold other `mpd.slice.*.json` files (they would mix into the corpus).
    """
    if n_playlists < 1:
        raise UsageError(f"--playlists {n_playlists}: must be >= 1")
    params = params or SynthParams()
    out = Path(out_dir)
    sizes = _slice_sizes(n_playlists)
    names = [slice_name(i * SLICE_SIZE, n) for i, n in enumerate(sizes)]
    if out.is_dir():
        stale = sorted({p.name for p in out.glob("mpd.slice.*.json")} - set(names))
        if stale:
            raise UsageError(
                f"{out}: holds other MPD slices ({stale[0]}, ... {len(stale)} files); "
                "choose an empty folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    # the marker says "complete": drop an old one before the first slice changes, so a run
    # killed half-way leaves a folder that reads as incomplete, not as the earlier data
    (out / MARKER).unlink(missing_ok=True)
    tasks = [(str(out), i, n) for i, n in enumerate(sizes)]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(tasks) < 4:
        _init_worker(seed, params)
        paths = [_write_one(t) for t in tasks]
    else:
        ctx = multiprocessing.get_context("spawn")
        # Pool, not ProcessPoolExecutor: leaving the block on Ctrl-C terminates the workers
        # instead of waiting for every queued slice.
        with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(seed, params)) as pool:
            paths = pool.map(_write_one, tasks, chunksize=1)
    write_json(out / MARKER, marker(n_playlists, seed, params))  # last: only complete output
    return [Path(p) for p in paths]


def synthesize(
    out: Path, n_playlists: int, seed: int = 0, *, workers: int | None = None
) -> list[Path]:
    """`write_synthetic` for the `synth` command: into a new folder, the whole folder appears at
    once (a killed run leaves nothing that looks like an MPD); into an existing one, each slice
    atomically and `synthetic.json` last."""
    if out.exists():
        return write_synthetic(out, n_playlists, seed, workers=workers)
    with atomic_dir(out) as tmp:
        names = [p.name for p in write_synthetic(tmp, n_playlists, seed, workers=workers)]
    return [out / name for name in names]


def marker(n_playlists: int, seed: int, params: SynthParams | None = None) -> dict[str, Any]:
    """What `synthetic.json` says about a folder that `write_synthetic` completed."""
    return {
        "generator_version": GENERATOR_VERSION,
        "playlists": n_playlists,
        "seed": seed,
        "params": asdict(params or SynthParams()),
    }


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's `synthetic.json`, or None when absent or unreadable (treated as stale)."""
    try:
        doc = orjson.loads((folder / MARKER).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def iter_samples(
    n_playlists: int, seed: int = 0, params: SynthParams | None = None
) -> Iterator[SliceSample]:
    """The sampled slices without names or JSON (for statistics at sizes not worth writing)."""
    gen = SyntheticMPD(seed, params)
    for i, n in enumerate(_slice_sizes(n_playlists)):
        yield gen.sample_slice(i, n)
