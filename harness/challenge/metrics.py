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
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

METRICS: tuple[str, ...] = ("r_precision", "r_precision_track", "ndcg", "ndcg_rules", "clicks")
# Which way is better, for ranking systems.
HIGHER_IS_BETTER: dict[str, bool] = {
    "r_precision": True,
    "r_precision_track": True,
    "ndcg": True,
    "ndcg_rules": True,
    "clicks": False,
}
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


def compute_metrics(
    recs: ArrayLike,
    gt_offsets: ArrayLike,
    gt_tracks: ArrayLike,
    gt_artists: ArrayLike,
    rec_artists: ArrayLike,
) -> dict[str, FloatArray]:
    """All five metrics for each playlist.

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
    dict mapping each name of `METRICS` to a float64 array of shape (n,).
    """
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

    ranks = np.arange(1, k + 1, dtype=np.float64)  # (k,)
    disc = 1.0 / np.log2(ranks + 1.0)  # organisers' helper
    disc_rules = np.ones(k)
    disc_rules[1:] = 1.0 / np.log2(ranks[1:])  # rules page: rel_1 + Σ_{r>=2} rel_r / log2 r
    cum = np.concatenate([[0.0], np.cumsum(disc)])  # cum[j] = ideal DCG of j hits
    cum_rules = np.concatenate([[0.0], np.cumsum(disc_rules)])

    n_hits = np.bincount(hit_rows, minlength=n)  # (n,) |G ∩ R|
    dcg = np.bincount(hit_rows, weights=disc[hit_pos], minlength=n)
    dcg_rules = np.bincount(hit_rows, weights=disc_rules[hit_pos], minlength=n)
    ndcg_rules = np.zeros(n)
    some = n_hits > 0
    ndcg_rules[some] = dcg_rules[some] / cum_rules[n_hits[some]]

    clicks = np.full(n, float(NO_HIT_CLICKS))
    first = np.ones(len(hit_rows), dtype=bool)
    first[1:] = hit_rows[1:] != hit_rows[:-1]
    clicks[hit_rows[first]] = hit_pos[first] // 10

    size = g_size.astype(np.float64)
    return {
        "r_precision": (top_hits + ARTIST_CREDIT * credits) / size,
        "r_precision_track": top_hits / size,
        "ndcg": dcg / cum[np.minimum(g_size, k)],
        "ndcg_rules": ndcg_rules,
        "clicks": clicks,
    }


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
