"""Behavioural figures of a corpus of playlists, for comparing the synthetic MPD with the real one.

`measure.py` checks marginals (lengths, followers, titles) of written files; these functions
measure how playlists *behave* where models notice it: how concentrated track popularity is,
how much playlists sharing a normalised title share tracks compared with random pairs, and how
the vocabulary grows with the number of playlists. They take plain arrays (any corpus, real or
synthetic: nothing here knows where the data came from). `bench/bench_fidelity.py` drives them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

# The real sample the issue measured (about 7,000 playlists): the top 1% of tracks carried
# about 26% of the track occurrences there. The share depends on the corpus size, so it is
# compared at that size.
SAMPLE_PLAYLISTS = 7_000
TOP1_SHARE_REAL_SAMPLE = 0.26


def popularity_figures(occurrences: IntArray, playlists: IntArray) -> dict[str, Any]:
    """Concentration of track popularity.

    occurrences: (n_tracks,) occurrences of each track (0 for unseen ids); playlists:
    (n_tracks,) playlists holding each track. Returns the top-1% share of occurrences, the
    number of tracks in 50 or more playlists, the top-20 occurrence counts and the share of
    seen tracks that occur once.
    """
    seen = occurrences[occurrences > 0]
    counts = np.sort(seen)[::-1]  # (n_seen,)
    n_top = max(1, int(np.ceil(0.01 * len(counts))))
    total = max(int(counts.sum()), 1)
    return {
        "unique_tracks": len(counts),
        "top1pct_share": round(float(counts[:n_top].sum() / total), 4),
        "tracks_in_50_playlists": int((playlists >= 50).sum()),
        "top20_occurrences": counts[:20].tolist(),
        "tracks_once_share": round(float((counts == 1).sum() / max(len(counts), 1)), 4),
    }


def top_counts(counts: IntArray, n: int = 20) -> list[int]:
    """The n largest values of `counts` (e.g. occurrences per artist), largest first."""
    if len(counts) <= n:
        return sorted(counts.tolist(), reverse=True)
    top = np.partition(counts, len(counts) - n)[-n:]
    return sorted(top.tolist(), reverse=True)


def title_classes(titles: list[str], n_generic: int = 20) -> dict[str, list[str]]:
    """Normalised titles by kind: `generic` = the n most frequent ("chill", "rap"), `specific` =
    titles beyond the 100 most frequent that at least 3 playlists share ("bro country")."""
    ranked = Counter(titles).most_common()
    return {
        "generic": [t for t, _ in ranked[:n_generic]],
        "specific": [t for t, c in ranked[100:] if c >= 3],
    }


def title_overlap(
    offsets: IntArray,
    track_ids: NDArray[np.integer],
    titles: list[str],
    seed: int = 0,
    n_pairs: int = 3_000,
) -> dict[str, Any]:
    """Track overlap of playlists sharing a normalised title vs random pairs, per title kind.

    offsets: (n + 1,) CSR bounds of each playlist's `track_ids`; titles: (n,) normalised. For
    each kind of `title_classes`, `n_pairs` playlists of a title of that kind are paired with
    another playlist of the same title and with a random playlist. Returns per kind the mean
    Jaccard index of the track sets and the mean number of shared tracks, same-title vs random.
    """
    rng = np.random.default_rng(seed)
    n = len(titles)
    arr = np.asarray(titles, dtype=object)
    order = np.argsort(arr.astype(str), kind="stable")  # playlists grouped by title
    members: dict[str, IntArray] = {}
    bounds = np.flatnonzero(arr[order][1:] != arr[order][:-1]) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n], strict=True):
        members[str(arr[order[lo]])] = order[lo:hi]

    def tracks(i: int) -> IntArray:
        return np.unique(track_ids[offsets[i] : offsets[i + 1]])

    def overlap(a: int, b: int) -> tuple[float, int]:
        ta, tb = tracks(a), tracks(b)
        shared = len(np.intersect1d(ta, tb, assume_unique=True))
        return shared / (len(ta) + len(tb) - shared), shared

    out: dict[str, Any] = {}
    for kind, names in title_classes(titles).items():
        pool = np.concatenate([members[t] for t in names]) if names else np.zeros(0, np.int64)
        if len(pool) < 2:
            out[kind] = None
            continue
        same, other = [], []
        for a in rng.choice(pool, size=n_pairs):
            group = members[str(arr[a])]
            b = a
            while b == a:
                b = int(group[rng.integers(len(group))])
            c = a
            while c == a:
                c = int(rng.integers(n))
            same.append(overlap(int(a), b))
            other.append(overlap(int(a), c))
        js, ss = np.mean(same, axis=0)
        jo, so = np.mean(other, axis=0)
        out[kind] = {
            "titles": len(names),
            "playlists": len(pool),
            "jaccard_same_title": round(float(js), 4),
            "jaccard_random": round(float(jo), 4),
            "jaccard_ratio": round(float(js / max(jo, 1e-12)), 1),
            "shared_tracks_same_title": round(float(ss), 2),
            "shared_tracks_random": round(float(so), 3),
        }
    return out


def growth_fit(rows: list[dict[str, int]], key: str, target: int) -> dict[str, Any]:
    """Extrapolate a vocabulary count to `target` playlists from prefix counts.

    rows: [{"playlists": n, key: count}, ...] in increasing n. Two estimates: the local
    exponent of the last two prefixes held constant (overshoots: the exponent keeps falling)
    and a quadratic in log-log over every prefix (follows the curvature).
    """
    out: dict[str, Any] = {}
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        beta = float(np.log(b[key] / a[key]) / np.log(b["playlists"] / a["playlists"]))
        out["exponent"] = round(beta, 3)
        out["two_point"] = round(b[key] * (target / b["playlists"]) ** beta)
    if len(rows) >= 3:
        x = np.log([r["playlists"] for r in rows])
        coef = np.polyfit(x, np.log([r[key] for r in rows]), 2)
        out["loglog_quadratic"] = round(float(np.exp(np.polyval(coef, np.log(target)))))
    return out
