"""Metrics: hand-computed golden values, and the fast version against a slow obvious one."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from harness.challenge.metrics import (
    BY_NAME,
    HIGHER_IS_BETTER,
    METRICS,
    MISSING_SCORE,
    NO_HIT_CLICKS,
    PLOTTED,
    RANKED,
    REGISTRY,
    VARIANTS,
    Metric,
    compute_metrics,
    find_hits,
)

# Artist of track t in the hand-made cases: t // 10 (tracks 10..19 are by artist 1, ...).
ARTIST = 10


def _one(recs: Sequence[int], gt: Sequence[int], k: int | None = None) -> dict[str, float]:
    """Score one playlist; R is padded with -1 to k slots."""
    k = k or max(len(recs), 1)
    row = np.full((1, k), -1, dtype=np.int64)
    row[0, : len(recs)] = recs
    g = np.asarray(gt, dtype=np.int64)
    rec_artists = np.where(row >= 0, row // ARTIST, -1)
    out = compute_metrics(row, [0, len(g)], g, g // ARTIST, rec_artists)
    return {m: float(v[0]) for m, v in out.items()}


def _disc(r: int) -> float:
    """Organisers' helper discount of rank r (1-based)."""
    return 1 / math.log2(r + 1)


def _disc_rules(r: int) -> float:
    """Rules-page discount of rank r (1-based)."""
    return 1.0 if r == 1 else 1 / math.log2(r)


def _approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-15)


def test_metric_names() -> None:
    assert METRICS == ("r_precision", "r_precision_track", "ndcg", "ndcg_rules", "clicks")


def test_registry_views() -> None:
    assert METRICS == tuple(m.name for m in REGISTRY)
    assert HIGHER_IS_BETTER == {m: m != "clicks" for m in METRICS}
    assert MISSING_SCORE == {m: (NO_HIT_CLICKS if m == "clicks" else 0.0) for m in METRICS}
    assert [m.name for m in RANKED] == ["r_precision", "ndcg", "clicks"]  # the challenge's three
    assert [m.name for m in PLOTTED] == ["r_precision", "ndcg", "clicks"]
    assert [m.name for m in VARIANTS] == ["r_precision_track", "ndcg_rules"]
    assert all(BY_NAME[m.name] is m for m in REGISTRY)
    assert BY_NAME["clicks"].format(2.0) == "2.000" and BY_NAME["ndcg"].format(0.5) == "0.5000"
    briefs = " ".join(m.brief(2.5) for m in RANKED)
    assert briefs == "R-prec 2.5000 NDCG 2.5000 clicks  2.50"


def test_a_new_metric_is_one_entry() -> None:
    """An entry carries its function: computing it needs nothing but the batch's hits."""
    precision_at_2 = Metric(
        "precision_at_2",
        "P@2",
        True,
        lambda h: np.bincount(h.rows[h.pos < 2], minlength=h.n) / 2.0,
    )
    recs = np.array([[10, 31, 20], [40, 41, 42]])
    hits = find_hits(recs, [0, 2, 3], [10, 20, 42], [1, 2, 4], recs // ARTIST)
    np.testing.assert_array_equal(precision_at_2.compute(hits), [0.5, 0.0])
    np.testing.assert_array_equal(BY_NAME["clicks"].compute(hits), [0.0, 0.0])


def test_hit_at_rank_one_only() -> None:
    # G = {10, 20}; R = [10, 31, 32]: one hit at rank 1; artist 3 is not in G.
    m = _one([10, 31, 32], [10, 20])
    assert m["r_precision_track"] == 1 / 2
    assert m["r_precision"] == 1 / 2
    assert m["ndcg"] == _approx(1 / (1 + _disc(2)))
    assert m["ndcg_rules"] == 1.0  # one hit, at rank 1: DCG = IDCG = 1
    assert m["clicks"] == 0


def test_no_hit() -> None:
    m = _one([30, 31, 32, 33], [10, 20])
    assert m == {
        "r_precision": 0.0,
        "r_precision_track": 0.0,
        "ndcg": 0.0,
        "ndcg_rules": 0.0,
        "clicks": NO_HIT_CLICKS,
    }


def test_all_hits() -> None:
    m = _one([12, 10, 11, 40], [10, 11, 12])
    assert m["r_precision"] == m["r_precision_track"] == 1.0
    assert m["ndcg"] == _approx(1.0)
    assert m["ndcg_rules"] == _approx(1.0)
    assert m["clicks"] == 0


def test_duplicates_in_ground_truth_count_once() -> None:
    # G = {10, 20} although 10 is held out twice: |G| = 2, so R[1..2] = [10, 20] is perfect.
    m = _one([10, 20, 30], [10, 10, 20])
    assert m["r_precision_track"] == 1.0
    assert m["r_precision"] == 1.0
    assert m["ndcg"] == _approx(1.0)


def test_artist_partial_credit_once_per_artist() -> None:
    # G = {10, 20, 30, 40} (artists 1..4). R[1..4] = [11, 12, 20, 21]: 11 credits artist 1,
    # 12 is artist 1 again (no credit), 20 a hit, 21 credits artist 2 (a hit does not use up
    # its artist's credit). Position 5 (track 31, artist 3) is beyond |G| and earns nothing.
    m = _one([11, 12, 20, 21, 31], [10, 20, 30, 40])
    assert m["r_precision_track"] == 1 / 4
    assert m["r_precision"] == (1 + 0.25 + 0.25) / 4
    assert m["clicks"] == 0  # first hit at rank 3


def test_artist_credit_never_exceeds_one() -> None:
    # Every position is a hit or credited: the maximum 1 is reached only by track hits.
    m = _one([10, 21], [10, 20])
    assert m["r_precision"] == (1 + 0.25) / 2
    m = _one([10, 20], [10, 20])
    assert m["r_precision"] == 1.0


def test_unknown_artist_is_never_credited() -> None:
    row = np.array([[11, 20]])
    out = compute_metrics(row, [0, 2], [10, 20], [1, 2], [[-1, 2]])
    assert out["r_precision"][0] == 1 / 2


def test_ndcg_variants_hand_computed() -> None:
    # G = {10, 20, 30}; hits at ranks 2 and 4 of 5.
    m = _one([40, 10, 41, 20, 42], [10, 20, 30])
    ideal = _disc(1) + _disc(2) + _disc(3)
    assert m["ndcg"] == _approx((_disc(2) + _disc(4)) / ideal)
    # rules page: IDCG over |G ∩ R| = 2 ideal hits.
    assert m["ndcg_rules"] == _approx((_disc_rules(2) + _disc_rules(4)) / (1 + _disc_rules(2)))
    assert m["r_precision_track"] == 1 / 3  # only 10 within R[1..3]


@pytest.mark.parametrize(
    ("rank", "clicks"), [(1, 0), (10, 0), (11, 1), (20, 1), (21, 2), (500, 49)]
)
def test_clicks(rank: int, clicks: int) -> None:
    recs = [1000 + i for i in range(500)]
    recs[rank - 1] = 10
    assert _one(recs, [10, 20])["clicks"] == clicks


def test_r_shorter_than_g() -> None:
    # k = 2 < |G| = 4: R[1..|G|] is all of R; the denominator stays |G|; IDCG over min(|G|, k).
    m = _one([10, 20], [10, 20, 30, 40], k=2)
    assert m["r_precision_track"] == 2 / 4
    assert m["ndcg"] == _approx(1.0)
    assert m["ndcg_rules"] == _approx(1.0)


def test_missing_playlist_scores_worst() -> None:
    m = _one([], [10, 20], k=500)
    assert m["r_precision"] == 0.0
    assert m["ndcg"] == 0.0
    assert m["ndcg_rules"] == 0.0
    assert m["clicks"] == NO_HIT_CLICKS == 51


def test_repeated_recommendation_is_a_hit_once() -> None:
    m = _one([10, 10, 20], [10, 20])
    assert m["r_precision_track"] == 1 / 2  # R[1..2] holds only one distinct hit
    assert m["ndcg"] == _approx((_disc(1) + _disc(3)) / (_disc(1) + _disc(2)))


def test_empty_slot_in_the_middle_is_not_a_hit() -> None:
    m = _one([-1, 10], [10, 20])
    assert m["r_precision_track"] == 1 / 2
    assert m["clicks"] == 0


def test_rows_are_independent() -> None:
    # Track 10 is held out for row 1 only; recommending it in row 0 is no hit.
    recs = np.array([[10, 30], [10, 30]])
    out = compute_metrics(recs, [0, 1, 2], [20, 10], [2, 1], recs // ARTIST)
    assert out["r_precision_track"].tolist() == [0.0, 1.0]
    assert out["clicks"].tolist() == [51.0, 0.0]


def test_bad_inputs_are_rejected() -> None:
    recs = np.array([[1, 2]])
    with pytest.raises(ValueError, match="no held-out tracks"):
        compute_metrics(recs, [0, 0], [], [], recs)
    with pytest.raises(ValueError, match="shape"):
        compute_metrics(recs, [0, 1, 1], [1], [1], recs)
    with pytest.raises(ValueError, match="rec_artists"):
        compute_metrics(recs, [0, 1], [1], [1], recs[:, :1])
    with pytest.raises(ValueError, match="2-D"):
        compute_metrics(np.array([1, 2]), [0, 1], [1], [1], np.array([1, 2]))


# ---- slow, obviously-correct reference ----------------------------------------------------


def _reference(
    recs: list[int], rec_artists: list[int], gt: list[int], gt_artists: list[int]
) -> dict[str, float]:
    """Line-by-line transcription of the definitions (docs/metrics.md)."""
    g = set(gt)
    g_artists = set(gt_artists)
    k = len(recs)
    seen: set[int] = set()
    rel = []  # rel[i] = 1 when rank i+1 holds the first copy of a held-out track
    for t in recs:
        rel.append(1 if (t >= 0 and t in g and t not in seen) else 0)
        seen.add(t)
    top = min(len(g), k)
    hits = sum(rel[:top])
    credited: set[int] = set()
    for i in range(top):
        a = rec_artists[i]
        if not rel[i] and a >= 0 and a in g_artists and a not in credited:
            credited.add(a)
    n_hit = sum(rel)
    dcg = sum(rel[i] * _disc(i + 1) for i in range(k))
    idcg = sum(_disc(i + 1) for i in range(min(len(g), k)))
    dcg_rules = sum(rel[i] * _disc_rules(i + 1) for i in range(k))
    idcg_rules = sum(_disc_rules(i + 1) for i in range(n_hit))
    first = next((i for i in range(k) if rel[i]), None)
    return {
        "r_precision": (hits + 0.25 * len(credited)) / len(g),
        "r_precision_track": hits / len(g),
        "ndcg": dcg / idcg,
        "ndcg_rules": dcg_rules / idcg_rules if n_hit else 0.0,
        "clicks": float(first // 10) if first is not None else 51.0,
    }


def test_reference_reproduces_a_golden_value() -> None:
    recs = [11, 12, 20, 21, 31]
    ref = _reference(recs, [t // 10 for t in recs], [10, 20, 30, 40], [1, 2, 3, 4])
    assert ref["r_precision"] == (1 + 0.25 + 0.25) / 4
    assert ref["clicks"] == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_fast_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, n_tracks, n_artists = 80, 40, 150, 25
    track_artist = rng.integers(0, n_artists, n_tracks)
    sizes = rng.integers(1, 60, n)  # some |G| > k
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    gt = rng.integers(0, n_tracks, offsets[-1])  # duplicates on purpose
    recs = np.stack([rng.permutation(n_tracks)[:k] for _ in range(n)])
    recs[rng.random((n, k)) < 0.05] = -1  # empty slots
    recs[rng.random((n, k)) < 0.05] = 7  # repeats
    recs[0] = -1  # a missing playlist
    rec_artists = np.where(recs >= 0, track_artist[np.maximum(recs, 0)], -1)
    rec_artists[rng.random((n, k)) < 0.05] = -1  # unknown artists
    fast = compute_metrics(recs, offsets, gt, track_artist[gt], rec_artists)
    for i in range(n):
        g = gt[offsets[i] : offsets[i + 1]]
        ref = _reference(
            recs[i].tolist(), rec_artists[i].tolist(), g.tolist(), track_artist[g].tolist()
        )
        for name in METRICS:
            assert fast[name][i] == pytest.approx(ref[name], rel=1e-12, abs=1e-12), (i, name)
