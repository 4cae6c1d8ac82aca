"""Synthetic MPD fidelity: how the generated playlists behave, against the published figures.

Samples N playlists of the generator (`iter_samples`-style, no JSON: the statistics do not depend
on rendering) and reports, for issue #21's fidelity table:

- popularity concentration: the top 1% of tracks' share of occurrences (at the real sample's size,
  7,000 playlists, and at N), tracks in ≥ 50 playlists, the top-20 track and artist occurrence
  counts (scaled to 1M playlists, published figures beside them);
- vocabulary: unique tracks, artists, albums at N and its prefixes, extrapolated to 1M;
- titles: normalised title counts, the top titles, same-title vs random-pair track overlap for
  generic and specific titles; length and follower histograms;
- with `--split`: the challenge split of the sampled corpus (best-effort coverage; per-category
  mean num_tracks vs published, test-track occurrences absent from training; whether the
  official rule succeeds) and R-precision of `popular`, `title` and `knn` on it, with paired
  Wilcoxon tests.

Results go to `--out` (default `bench/fidelity.json`, kept in git: the source of the fidelity
table in docs/synthetic.md) under the key `--label`, then the number of playlists, so before and
after runs sit side by side.

    python bench/bench_fidelity.py --playlists 50000 --split --label after
    python bench/bench_fidelity.py --playlists 1000000 --workers 2 --label after
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from harness.atomic import read_json, write_json
from harness.challenge.split import make_split
from harness.data.corpus import Corpus, normalize_name
from harness.data.synthetic import (
    GENERATOR_VERSION,
    PUBLISHED,
    SLICE_SIZE,
    SliceSample,
    SyntheticMPD,
    SynthParams,
    make_uris,
)
from harness.data.synthetic.fidelity import (
    SAMPLE_PLAYLISTS,
    TOP1_SHARE_REAL_SAMPLE,
    growth_fit,
    popularity_figures,
    title_overlap,
    top_counts,
)
from harness.errors import UsageError

FULL = 1_000_000
OUT = Path(__file__).parent / "fidelity.json"
PUBLISHED_TOP20_TRACKS = [
    46574, 43447, 41309, 41079, 39987, 35202, 35138, 34999, 34990, 34922,
    33699, 32391, 32336, 32059, 31492, 31374, 31119, 31106, 30678, 30485,
]  # fmt: skip
PUBLISHED_LENGTH_TOP = [20, 15, 21, 16, 17, 18, 22, 19, 24, 23, 30, 14, 25, 26, 28, 27, 29, 13]
PUBLISHED_FOLLOWERS = [754219, 149600, 46939, 19591, 9813, 5360, 3305, 2143, 1512, 1006]
PUBLISHED_TITLE_COUNTS = [
    ("country", 10000), ("chill", 10000), ("rap", 8493), ("workout", 8481), ("oldies", 8146),
    ("christmas", 8015), ("rock", 6848), ("party", 6157), ("throwback", 5883), ("jams", 5063),
]  # fmt: skip

_GEN: SyntheticMPD | None = None


def _init(seed: int, params: SynthParams) -> None:
    global _GEN
    _GEN = SyntheticMPD(seed, params)


def _sample(task: tuple[int, int]) -> SliceSample:
    assert _GEN is not None
    return _GEN.sample_slice(*task)


def samples(n: int, seed: int, params: SynthParams, workers: int) -> Any:
    """The slices of N playlists in order (sampled by `workers` processes)."""
    tasks = [(i, min(SLICE_SIZE, n - i * SLICE_SIZE)) for i in range(-(-n // SLICE_SIZE))]
    if workers <= 1:
        _init(seed, params)
        yield from map(_sample, tasks)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(seed, params)) as pool:
        yield from pool.imap(_sample, tasks, chunksize=1)


class Stream:
    """Counts over the slices seen so far (memory flat in N, except the kept prefix)."""

    def __init__(self, gen: SyntheticMPD, keep: int) -> None:
        cat = gen.catalogue
        self.cat = cat
        self.occ = np.zeros(cat.n_tracks, dtype=np.int64)
        self.pl = np.zeros(cat.n_tracks, dtype=np.int64)
        self.artist_occ = np.zeros(cat.n_artists, dtype=np.int64)
        self.album_seen = np.zeros(cat.n_albums, dtype=bool)
        self.titles: Counter[str] = Counter()
        self.raw_titles: set[str] = set()
        self.lengths: Counter[int] = Counter()
        self.followers: Counter[int] = Counter()
        self.n = 0
        self.keep = keep
        self.kept: list[SliceSample] = []
        self.prefixes: list[dict[str, int]] = []
        self.sample_figures: dict[str, Any] | None = None

    def add(self, s: SliceSample) -> None:
        n = len(s.names)
        lengths = np.diff(s.offsets)
        pl = np.repeat(np.arange(n), lengths)
        self.occ += np.bincount(s.tracks, minlength=len(self.occ))
        pairs = np.unique(pl * self.cat.n_tracks + s.tracks)
        self.pl += np.bincount(pairs % self.cat.n_tracks, minlength=len(self.pl))
        self.artist_occ += np.bincount(
            self.cat.track_artist[s.tracks], minlength=len(self.artist_occ)
        )
        self.album_seen[self.cat.track_album[s.tracks]] = True
        self.titles.update(normalize_name(t) for t in s.names)
        self.raw_titles.update(s.names)
        self.lengths.update(lengths.tolist())
        self.followers.update(s.num_followers.tolist())
        self.n += n
        if self.n <= self.keep:
            self.kept.append(s)
        if self.sample_figures is None and self.n >= SAMPLE_PLAYLISTS:
            self.sample_figures = popularity_figures(self.occ, self.pl)

    def prefix(self) -> None:
        """Record the vocabulary at the current size (for the growth fit)."""
        self.prefixes.append(
            {
                "playlists": self.n,
                "unique_tracks": int((self.occ > 0).sum()),
                "unique_artists": int((self.artist_occ > 0).sum()),
                "unique_albums": int(self.album_seen.sum()),
            }
        )


def figures(st: Stream) -> dict[str, Any]:
    """Every streamed figure, beside the published one where there is one."""
    scale = FULL / st.n
    pop = popularity_figures(st.occ, st.pl)
    top_tracks = [round(c * scale) for c in pop["top20_occurrences"]]
    top_artists = [round(c * scale) for c in top_counts(st.artist_occ)]
    last = st.prefixes[-1]
    growth = {
        k: {
            "at_n": last[k],
            **growth_fit(st.prefixes, k, FULL),
            "published_1m": PUBLISHED[k],
        }
        for k in ("unique_tracks", "unique_artists", "unique_albums")
    }
    n_len = sum(st.lengths.values())
    return {
        "playlists": st.n,
        "popularity": {
            "at_n": pop,
            "at_real_sample_size": st.sample_figures,
            "top1pct_share_real_sample": TOP1_SHARE_REAL_SAMPLE,
            "top20_track_occurrences_per_1m": top_tracks,
            "top20_track_ratio_to_published": _ratios(top_tracks, PUBLISHED_TOP20_TRACKS),
            "top20_artist_occurrences_per_1m": top_artists,
            "top20_artist_ratio_to_published": _ratios(
                top_artists, PUBLISHED["top20_artist_occurrences_per_1m"]
            ),
            "top_track_playlist_share": round(int(st.pl.max()) / st.n, 4),
        },
        "vocabulary": {"prefixes": st.prefixes, **growth},
        "titles": {
            "unique_titles": len(st.raw_titles),
            "unique_normalized_titles": len(st.titles),
            "published_1m": [PUBLISHED["unique_titles"], PUBLISHED["unique_normalized_titles"]],
            "top20_per_1m": [(t, round(c * scale)) for t, c in st.titles.most_common(20)],
            "published_top10": PUBLISHED_TITLE_COUNTS,
        },
        "lengths": {
            "mean": round(sum(k * v for k, v in st.lengths.items()) / n_len, 2),
            "top20": [k for k, _ in st.lengths.most_common(20)],
            "published_top": PUBLISHED_LENGTH_TOP,
        },
        "followers": {
            "share_1_to_10": [round(st.followers[k] / st.n, 4) for k in range(1, 11)],
            "published_1_to_10": [round(v / 1e6, 4) for v in PUBLISHED_FOLLOWERS],
        },
    }


def _ratios(ours: list[int], published: list[int]) -> dict[str, float]:
    r = np.asarray(ours[: len(published)]) / np.asarray(published[: len(ours)])
    return {"min": round(float(r.min()), 3), "max": round(float(r.max()), 3)}


# ------------------------------------------------------------------------------ split, models


def corpus_from_samples(gen: SyntheticMPD, kept: list[SliceSample]) -> Corpus:
    """The Corpus that ingesting the written slices would give, up to the id order (ids here
    follow the catalogue, not first appearance) and names (empty: nothing below reads them)."""
    cat = gen.catalogue
    lengths = np.concatenate([np.diff(s.offsets) for s in kept])
    uniq, inv = np.unique(np.concatenate([s.tracks for s in kept]), return_inverse=True)
    ua, a_inv = np.unique(cat.track_artist[uniq], return_inverse=True)
    ub, b_inv = np.unique(cat.track_album[uniq], return_inverse=True)
    n = len(lengths)

    def obj(values: Any) -> Any:
        return np.asarray(values, dtype=object)

    return Corpus(
        pids=np.arange(n, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        track_ids=inv.astype(np.int32),
        names=obj([t for s in kept for t in s.names]),
        descriptions=obj([d for s in kept for d in s.descriptions]),
        collaborative=np.concatenate([s.collaborative for s in kept]),
        modified_at=np.concatenate([s.modified_at for s in kept]).astype(np.int64),
        num_followers=np.concatenate([s.num_followers for s in kept]).astype(np.int32),
        num_edits=np.concatenate([s.num_edits for s in kept]).astype(np.int32),
        track_uris=obj(make_uris("track", uniq, gen.seed)),
        track_names=obj([""] * len(uniq)),
        track_artist=a_inv.astype(np.int32),
        track_album=b_inv.astype(np.int32),
        track_duration=cat.track_duration[uniq].astype(np.int64),
        artist_uris=obj(make_uris("artist", ua, gen.seed)),
        artist_names=obj([""] * len(ua)),
        album_uris=obj(make_uris("album", ub, gen.seed)),
        album_names=obj([""] * len(ub)),
        source={"synthetic": True, "fingerprint": f"bench-fidelity-{n}-{gen.seed}"},
    )


def split_figures(corpus: Corpus) -> tuple[dict[str, Any], Any]:
    """The best-effort split's per-category figures, and whether the official rule holds."""
    t0 = time.perf_counter()
    split = make_split(corpus, seed=0)
    cats = {}
    for number, r in split.report.items():
        entry = {
            "mean": r["num_tracks"]["mean"],
            "std": r["num_tracks"]["std"],
            "not_in_train": sum(r["not_in_train"].values()),
        }
        if "target" in r:
            entry["target_mean"] = r["target"]["mean"]
            entry["mean_off_pct"] = round(
                100 * (r["num_tracks"]["mean"] / r["target"]["mean"] - 1), 1
            )
        if "best_effort" in r:
            entry["best_effort_filled"] = r["best_effort"]["filled"]
        cats[number] = entry
    try:
        make_split(corpus, seed=0, coverage="official")
        official: str = "succeeds"
    except UsageError as e:
        official = f"refused: {e}"
    return {
        "per_category": split.settings["per_category"],
        "categories": cats,
        "not_in_train": sum(c["not_in_train"] for c in cats.values()),
        "coverage_official": official,
        "seconds": round(time.perf_counter() - t0, 1),
    }, split


def model_figures(corpus: Corpus, split: Any, names: list[str]) -> dict[str, Any]:
    """R-precision of each model overall and per category, as the runner computes it (seedless
    queries of `cold_start == "title"` models to the title baseline; popularity backfill)."""
    from harness.challenge.metrics import compute_metrics
    from harness.challenge.split import train_set
    from harness.report.significance import paired_test
    from harness.run.checks import backfill
    from models import MODELS
    from models.popular import popularity_ranking

    train = train_set(corpus, split)
    q = split.queries
    ranking = popularity_ranking(train)
    title = MODELS["title"]().fit(train)
    artists = corpus.track_artist
    per: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {}
    for name in names:
        t0 = time.perf_counter()
        model = MODELS[name]().fit(train)
        recs = np.full((len(q), 500), -1, dtype=np.int32)
        routed = (q.n_seeds == 0) if model.cold_start == "title" else np.zeros(len(q), bool)
        for who, idx in ((model, np.flatnonzero(~routed)), (title, np.flatnonzero(routed))):
            for s in range(0, len(idx), 1000):
                part = idx[s : s + 1000]
                recs[part] = who.recommend(q.subset(part), 500)
        recs, _ = backfill(recs, q, ranking, 500)
        gt = split.holdout_ids
        m = compute_metrics(recs, split.holdout_offsets, gt, artists[gt], artists[recs])
        per[name] = m["r_precision"]
        out[name] = {
            "r_precision": round(float(m["r_precision"].mean()), 4),
            "by_category": {
                str(c): round(float(m["r_precision"][q.categories == c].mean()), 4)
                for c in range(1, 11)
            },
            "seconds": round(time.perf_counter() - t0, 1),
        }
    if "popular" in per:
        base = per["popular"]
        cat1 = q.categories == 1
        for name in names:
            if name != "popular":
                out[name]["over_popular"] = round(float(per[name].mean() / base.mean()), 2)
                out[name]["p_vs_popular"] = float(paired_test(per[name], base))
                out[name]["p_vs_popular_cat1"] = float(paired_test(per[name][cat1], base[cat1]))
    return out


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--playlists", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--split", action="store_true", help="also split and score models (≤ 500k)")
    ap.add_argument("--models", default="popular,title,knn")
    ap.add_argument("--label", default="current", help="key of this run in the output file")
    ap.add_argument(
        "-p",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a SynthParams field (calibration runs)",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    n = args.playlists
    overrides = {
        k: type(getattr(SynthParams(), k))(v) for k, _, v in (a.partition("=") for a in args.params)
    }
    params = SynthParams(**overrides)
    gen = SyntheticMPD(args.seed, params)
    marks = {max(SLICE_SIZE, n // k // SLICE_SIZE * SLICE_SIZE) for k in (8, 4, 2)} | {n}
    st = Stream(gen, keep=n if args.split else min(n, 50_000))
    t0 = time.perf_counter()
    for s in samples(n, args.seed, params, args.workers):
        st.add(s)
        if st.n in marks:
            st.prefix()
    sample_seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": args.seed,
        "params": overrides,
        "sample_seconds": round(sample_seconds, 1),
        **figures(st),
    }
    prefix = st.kept[: -(-min(n, 50_000) // SLICE_SIZE)]
    corpus = corpus_from_samples(gen, prefix)
    result["title_overlap"] = title_overlap(
        corpus.offsets, corpus.track_ids, list(corpus.normalized_names)
    )
    result["title_overlap"]["playlists"] = corpus.n_playlists
    if args.split:
        corpus = corpus_from_samples(gen, st.kept)
        result["split"], split = split_figures(corpus)
        result["models"] = model_figures(corpus, split, args.models.split(","))
    doc = read_json(args.out) if args.out.exists() else {}
    doc.setdefault(args.label, {})[str(n)] = result
    write_json(args.out, doc)
    _print(result)
    print(f"wrote {args.out} [{args.label}][{n}]")
    return 0


def _print(r: dict[str, Any]) -> None:
    p = r["popularity"]
    print(f"{r['playlists']:,} playlists, sampled in {r['sample_seconds']} s")
    print(
        f"top-1% share at {SAMPLE_PLAYLISTS:,}: {p['at_real_sample_size']['top1pct_share']}"
        f" (real sample {TOP1_SHARE_REAL_SAMPLE}); at N: {p['at_n']['top1pct_share']}"
    )
    print(
        f"tracks in >= 50 playlists: at {SAMPLE_PLAYLISTS:,} "
        f"{p['at_real_sample_size']['tracks_in_50_playlists']}, at N {p['at_n']['tracks_in_50_playlists']}"
    )
    print(
        f"top-20 tracks per 1M: {p['top20_track_occurrences_per_1m'][:3]}..."
        f"{p['top20_track_occurrences_per_1m'][-1]} ratio {p['top20_track_ratio_to_published']}"
    )
    print(
        f"top-20 artists per 1M: {p['top20_artist_occurrences_per_1m'][:3]}..."
        f"{p['top20_artist_occurrences_per_1m'][-1]} ratio {p['top20_artist_ratio_to_published']}"
    )
    for k in ("unique_tracks", "unique_artists", "unique_albums"):
        print(f"{k}: {r['vocabulary'][k]}")
    t = r["titles"]
    print(
        f"titles: {t['unique_titles']:,} / normalised {t['unique_normalized_titles']:,}; "
        f"top {t['top20_per_1m'][:6]}"
    )
    for kind, v in r["title_overlap"].items():
        print(f"title overlap {kind}: {v}")
    if "split" in r:
        s = r["split"]
        print(f"split: not in train {s['not_in_train']}, official {s['coverage_official'][:60]}")
        for c, v in s["categories"].items():
            print(f"  cat {c}: {v}")
        for name, v in r["models"].items():
            print(f"  {name}: {v}")


if __name__ == "__main__":
    sys.exit(main())
