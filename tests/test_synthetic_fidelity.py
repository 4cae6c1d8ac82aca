"""Tests of harness/data/synthetic/fidelity.py on hand-made arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.synthetic.fidelity import (
    growth_fit,
    popularity_figures,
    title_classes,
    title_overlap,
    top_counts,
)


def test_popularity_figures_count_exactly() -> None:
    occ = np.array([0, 100, 1, 1, 50, 2] + [1] * 194)  # 199 seen tracks: the top 1% is 2
    pl = np.array([0, 60, 1, 1, 49, 2] + [1] * 194)
    fig = popularity_figures(occ, pl)
    assert fig["unique_tracks"] == 199
    assert fig["top1pct_share"] == pytest.approx(round(150 / 348, 4))
    assert fig["tracks_in_50_playlists"] == 1
    assert fig["top20_occurrences"][:3] == [100, 50, 2]
    assert fig["tracks_once_share"] == pytest.approx(round(196 / 199, 4))


def test_top_counts() -> None:
    assert top_counts(np.array([3, 9, 1, 7]), 2) == [9, 7]
    assert top_counts(np.array([3, 9]), 5) == [9, 3]


def test_title_classes_split_generic_and_specific() -> None:
    titles = [f"t{i}" for i in range(120) for _ in range(130 - i)]  # t0 most frequent
    classes = title_classes(titles, n_generic=3)
    assert classes["generic"] == ["t0", "t1", "t2"]
    assert classes["specific"][0] == "t100" and "t99" not in classes["specific"]


def test_title_overlap_sees_shared_tracks() -> None:
    """Same-title playlists hold the same 5 tracks; every playlist has 5 tracks of its own."""
    rng = np.random.default_rng(0)
    n, shared = 400, 5
    titles = [f"title {i % 130}" for i in range(n)]
    tracks = []
    for i in range(n):
        common = (i % 130) * shared + np.arange(shared)
        own = 10_000 + i * 5 + np.arange(5)
        tracks.append(rng.permutation(np.concatenate([common, own])))
    offsets = np.arange(n + 1) * 10
    fig = title_overlap(offsets, np.concatenate(tracks), titles, n_pairs=200)
    for kind in ("generic", "specific"):
        assert fig[kind]["shared_tracks_same_title"] == 5.0
        assert fig[kind]["jaccard_same_title"] == pytest.approx(5 / 15, abs=1e-4)
        assert fig[kind]["shared_tracks_random"] < 0.2


def test_growth_fit_recovers_a_power_law() -> None:
    rows = [{"playlists": n, "v": int(round(30 * n**0.5))} for n in (1000, 4000, 16000)]
    fit = growth_fit(rows, "v", 1_000_000)
    assert fit["exponent"] == pytest.approx(0.5, abs=0.01)
    assert fit["two_point"] == pytest.approx(30_000, rel=0.01)
    assert fit["loglog_quadratic"] == pytest.approx(30_000, rel=0.01)
