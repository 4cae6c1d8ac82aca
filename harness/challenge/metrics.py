"""The challenge metrics, one value per playlist, computed on id arrays with numpy only.

Definitions (docs/metrics.md has the sources and the reasons for each choice). For one playlist,
G is the SET of its held-out tracks (a track held out twice counts once, as in the organisers'
helper script, where `len(set(targets))` is the denominator, and in the winning team's code,
where the held-out tracks are the indices of a sparse row), R the recommendations in order with
ranks from 1, k = len(R) (500 in the challenge).

- `r_precision`: (|G ∩ R[1..|G|]| + 0.25 · a) / |G|, where a is the number of distinct artists
  of G that appear at a position of R[1..|G|] that is not a track hit (each artist credited once;
  a track hit does not use up its artist's credit). The maximum is 1.
- `r_precision_track`: |G ∩ R[1..|G|]| / |G| (the organisers' helper script).
- `ndcg`: organisers' helper: DCG = Σ_r rel_r / log2(r + 1);
  IDCG = Σ_{r=1}^{min(|G|, k)} 1 / log2(r + 1).
- `ndcg_rules`: rules page: DCG = rel_1 + Σ_{r≥2} rel_r / log2(r); IDCG the same sum over |G ∩ R|
  ideal hits; 0 when G ∩ R is empty.
- `clicks`: floor((rank of the first hit - 1) / 10); 51 when R holds no track of G.

An empty slot is -1 and never a hit; a row of -1 (a playlist missing from a submission) scores
r_precision 0, ndcg 0, clicks 51. A track repeated in R is a hit at its first position only
(valid submissions never repeat a track).

`REGISTRY` holds one `Metric` per metric: its function of the batch's `Hits`, which way is better,
its label, its definition and its role in the reports (ranked, plotted). `METRICS`,
`HIGHER_IS_BETTER`, `MISSING_SCORE`, `RANKED`, `PLOTTED` and `VARIANTS` are views of it, so a new
metric is one entry; `metric_definitions()` is the `metric_definitions` block of the JSON outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

NO_HIT_CLICKS = 51  # one more than the most clicks possible with 500 recommendations
ARTIST_CREDIT = 0.25

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _sorted_unique(x: IntArray) -> IntArray:
    """Sorted distinct values (np.unique is hash-based and much slower in numpy >= 2.3)."""
    s = np.sort(x)
    if len(s) == 0:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _first_matches(set_keys: IntArray, queries: IntArray) -> NDArray[np.bool_]:
    """For sorted `queries`, mark the first copy of each value that is in `set_keys`.

    `set_keys` is sorted and distinct. Both runs are merged by one stable sort (timsort merges
    two sorted runs in linear time): a query is a first match exactly when it directly follows
    the set key of the same value (set keys are encoded 2v, queries 2v + 1).
    """
    merged = np.concatenate([set_keys * 2, queries * 2 + 1])  # (len(set_keys) + len(queries),)
    merged.sort(kind="stable")
    is_query = (merged & 1).astype(bool)
    match = np.zeros(len(merged), dtype=bool)
    match[1:] = (merged[1:] - merged[:-1] == 1) & is_query[1:]
    return match[is_query]  # queries come out of the merge in their own (sorted) order


def _check_inputs(
    recs: NDArray[np.int64],
    gt_offsets: IntArray,
    gt_tracks: IntArray,
    gt_artists: IntArray,
    rec_artists: NDArray[np.int64],
) -> None:
    if recs.ndim != 2 or recs.shape[1] == 0:
        raise ValueError(f"recs must be 2-D (n, k) with k >= 1, got shape {recs.shape}")
    if rec_artists.shape != recs.shape:
        raise ValueError(f"rec_artists has shape {rec_artists.shape}, recs has {recs.shape}")
    n = recs.shape[0]
    if gt_offsets.shape != (n + 1,):
        raise ValueError(f"gt_offsets must have shape ({n + 1},), got {gt_offsets.shape}")
    if gt_offsets[0] != 0 or gt_offsets[-1] != len(gt_tracks) or (np.diff(gt_offsets) < 0).any():
        raise ValueError("gt_offsets must rise from 0 to len(gt_tracks)")
    if gt_artists.shape != gt_tracks.shape:
        raise ValueError(f"gt_artists has shape {gt_artists.shape}, gt_tracks {gt_tracks.shape}")
    if len(gt_tracks) and gt_tracks.min() < 0:
        raise ValueError("gt_tracks must be track ids >= 0")
    empty = np.flatnonzero(np.diff(gt_offsets) == 0)
    if len(empty):
        raise ValueError(f"row {int(empty[0])}: no held-out tracks; the metrics are undefined")


@dataclass(frozen=True)
class Hits:
    """Where each playlist's recommendations hit its held-out tracks: what every metric reads.

    Built once per `compute_metrics` call; each metric of `REGISTRY` is a function of it.
    """

    n: int  # playlists
    k: int  # recommendations per playlist
    g_size: IntArray  # (n,) |G|, distinct held-out tracks
    rows: IntArray  # (h,) row of each track hit, sorted by (row, position)
    pos: IntArray  # (h,) 0-based position of each track hit in R
    top_hits: FloatArray  # (n,) |G ∩ R[1..|G|]|
    credits: FloatArray  # (n,) distinct artists of G met at non-hit positions of R[1..|G|]


def _r_precision(h: Hits) -> FloatArray:
    return (h.top_hits + ARTIST_CREDIT * h.credits) / h.g_size


def _r_precision_track(h: Hits) -> FloatArray:
    return h.top_hits / h.g_size


def _ndcg(h: Hits) -> FloatArray:
    """Organisers' helper: DCG = Σ_r rel_r / log2(r + 1), IDCG over min(|G|, k) ideal hits."""
    disc = 1.0 / np.log2(np.arange(1, h.k + 1, dtype=np.float64) + 1.0)  # (k,)
    cum = np.concatenate([[0.0], np.cumsum(disc)])  # cum[j] = ideal DCG of j hits
    dcg = np.bincount(h.rows, weights=disc[h.pos], minlength=h.n)
    return dcg / cum[np.minimum(h.g_size, h.k)]


def _ndcg_rules(h: Hits) -> FloatArray:
    """Rules page: rel_1 + Σ_{r>=2} rel_r / log2 r, IDCG over |G ∩ R| ideal hits; 0 if none."""
    ranks = np.arange(1, h.k + 1, dtype=np.float64)  # (k,)
    disc = np.ones(h.k)
    disc[1:] = 1.0 / np.log2(ranks[1:])
    cum = np.concatenate([[0.0], np.cumsum(disc)])
    n_hits = np.bincount(h.rows, minlength=h.n)  # (n,) |G ∩ R|
    dcg = np.bincount(h.rows, weights=disc[h.pos], minlength=h.n)
    out = np.zeros(h.n)
    some = n_hits > 0
    out[some] = dcg[some] / cum[n_hits[some]]
    return out


def _clicks(h: Hits) -> FloatArray:
    out = np.full(h.n, float(NO_HIT_CLICKS))
    first = np.ones(len(h.rows), dtype=bool)
    first[1:] = h.rows[1:] != h.rows[:-1]
    out[h.rows[first]] = h.pos[first] // 10
    return out


@dataclass(frozen=True)
class Metric:
    """One metric: how it is computed, which way is better, and how reports show it.

    Adding a metric is one entry of `REGISTRY`: its name becomes a column of metrics.parquet and a
    key of leaderboard.json/.csv, and the leaderboard and the report pick it up from here.

    Attributes
    ----------
    name : column in metrics.parquet, key in the leaderboard files.
    label : how tables and plots name it ("R-precision (with artist credit)"): the variant in
        words, so that two R-precisions are never confused.
    definition : one sentence, the formula and its source (`metric_definitions`).
    higher_is_better : which way is better when ranking systems.
    compute : (n,) values, one per playlist, from the hits of a batch.
    ranked : one of the challenge leaderboard's metrics: Borda points, a column of the leaderboard
        tables, a part of the one-line summary of a model; the others are shown as variants.
    plotted : the report draws it per category (a plot and a table).
    missing : the score of a playlist absent from a submission (the worst possible).
    decimals : digits shown in tables.
    short : its name in one-line summaries ("R-prec").
    brief_spec : format spec of its value in those summaries.
    """

    name: str
    label: str
    higher_is_better: bool
    compute: Callable[[Hits], FloatArray]
    definition: str = ""
    ranked: bool = False
    plotted: bool = False
    missing: float = 0.0
    decimals: int = 4
    short: str = ""
    brief_spec: str = ".4f"

    def format(self, value: float) -> str:
        """The value as tables show it: `0.1234` (clicks `1.234`)."""
        return f"{value:.{self.decimals}f}"

    def brief(self, value: float) -> str:
        """`R-prec 0.1234`: the value as one-line summaries show it."""
        return f"{self.short or self.label} {value:{self.brief_spec}}"


# The order is the column order of metrics.parquet and of the leaderboard files.
REGISTRY: tuple[Metric, ...] = (
    Metric(
        "r_precision",
        "R-precision (with artist credit)",
        True,
        _r_precision,
        "(|G ∩ R[1..|G|]| + 0.25 · a) / |G|, a = distinct artists of G met at non-hit positions "
        "of R[1..|G|] (each once); the rules page and the winning team's evaluator; artists of "
        "every track the corpus knows",
        ranked=True,
        plotted=True,
        short="R-prec",
    ),
    Metric(
        "r_precision_track",
        "R-precision (official script)",
        True,
        _r_precision_track,
        "|G ∩ R[1..|G|]| / |G|, tracks only: the organisers' helper script metrics.py",
    ),
    Metric(
        "ndcg",
        "NDCG",
        True,
        _ndcg,
        "DCG / IDCG, DCG = Σ_r rel_r / log2(r + 1) over R, IDCG over min(|G|, k) hits: the "
        "organisers' helper script (the published leaderboard's scale)",
        ranked=True,
        plotted=True,
    ),
    Metric(
        "ndcg_rules",
        "NDCG (rules text)",
        True,
        _ndcg_rules,
        "DCG = rel_1 + Σ_{r≥2} rel_r / log2(r), IDCG over |G ∩ R| hits, 0 without a hit: the "
        "rules page text",
    ),
    Metric(
        "clicks",
        "clicks",
        False,
        _clicks,
        "floor((rank of the first hit - 1) / 10), 51 without a hit; lower is better",
        ranked=True,
        plotted=True,
        missing=float(NO_HIT_CLICKS),
        decimals=3,
        brief_spec="5.2f",
    ),
)

# Views of the registry, for callers that want names or one property.
METRICS: tuple[str, ...] = tuple(m.name for m in REGISTRY)
BY_NAME: dict[str, Metric] = {m.name: m for m in REGISTRY}
HIGHER_IS_BETTER: dict[str, bool] = {m.name: m.higher_is_better for m in REGISTRY}
MISSING_SCORE: dict[str, float] = {m.name: m.missing for m in REGISTRY}
RANKED: tuple[Metric, ...] = tuple(m for m in REGISTRY if m.ranked)  # Borda, leaderboard columns
PLOTTED: tuple[Metric, ...] = tuple(m for m in REGISTRY if m.plotted)
VARIANTS: tuple[Metric, ...] = tuple(m for m in REGISTRY if not m.ranked)


def metric_definitions() -> dict[str, dict[str, Any]]:
    """The `metric_definitions` block of the JSON outputs: per metric key, its label, formula and
    source, which way is better, whether it is ranked, and a missing playlist's score."""
    return {
        m.name: {
            "label": m.label,
            "definition": m.definition,
            "higher_is_better": m.higher_is_better,
            "ranked": m.ranked,
            "missing_score": m.missing,
        }
        for m in REGISTRY
    }


def compute_metrics(
    recs: ArrayLike,
    gt_offsets: ArrayLike,
    gt_tracks: ArrayLike,
    gt_artists: ArrayLike,
    rec_artists: ArrayLike,
) -> dict[str, FloatArray]:
    """Every metric of `REGISTRY` for each playlist.

    Parameters
    ----------
    recs : (n, k) int
        Recommended track ids, best first; -1 is an empty slot.
    gt_offsets : (n + 1,) int
        Row i's held-out tracks are ``gt_tracks[gt_offsets[i]:gt_offsets[i + 1]]`` (non-empty).
    gt_tracks : (m,) int
        Held-out track ids (duplicates allowed; G is their set).
    gt_artists : (m,) int
        Artist id of each held-out track.
    rec_artists : (n, k) int
        Artist id of each recommended track; -1 when unknown (never credited).

    Returns
    -------
    dict mapping each name of `METRICS` (in that order) to a float64 array of shape (n,).
    """
    hits = find_hits(recs, gt_offsets, gt_tracks, gt_artists, rec_artists)
    return {m.name: m.compute(hits) for m in REGISTRY}


def find_hits(
    recs: ArrayLike,
    gt_offsets: ArrayLike,
    gt_tracks: ArrayLike,
    gt_artists: ArrayLike,
    rec_artists: ArrayLike,
) -> Hits:
    """The hits of a batch (arguments as for `compute_metrics`), checked and keyed once."""
    recs_ = np.asarray(recs, dtype=np.int64)
    offsets = np.asarray(gt_offsets, dtype=np.int64)
    g_tracks = np.asarray(gt_tracks, dtype=np.int64)
    g_artists = np.asarray(gt_artists, dtype=np.int64)
    r_artists = np.asarray(rec_artists, dtype=np.int64)
    _check_inputs(recs_, offsets, g_tracks, g_artists, r_artists)
    n, k = recs_.shape

    # Ids shift by one so that an empty slot (-1) becomes 0, which no held-out key uses.
    t_base = int(max(g_tracks.max(initial=-1), recs_.max(initial=-1))) + 2
    a_base = int(max(g_artists.max(initial=-1), r_artists.max(initial=-1))) + 2
    if max(t_base, a_base) * (n + 1) * 2 >= np.iinfo(np.int64).max:
        raise ValueError(f"ids too large to key (max track id {t_base - 2}) for {n} rows")
    g_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))  # (m,)
    g_keys = _sorted_unique(g_rows * t_base + g_tracks + 1)  # (m_distinct,) G as (row, track)
    g_size = np.bincount(g_keys // t_base, minlength=n)  # (n,) |G|

    hit_rows, hit_pos = _track_hits(recs_, g_keys, t_base)  # (h,), (h,) sorted by (row, pos)
    hit = np.zeros((n, k), dtype=bool)
    hit[hit_rows, hit_pos] = True
    top_hits = np.bincount(hit_rows[hit_pos < g_size[hit_rows]], minlength=n).astype(np.float64)
    valid = g_artists >= 0
    ga_keys = _sorted_unique(g_rows[valid] * a_base + g_artists[valid] + 1)  # G's artists
    credits = _artist_credits(r_artists, hit, g_size, ga_keys, a_base)  # (n,)
    return Hits(n, k, g_size, hit_rows, hit_pos, top_hits, credits)


def _track_hits(
    recs: NDArray[np.int64], g_keys: IntArray, t_base: int
) -> tuple[IntArray, IntArray]:
    """Rows and 0-based positions of the track hits (first copy of a repeated track only)."""
    n, k = recs.shape
    pos = np.arange(k, dtype=np.int64)
    # Sort each row by (track, position): row-major order is then sorted by (row, track).
    enc = np.sort((recs + 1) * k + pos[None, :], axis=1)  # (n, k)
    rows = np.arange(n, dtype=np.int64)[:, None]
    queries = (rows * t_base + enc // k).ravel()  # (n*k,) sorted
    first = _first_matches(g_keys, queries)  # (n*k,)
    found = np.flatnonzero(first)
    order = np.sort(found // k * k + enc.ravel()[found] % k)  # (h,) as row * k + position
    return order // k, order % k


def _artist_credits(
    rec_artists: NDArray[np.int64],
    hit: NDArray[np.bool_],
    g_size: IntArray,
    ga_keys: IntArray,
    a_base: int,
) -> FloatArray:
    """Per row, the number of distinct artists of G met at non-hit positions of R[1..|G|]."""
    n, k = hit.shape
    w = int(min(k, g_size.max(initial=0)))
    if w == 0:
        return np.zeros(n)
    top = np.arange(w)[None, :] < g_size[:, None]  # (n, w) inside R[1..|G|]
    eligible = top & ~hit[:, :w] & (rec_artists[:, :w] >= 0)
    artists = np.where(eligible, rec_artists[:, :w] + 1, 0)  # (n, w); 0 matches no key
    rows = np.arange(n, dtype=np.int64)[:, None]
    queries = (rows * a_base + np.sort(artists, axis=1)).ravel()  # (n*w,) sorted
    credited = np.flatnonzero(_first_matches(ga_keys, queries))  # each (row, artist) once
    return np.bincount(credited // w, minlength=n).astype(np.float64)
