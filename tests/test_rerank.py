"""The reranker (models/rerank.py) and its features (models/rerank_features.py): every feature on
a hand-made fixture with answers worked out by hand, its parameters, its need for a validation
split, and determinism under a seed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from blocked_reference import numpy_cooccurrence
from test_runner import write_mini_mpd
from test_validation_run import hide_during

from harness.atomic import read_json
from harness.challenge.metrics import compute_metrics
from harness.errors import ParameterError, UsageError
from harness.run.contract import (
    make_queries,
    make_train,
    mixed_queries,
    mixed_train,
    mixed_validation,
    tiny_params,
)
from models import get_model
from models.base import TrainSet
from models.knn import sparse_from_csr
from models.rerank import Labels
from models.rerank_features import (
    TrackStats,
    artist_labels,
    cooccurrence,
    gather,
    labels,
    model_features,
    pair_features,
    summary_features,
    union_candidates,
)

NAN = float("nan")


def fixture_train() -> TrainSet:
    """Five playlists over ten tracks, with artists and albums chosen so every share differs."""
    train = make_train(
        [[0, 1, 2], [0, 3, 4], [1, 3, 5], [2, 3, 6, 0], [4, 5, 7]],
        ["a", "a", "b", "b", "c"],
        10,
    )
    artist = np.array([0, 0, 1, 1, 0, 1, 2, 2, 2, 2], dtype=np.int32)
    album = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 3], dtype=np.int32)
    return TrainSet(
        train.offsets, train.track_ids, train.titles, 10, track_artist=artist, track_album=album
    )


# two queries: seeds [0, 1] titled "a"; seed [3] without a title
QUERIES = make_queries([[0, 1], [3]], ["a", None], [3, 4])
# two base models' top 3 (M = 3): A with scores, B without; B proposes seed 0 (dropped)
LIST_A = np.array([[3, 2, 4], [0, 5, -1]], dtype=np.int32)
SCORES_A = np.array([[3.0, 2.0, 1.0], [4.0, 2.0, NAN]], dtype=np.float32)
LIST_B = np.array([[2, 5, 0], [6, -1, -1]], dtype=np.int32)


def assert_column(got: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_allclose(got, np.array(expected, dtype=np.float64), rtol=1e-6)


def test_candidates_are_the_union_without_seeds() -> None:
    cands = union_candidates([LIST_A, LIST_B], QUERIES, 10)
    assert cands.query.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert cands.track.tolist() == [2, 3, 4, 5, 0, 5, 6]
    assert cands.offsets.tolist() == [0, 4, 7]


def test_rank_and_score_features() -> None:
    cands = union_candidates([LIST_A, LIST_B], QUERIES, 10)
    cols = model_features("a", cands, LIST_A, SCORES_A) | model_features("b", cands, LIST_B, None)
    assert set(cols) == {"a_rank", "a_score", "a_score_norm", "b_rank"}
    assert_column(cols["a_rank"], [2, 1, 3, 4, 1, 2, 4])  # M + 1 = 4: not proposed
    assert_column(cols["b_rank"], [1, 4, 4, 2, 4, 4, 1])
    assert_column(cols["a_score"], [2, 3, 1, NAN, 4, 2, NAN])
    assert_column(cols["a_score_norm"], [2 / 3, 1, 1 / 3, NAN, 1, 0.5, NAN])
    summary = summary_features(cols, ["a", "b"], 3)
    assert_column(summary["n_models"], [2, 1, 1, 1, 1, 1, 1])
    assert_column(summary["best_rank"], [1, 1, 3, 2, 1, 2, 1])


def test_labels_mark_held_out_candidates() -> None:
    cands = union_candidates([LIST_A, LIST_B], QUERIES, 10)
    held = labels(cands, np.array([0, 2, 3]), np.array([3, 9, 6], dtype=np.int32))
    assert held.tolist() == [0, 1, 0, 0, 0, 0, 1]


def test_artist_labels_and_graded_labels() -> None:
    """Held out: query 0 tracks 3 and 9 (artists 1, 2), query 1 track 6 (artist 2); the
    candidates' artists are 1, 1, 0, 1 | 0, 1, 2."""
    cands = union_candidates([LIST_A, LIST_B], QUERIES, 10)
    ho, ids = np.array([0, 2, 3]), np.array([3, 9, 6], dtype=np.int32)
    art = artist_labels(cands, ho, ids, fixture_train().track_artist)
    assert art.tolist() == [1, 1, 0, 1, 0, 0, 1]
    y = Labels(labels(cands, ho, ids), art, cands.track)
    assert y.graded(0.0).tolist() == [0, 1, 0, 0, 0, 0, 1]  # track hits only
    assert y.graded(0.25).tolist() == [1, 2, 0, 1, 0, 0, 2]  # artist-only matches grade 1


def test_pair_features_by_hand() -> None:
    cands = union_candidates([LIST_A, LIST_B], QUERIES, 10)
    cols = pair_features(TrackStats(fixture_train()), QUERIES, cands)
    # playlists per track: 0: 3, 2: 2, 3: 3, 4: 2, 5: 2, 6: 1
    assert_column(cols["log_pop"], np.log1p([2, 3, 2, 2, 3, 2, 1]).tolist())
    assert_column(cols["n_seeds"], [2, 2, 2, 2, 1, 1, 1])
    # occurrences by artist: 0 (tracks 0, 1, 4) 3 + 2 + 2; 1 (2, 3, 5) 2 + 3 + 2; 2 (6, 7) 1 + 1
    assert_column(cols["artist_log_pop"], np.log1p([7, 7, 7, 7, 7, 7, 2]).tolist())
    # seeds' mean log popularity: query 0 (log 4 + log 3) / 2, query 1 log 4
    seed_pop = [(np.log(4) + np.log(3)) / 2] * 4 + [np.log(4)] * 3
    assert_column(cols["pop_vs_seeds"], (np.log1p([2, 3, 2, 2, 3, 2, 1]) - seed_pop).tolist())
    assert_column(cols["seed_artists"], [0.5] * 4 + [1] * 3)  # seeds 0, 1: one artist
    assert_column(cols["has_title"], [1, 1, 1, 1, 0, 0, 0])
    # seeds 0, 1 are by artist 0 (so is track 4); seed 3 by artist 1 (so is track 5)
    assert_column(cols["artist_share"], [0, 0, 1, 0, 0, 1, 0])
    # seeds 0, 1 are on album 0 (so is track 2); seed 3 on album 1 (no candidate)
    assert_column(cols["album_share"], [1, 0, 0, 0, 0, 0, 0])
    # title "a": playlists 0 ([0, 1, 2]) and 1 ([0, 3, 4]); the second query has no title
    assert_column(cols["title_count"], [1, 1, 1, 0, NAN, NAN, NAN])
    assert_column(cols["title_share"], [0.5, 0.5, 0.5, 0, NAN, NAN, NAN])
    assert_column(cols["title_log_n"], [np.log1p(2)] * 4 + [NAN] * 3)
    # seeds per playlist, query 0: p0 2, p1 1, p2 1, p3 1, p4 0; query 1: p1, p2, p3 1 each
    # track 2 in p0, p3: (2 + 1) / 2 seeds; track 3 in p1, p2, p3: 3 / 2; track 4 in p1, p4:
    # 1 / 2; track 5 in p2, p4: 1 / 2; query 1: track 0 in p0, p1, p3: 2; 5: 1; 6 in p3: 1
    assert_column(cols["cooc_mean"], [1.5, 1.5, 0.5, 0.5, 2, 1, 1])
    # share of the track's playlists holding a seed
    assert_column(cols["cooc_frac"], [1, 1, 0.5, 0.5, 2 / 3, 0.5, 1])


def test_cooccurrence_kernel_equals_the_numpy_path() -> None:
    """The compiled co-occurrence features equal the gathered-rows numpy path's bit for bit, on
    random playlists where many candidates share playlists with several seeds."""
    rng = np.random.default_rng(5)
    lists = [[int(t) for t in rng.choice(40, size=rng.integers(1, 12))] for _ in range(300)]
    stats = TrackStats(make_train(lists, ["x"] * 300, 40))
    seeds = [[int(t) for t in rng.choice(40, size=rng.integers(1, 6))] for _ in range(30)]
    queries = make_queries(seeds, [None] * 30, [5] * 30)
    lists_a = np.stack([rng.permutation(40)[:15] for _ in range(30)]).astype(np.int32)
    cands = union_candidates([lists_a], queries, 40)
    total, anyseed = cooccurrence(stats, queries, cands)
    Q = sparse_from_csr(queries.seed_offsets, queries.seed_ids, 40)
    want = numpy_cooccurrence(stats.BT, Q, cands.track, cands.query)
    assert total.any() and (anyseed < total).any()  # seeds counted more than once somewhere
    np.testing.assert_array_equal(total, want[0])
    np.testing.assert_array_equal(anyseed, want[1])


def test_gather_equals_scipy_indexing() -> None:
    """The binary-search lookup returns scipy's m[rows, cols] exactly: present and absent
    entries, empty rows, first and last columns, and a matrix with repeated entries (summed)."""
    rng = np.random.default_rng(7)
    m = sp.random(30, 50, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    m[3, :] = 0
    m.eliminate_zeros()
    rows = rng.integers(0, 30, 2000)
    cols = np.concatenate([rng.integers(0, 50, 1998), [0, 49]])
    want = np.asarray(m[rows, cols], dtype=np.float32).ravel()
    assert (want > 0).any() and (want == 0).any()
    np.testing.assert_array_equal(gather(m, rows, cols), want)
    i, j = rng.integers(0, 30, 400), rng.integers(0, 50, 400)  # repeats, unsorted rows
    dup = sp.csr_matrix(
        (
            np.ones(400, np.float32),
            j.astype(np.int32),
            np.r_[0, np.cumsum(np.bincount(i, minlength=30))],
        ),
        shape=(30, 50),
    )
    assert not dup.has_canonical_format
    np.testing.assert_array_equal(gather(dup, rows, cols), dup.toarray()[rows, cols])


def test_title_features_of_an_unknown_title_are_zero() -> None:
    queries = make_queries([[0]], ["no such title"], [3])
    cands = union_candidates([np.array([[2, 3]], dtype=np.int32)], queries, 10)
    cols = pair_features(TrackStats(fixture_train()), queries, cands)
    assert_column(cols["title_count"], [0, 0])
    assert_column(cols["title_share"], [0, 0])
    assert_column(cols["has_title"], [1, 1])


def test_title_words_count_for_titles_never_seen_whole() -> None:
    train = make_train([[0, 1], [1, 2], [2, 3], [3, 4]], ["good vibes", "vibes", "good", "sad"], 10)
    queries = make_queries([[], [], [], []], ["good vibes ✨", "sad", None, "zzz"], [1, 1, 1, 1])
    ranked = np.tile(np.arange(5, dtype=np.int32), (4, 1))
    cands = union_candidates([ranked], queries, 10)
    cols = pair_features(TrackStats(train), queries, cands)
    # "good": playlists 0, 2; "vibes": 0, 1; "✨" unknown: the mean of the two words' shares
    assert_column(cols["title_word_share"][:5], [0.5, 0.75, 0.5, 0.25, 0])
    assert_column(cols["title_word_share"][5:10], [0, 0, 0, 1, 1])
    assert np.isnan(cols["title_word_share"][10:15]).all()  # no title
    assert_column(cols["title_word_share"][15:], [0] * 5)  # no known word
    assert_column(cols["title_count"][:5], [0] * 5)  # the whole title is unknown


def test_seedless_queries_have_no_seed_features() -> None:
    queries = make_queries([[]], ["b"], [1])
    cands = union_candidates([np.array([[3, 0]], dtype=np.int32)], queries, 10)
    cols = pair_features(TrackStats(fixture_train()), queries, cands)
    for name in ("artist_share", "cooc_mean", "pop_vs_seeds", "seed_artists"):
        assert np.isnan(cols[name]).all(), name
    assert_column(cols["title_count"], [1, 2])  # "b": [1, 3, 5] and [2, 3, 6, 0]


# ---------------------------------------------------------------------------- the model


def small_rerank(**params: object) -> object:
    return get_model("rerank", **{**tiny_params("rerank"), **params})


def val_train() -> TrainSet:
    """The contract's playlists with its ten-playlist validation split."""
    train = mixed_train()
    return replace(train, validation=mixed_validation(train))


def test_rerank_needs_a_validation_split() -> None:
    model = small_rerank()
    with pytest.raises(UsageError, match="validation split"):
        model.fit(replace(mixed_train(), validation=None))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"base_models": "knn,no_such"}, "no_such"),
        ({"base_models": "knn,rerank"}, "rerank"),
        ({"base_models": "knn,knn"}, "repeats"),
        ({"base_models": " , "}, "no model"),
        ({"stop_fraction": 1.0}, "stop_fraction"),
        ({"objective": "regression"}, "objective"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"artist_gain": 1.0}, "artist_gain"),
        ({"artist_gain": -0.1}, "artist_gain"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        get_model("rerank", **params).check_params()


def test_same_seed_same_model_other_seed_other_stop_part() -> None:
    a = small_rerank(seed=3).fit(val_train())
    b = small_rerank(seed=3).fit(val_train())
    assert a.booster_.model_to_string() == b.booster_.model_to_string()  # type: ignore[attr-defined]
    assert np.array_equal(a.recommend(mixed_queries(), 10), b.recommend(mixed_queries(), 10))  # type: ignore[attr-defined]
    c = small_rerank(seed=4).fit(val_train())
    assert c.booster_.model_to_string() != a.booster_.model_to_string()  # type: ignore[attr-defined]


def test_fit_info_and_importances() -> None:
    model = small_rerank().fit(val_train())
    info = model.fit_info_  # type: ignore[attr-defined]
    assert info["validation_queries"] == 10 and info["stop_queries"] == 2
    assert set(info["stop_rprec_tracks"]) == {
        "rerank",
        "knn",
        "item_knn",
        "title",
        "popular",
        "als",
        "rp3beta",
    }
    lists = model.stop_lists_  # type: ignore[attr-defined]
    assert set(lists) == set(info["stop_rprec_tracks"])
    val = val_train().validation
    gt = [val.holdouts(int(i)) for i in model.stop_rows_]  # type: ignore[attr-defined]
    off = np.concatenate([[0], np.cumsum([len(g) for g in gt])])
    ids = np.concatenate(gt)
    for name, recs in lists.items():  # the kept lists give the reported scores
        m = compute_metrics(recs, off, ids, ids, recs)  # artists = tracks: no extra credit
        assert m["r_precision_track"].mean() == pytest.approx(
            info["stop_rprec_tracks"][name], abs=1e-5
        )
    assert set(info["seconds"]) == {"bases_s", "features_s", "ranker_s", "refit_s"}
    table = model.artifacts()["feature_importance.parquet"]  # type: ignore[attr-defined]
    assert sorted(table["feature"]) == sorted(model.feature_names_)  # type: ignore[attr-defined]
    assert (np.diff(table["gain"]) <= 0).all() and table["gain"].sum() > 0


def test_artist_gain_trains_another_ranker_deterministically() -> None:
    a = small_rerank(artist_gain=0.25).fit(val_train())
    b = small_rerank(artist_gain=0.25).fit(val_train())
    plain = small_rerank().fit(val_train())
    assert a.booster_.model_to_string() == b.booster_.model_to_string()  # type: ignore[attr-defined]
    assert a.booster_.model_to_string() != plain.booster_.model_to_string()  # type: ignore[attr-defined]


def test_refit_false_keeps_the_base_models_of_the_validation_fit() -> None:
    train = val_train()
    kept = small_rerank(refit=False).fit(train)
    refit = small_rerank(refit=True).fit(train)
    assert kept.stats_.n_playlists == train.n_playlists - 10  # type: ignore[attr-defined]
    assert refit.stats_.n_playlists == train.n_playlists  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- the test split


def test_rerank_never_reads_the_test_ground_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through evaluate: rerank fits (validation split loaded, base models, LightGBM) and
    answers the test queries while the test split's ground_truth.json is gone, and its
    recommendations equal those of a run that could have read it."""
    import harness
    import harness.run.evaluate as run_evaluate
    import harness.run.sources as sources
    from harness.cli import main
    from harness.run.rundir import read_recs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tmp_path / "cache"))
    mpd = write_mini_mpd(tmp_path / "mini")
    assert main(["split", str(mpd), "--out", "sp", "--validation", "4"]) == 0
    params = {"rerank": tiny_params("rerank")}
    harness.evaluate(data=mpd, models=["rerank"], params=params, split="sp", out="plain")
    gt = tmp_path / "sp" / "ground_truth.json"
    with monkeypatch.context() as m:
        for module, name in (
            (sources, "ensure_validation"),
            (run_evaluate, "fit_with_progress"),
            (run_evaluate, "recommend_all"),
        ):
            m.setattr(module, name, hide_during(gt, getattr(module, name)))
        harness.evaluate(data=mpd, models=["rerank"], params=params, split="sp", out="hidden")
    _, plain, _ = read_recs(tmp_path / "plain" / "rerank" / "recs.npz")
    _, hidden, _ = read_recs(tmp_path / "hidden" / "rerank" / "recs.npz")
    assert np.array_equal(plain, hidden)
    manifest = read_json(tmp_path / "hidden" / "rerank" / "manifest.json")
    assert manifest["fit_info"]["validation_queries"] == 40  # 4 per category, from training
    assert manifest["files"]["artifacts"] == [
        "feature_importance.parquet",
        "validation_scores.json",
    ]
